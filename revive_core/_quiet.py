"""Import Keras (and TensorFlow, its default backend) without the C++ start-up lines they print on stderr.

TensorFlow 2.21 writes oneDNN/CUDA notices from C++ at import, whatever TF_CPP_MIN_LOG_LEVEL
says; they would break the command line's one-line-per-failure output. Only the import is
silenced (file descriptor 2 is restored right after); Python exceptions still propagate.
With ``KERAS_BACKEND=jax`` (training on a GPU machine that has no TensorFlow) only Keras is imported.
"""

from __future__ import annotations

import os
import sys


def keras_backend() -> str:
    """The Keras backend this process uses or will use: ``$KERAS_BACKEND``, else tensorflow."""
    if "keras" in sys.modules:
        return sys.modules["keras"].backend.backend()
    return os.environ.get("KERAS_BACKEND", "tensorflow")


def import_backend_quietly() -> None:
    """Import keras (and tensorflow, when it is the backend) once with file descriptor 2 pointed at /dev/null."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" in sys.modules or ("keras" in sys.modules and keras_backend() != "tensorflow"):
        return
    try:
        descriptor = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # no real stderr (e.g. some notebooks)
        import keras  # noqa: F401
        return
    sys.stderr.flush()
    saved = os.dup(descriptor)
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, descriptor)
        if keras_backend() == "tensorflow":
            import tensorflow  # noqa: F401
        import keras  # noqa: F401
    finally:
        os.dup2(saved, descriptor)
        os.close(saved)
        os.close(null)
