"""``triage serve --workers 2``: the workers take the connections in turn, a dead one is replaced."""

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy.orm import Session

from tests.servers import ROOT, free_port
from tests.support.service import auth, case_request
from tests.support.keys import TEST_HASHER
from tests.support.registry import register
from triage.db import engine_for, migrate
from triage.decisions.keys import create_key
from triage.settings import Settings
from triage.serving.workers import _listening_socket


def children(pid: int) -> list[int]:
    """The worker processes of ``triage serve`` (not multiprocessing's resource tracker)."""
    pids = [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return [p for p in pids if is_worker(p)]


def is_worker(pid: int) -> bool:
    """Whether ``pid`` is (still) a running worker: not gone, not a zombie, not a reused pid."""
    try:
        return b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return False


def sockets_held(pid: int) -> int:
    return sum(
        os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")
        for fd in os.listdir(f"/proc/{pid}/fd")
    )


def healthz_on_new_connection(port: int) -> socket.socket:
    """A connection that has been answered (so a worker accepted it), left open."""
    connection = socket.create_connection(("127.0.0.1", port), timeout=10)
    connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
    assert connection.recv(4096).startswith(b"HTTP/1.1 200")
    return connection


def wait_until(condition, timeout_s: float = 120):
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


@contextmanager
def serving_two_workers(home: Path) -> Iterator[tuple[subprocess.Popen, int]]:
    """``triage serve --workers 2`` on its own port, with ``home`` as its TRIAGE_HOME, both workers up."""
    port = free_port()
    env = {
        **os.environ,
        "TRIAGE_HOME": str(home),
        "TRIAGE_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("TRIAGE_DATABASE_URL", None)
    env.pop("MLFLOW_TRACKING_URI", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "triage.cli", "serve", "--port", str(port), "--workers", "2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )

    def both_up():
        assert server.poll() is None, server.stderr.read().decode(errors="replace")[-3000:]
        try:
            return (
                len(children(server.pid)) == 2
                and httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
            )
        except httpx.TransportError:
            return False

    wait_until(both_up)
    time.sleep(3)  # the second worker may still be starting when the first answers
    try:
        yield server, port
    finally:
        if server.poll() is None:
            server.terminate()
            server.wait(timeout=60)


@pytest.fixture
def two_workers(tmp_path):
    with serving_two_workers(tmp_path / "home") as running:
        yield running


def test_connections_opened_together_are_dealt_to_both_workers_in_turn(two_workers):
    server, port = two_workers
    workers = children(server.pid)
    before = {pid: sockets_held(pid) for pid in workers}
    connections = [healthz_on_new_connection(port) for _ in range(24)]
    accepted = {pid: sockets_held(pid) - before[pid] for pid in workers}
    for connection in connections:
        connection.close()
    assert sorted(accepted.values()) == [12, 12]  # dealt in turn, not by a hash of the address


def test_a_killed_worker_is_replaced_and_sigterm_stops_all(two_workers):
    server, port = two_workers
    victim, survivor = children(server.pid)
    os.kill(victim, signal.SIGKILL)
    wait_until(lambda: len(children(server.pid)) == 2 and victim not in children(server.pid))
    assert survivor in children(server.pid)
    wait_until(lambda: all(healthz_on_new_connection(port) for _ in range(4)))

    workers = children(server.pid)
    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=60) == 0
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)


def test_workers_end_when_the_supervisor_is_killed(two_workers):
    server, _ = two_workers
    workers = children(server.pid)
    server.kill()
    server.wait()
    wait_until(lambda: not any(map(is_worker, workers)), timeout_s=60)


def test_a_connection_dealt_to_a_worker_sends_without_nagle_delay():
    """asyncio turns Nagle's algorithm off (TCP_NODELAY) only on sockets that say they are TCP; on the
    workers' sockets it once stayed on and held every answer ~40 ms for the client's delayed ACK.
    Here a connection goes the supervisor's way: accepted, sent over a Unix socket, served by asyncio."""

    async def nodelay_of_a_dealt_connection() -> int:
        loop = asyncio.get_running_loop()
        served: asyncio.Future = loop.create_future()

        class Record(asyncio.Protocol):
            def connection_made(self, transport):
                sock = transport.get_extra_info("socket")
                served.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

        listener = _listening_socket("127.0.0.1", free_port())
        supervisor_end, worker_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        with listener, supervisor_end, worker_end:
            _, writer = await asyncio.open_connection(*listener.getsockname())
            accepted, _ = await loop.sock_accept(listener)
            with accepted:
                socket.send_fds(supervisor_end, [b"c"], [accepted.fileno()])
            _, fds, _, _ = socket.recv_fds(worker_end, 1024, 1)
            connection = socket.socket(fileno=fds[0])
            connection.setblocking(False)
            await loop.connect_accepted_socket(Record, connection)
            nodelay = await asyncio.wait_for(served, 10)
            writer.close()
        return nodelay

    assert asyncio.run(nodelay_of_a_dealt_connection()) == 1


def test_after_a_reload_every_worker_serves_the_new_champion(
    tmp_path, monkeypatch, champions, rival
):
    """Version 1 is champion when the workers start; version 2 is promoted and one worker is asked to
    reload: from its answer on, every score on every worker carries version 2."""
    home = tmp_path / "home"
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    settings = Settings(home=home)
    register(settings, champions)
    migrate(settings.db_url)
    with Session(engine_for(settings.db_url)) as session:
        keys = {
            role: create_key(session, role, hasher=TEST_HASHER)[1] for role in ("scorer", "admin")
        }
        session.commit()
    with serving_two_workers(home) as (_, port):
        base = f"http://127.0.0.1:{port}"

        def models_served() -> dict[int, str]:  # each request on a new connection: dealt in turn
            answers = [
                httpx.get(f"{base}/v1/models", headers=auth(keys["admin"]), timeout=60).json()
                for _ in range(4)
            ]
            return {a["worker"]: a["models"]["escalation"]["version"] for a in answers}

        assert (
            set(models_served().values()) == {"triage-escalation/1"} and len(models_served()) == 2
        )
        register(settings, rival)
        reloaded = httpx.post(f"{base}/v1/models/reload", headers=auth(keys["admin"]), timeout=120)
        assert reloaded.status_code == 200, reloaded.text
        served = models_served()
        assert len(served) == 2 and set(served.values()) == {"triage-escalation/2"}
        versions = {
            httpx.post(
                f"{base}/v1/cases/score",
                json=case_request(f"C-{i}"),
                headers=auth(keys["scorer"]),
                timeout=60,
            ).json()["models"]["escalation"]
            for i in range(200)
        }
        assert versions == {"triage-escalation/2"}
