"""``triage serve --workers N``: N uvicorn workers; the supervisor accepts and deals out connections in turn.

uvicorn's own ``--workers`` shares one listening socket, and the worker that wakes first accepts
every connection waiting (asyncio accepts in a loop): a client's keep-alive connections, opened
together, all land on one worker while the others idle.  A ``SO_REUSEPORT`` socket per worker
spreads them by a hash of the client's address instead, so 8 connections split 4/4 only about one
time in four and 7/1 one time in sixteen; the busier worker then set the p99 of the whole service.
So the supervisor accepts every connection itself and hands it to the workers in turn over a Unix
socket (``SCM_RIGHTS``, as Node.js's cluster module does by default): N×k connections split k
each.  A worker whose queue is full (stuck) is skipped; a worker that dies is started again;
SIGINT or SIGTERM stops them all.  Linux (and other Unixes) only.
"""

from __future__ import annotations

import asyncio
import ctypes
import functools
import itertools
import logging
import multiprocessing
import signal
import socket
import sys
from multiprocessing.connection import wait

import uvicorn
from uvicorn.config import STARTUP_FAILURE

log = logging.getLogger(__name__)
APP = "triage.app:create_app"
_CONNECTIONS_PER_MESSAGE = 16


def _listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto IPPROTO_TCP, not 0: accepted sockets inherit it, and asyncio sets TCP_NODELAY only on
    # sockets that say they are TCP; without it Nagle's algorithm held every response ~40 ms
    # waiting for the client's delayed ACK
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def _end_with_supervisor() -> None:
    """Have the kernel SIGTERM this worker when the supervisor dies, even by SIGKILL: an orphan would
    go on holding its connections and memory."""
    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


class _HandedConnectionsServer(uvicorn.Server):
    """A uvicorn server that listens on nothing: it serves the connections the supervisor sends
    down ``channel``, and stops when the supervisor closes it."""

    def __init__(self, config: uvicorn.Config, channel: socket.socket):
        super().__init__(config)
        self.channel = channel

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=[])
        protocol = functools.partial(
            self.config.http_protocol_class,
            config=self.config,
            server_state=self.server_state,
            app_state=self.lifespan.state,
        )
        loop = asyncio.get_running_loop()
        self.channel.setblocking(False)
        loop.add_reader(self.channel.fileno(), self._receive, loop, protocol)

    def _receive(self, loop: asyncio.AbstractEventLoop, protocol) -> None:
        try:
            _, fds, _, _ = socket.recv_fds(self.channel, 1024, _CONNECTIONS_PER_MESSAGE)
        except BlockingIOError:
            return
        if not fds:  # the supervisor has gone: finish what is open
            loop.remove_reader(self.channel.fileno())
            self.should_exit = True
            return
        for fd in fds:
            connection = socket.socket(fileno=fd)
            connection.setblocking(False)
            loop.create_task(loop.connect_accepted_socket(protocol, connection))


def _serve_one(channel: socket.socket, log_level: str) -> None:
    """One worker process: one uvicorn server for the connections that arrive on ``channel``."""
    _end_with_supervisor()
    config = uvicorn.Config(APP, factory=True, log_level=log_level, access_log=False)
    server = _HandedConnectionsServer(config, channel)
    server.run()
    if not server.started:
        raise SystemExit(STARTUP_FAILURE)


class _Worker:
    """A worker process and the supervisor's end of its channel."""

    def __init__(self, context, log_level: str):
        self.channel, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.process = context.Process(
            target=_serve_one, args=(theirs, log_level), name="triage-worker"
        )
        self.process.start()
        theirs.close()
        self.channel.setblocking(False)

    def hand(self, connection: socket.socket) -> bool:
        """Send ``connection`` to the worker; False when it cannot take it now (dead, or its queue full)."""
        try:
            socket.send_fds(self.channel, [b"c"], [connection.fileno()])
        except OSError:
            return False
        return True

    def close(self) -> None:
        self.channel.close()


def run_workers(host: str, port: int, workers: int, log_level: str) -> int:
    """Run ``workers`` servers until SIGINT/SIGTERM; the exit code (3 when a worker could not start)."""
    listener = _listening_socket(host, port)  # fails here, once, when the port is taken
    context = multiprocessing.get_context("spawn")
    pool = [_Worker(context, log_level) for _ in range(workers)]
    turns = itertools.cycle(range(workers))
    stopping = False

    def stop(signum, _frame) -> None:
        nonlocal stopping
        stopping = True
        for worker in pool:
            if worker.process.is_alive():
                worker.process.terminate()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        while not stopping:
            ready = wait([listener, *(w.process.sentinel for w in pool)])
            if listener in ready:
                _deal(listener, pool, turns)
            for i, worker in enumerate(pool):
                if worker.process.is_alive() or stopping:
                    continue
                if worker.process.exitcode == STARTUP_FAILURE:
                    log.error("a worker could not start; stopping")
                    stop(signal.SIGTERM, None)
                    break
                log.warning(
                    "worker %s exited with %s; starting another",
                    worker.process.pid,
                    worker.process.exitcode,
                )
                worker.close()
                pool[i] = _Worker(context, log_level)
    finally:
        listener.close()
        for worker in pool:
            worker.process.join()
            worker.close()
    return STARTUP_FAILURE if any(w.process.exitcode == STARTUP_FAILURE for w in pool) else 0


def _deal(listener: socket.socket, pool: list[_Worker], turns) -> None:
    """Accept every waiting connection and hand each to the next worker that takes it."""
    while True:
        try:
            connection, _ = listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:  # e.g. out of file descriptors: try again on the next wake-up
            log.warning("accept failed: %s", exc)
            return
        with connection:  # the worker holds its own copy once handed
            for _ in range(len(pool)):
                if pool[next(turns)].hand(connection):
                    break
            else:
                log.warning("no worker could take a connection; closed")
