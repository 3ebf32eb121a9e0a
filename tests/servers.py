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
def running_uvicorn(
    factory: str, env: dict[str, str], ready: Callable[[str], bool], timeout_s: float = 120
) -> Iterator[str]:
    """Start ``uvicorn --factory <factory>``, wait until ``ready(base_url)``, yield the base URL, stop it."""
    with uvicorn_process(factory, env, ready, timeout_s) as (base, _process):
        yield base


@contextmanager
def uvicorn_process(
    factory: str,
    env: dict[str, str],
    ready: Callable[[str], bool],
    timeout_s: float = 120,
    log: Path | None = None,
) -> Iterator[tuple[str, subprocess.Popen]]:
    """As :func:`running_uvicorn`, also yielding the process (for tests that kill it).

    ``log``: a file for the server's output, for long runs (an unread pipe would fill and block it).
    """
    port = free_port()
    output = log.open("ab") if log else subprocess.PIPE
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            factory,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        stdout=output,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if process.poll() is not None:
                said = log.read_bytes() if log else process.stdout.read()
                pytest.fail(f"uvicorn exited: {said.decode(errors='replace')[-3000:]}")
            try:
                if ready(base):
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                said = log.read_bytes().decode(errors="replace")[-3000:] if log else ""
                pytest.fail(f"uvicorn did not become ready within {timeout_s:.0f} s\n{said}")
            time.sleep(0.3)
        yield base, process
    finally:
        process.terminate()
        process.wait(timeout=30)
        if log:
            output.close()
