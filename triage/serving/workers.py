"""``triage serve --workers N``: N uvicorn servers, each accepting on its own ``SO_REUSEPORT`` socket.

uvicorn's own ``--workers`` shares one listening socket, and the worker that wakes first accepts
every connection waiting (asyncio accepts in a loop): a client's keep-alive connections, opened
together, all land on one worker while the others idle (bench/bench_service.py at concurrency 8:
one worker busy, the other at 2 % of a core).  With a socket per worker and ``SO_REUSEPORT`` the
kernel spreads new connections over the workers.  A worker that dies is started again; SIGINT or
SIGTERM stops them all.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import signal
import socket
import sys
from multiprocessing.connection import wait

import uvicorn
from uvicorn.config import STARTUP_FAILURE

log = logging.getLogger(__name__)
APP = "triage.serving:create_app"


def _reuse_port_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP, and
    # without it Nagle's algorithm held every response ~40 ms waiting for the client's delayed ACK
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def _end_with_supervisor() -> None:
    """Have the kernel SIGTERM this worker when the supervisor dies, even by SIGKILL: an orphan would
    go on taking its share of the port's connections, with whatever code it started with."""
    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _serve_one(host: str, port: int, log_level: str) -> None:
    """One worker process: its own listening socket on the shared port, one uvicorn server."""
    _end_with_supervisor()
    sock = _reuse_port_socket(host, port)
    sock.listen(2048)
    config = uvicorn.Config(APP, factory=True, log_level=log_level, access_log=False)
    server = uvicorn.Server(config)
    server.run(sockets=[sock])
    if not server.started:
        raise SystemExit(STARTUP_FAILURE)


def run_workers(host: str, port: int, workers: int, log_level: str) -> int:
    """Run ``workers`` servers until SIGINT/SIGTERM; the exit code (3 when a worker could not start)."""
    claim = _reuse_port_socket(host, port)   # fails here, once, when the port is taken; never listens
    context = multiprocessing.get_context("spawn")
    stopping = False

    def start() -> multiprocessing.Process:
        process = context.Process(target=_serve_one, args=(host, port, log_level), name="triage-worker")
        process.start()
        return process

    processes = [start() for _ in range(workers)]

    def stop(signum, _frame) -> None:
        nonlocal stopping
        stopping = True
        for process in processes:
            if process.is_alive():
                process.terminate()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        while not stopping:
            wait([p.sentinel for p in processes])
            for i, process in enumerate(processes):
                if process.is_alive() or stopping:
                    continue
                if process.exitcode == STARTUP_FAILURE:
                    log.error("a worker could not start; stopping")
                    stop(signal.SIGTERM, None)
                    break
                log.warning("worker %s exited with %s; starting another", process.pid, process.exitcode)
                processes[i] = start()
    finally:
        for process in processes:
            process.join()
        claim.close()
    return STARTUP_FAILURE if any(p.exitcode == STARTUP_FAILURE for p in processes) else 0
