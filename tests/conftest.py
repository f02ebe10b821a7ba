"""Shared fixture: one real Revive web-app server for the app and browser tests."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no network calls from Gradio in tests


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def app_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of ``app.demo`` launched on a free port (the app's own limits), closed after the session."""
    import app

    app.OUTPUT_ROOT = tmp_path_factory.mktemp("app-outputs")
    _, url, _ = app.serve(host="127.0.0.1", port=free_port(), prevent_thread_lock=True)
    try:
        yield url
    finally:
        app.demo.close()
