"""A real uvicorn process on a free loopback port, for tests that need HTTP over a socket."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running_uvicorn(factory: str, env: dict[str, str], ready: Callable[[str], bool],
                    timeout_s: float = 120) -> Iterator[str]:
    """Start ``uvicorn --factory <factory>``, wait until ``ready(base_url)``, yield the base URL, stop it."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", factory, "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "warning"], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if process.poll() is not None:
                pytest.fail(f"uvicorn exited: {process.stdout.read().decode(errors='replace')}")
            try:
                if ready(base):
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"uvicorn did not become ready within {timeout_s:.0f} s")
            time.sleep(0.3)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)
