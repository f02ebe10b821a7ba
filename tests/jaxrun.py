"""Running code on the Keras JAX backend with TensorFlow hidden, as on the GPU machines."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

# JAX: installed, or in the folder $REVIVE_JAX_SITE (.ci/run puts it there, out of this process's way).
JAX_SITE = os.environ.get("REVIVE_JAX_SITE", "")
JAX_MISSING = importlib.util.find_spec("jax") is None and not (JAX_SITE and (Path(JAX_SITE) / "jax").is_dir())


def run_on_jax(arguments: list[str], cwd: Path, blocker: Path) -> None:
    """``python ARGUMENTS`` in a fresh process on the Keras JAX backend where TensorFlow cannot be
    imported, as on the GPU machines: ``blocker`` gets a ``sitecustomize.py`` that hides it."""
    blocker.mkdir(exist_ok=True)
    (blocker / "sitecustomize.py").write_text("import sys\nsys.modules['tensorflow'] = None  # import fails, find_spec is None\n")
    path = os.pathsep.join(item for item in (str(blocker), JAX_SITE, os.environ.get("PYTHONPATH", "")) if item)
    environment = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu", "PYTHONPATH": path}
    completed = subprocess.run([sys.executable, *arguments], cwd=cwd, env=environment, capture_output=True, text=True,
                               timeout=600)
    assert completed.returncode == 0, completed.stderr[-3000:]
