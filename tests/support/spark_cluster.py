"""A throw-away standalone Spark cluster on this machine: a master and workers started with
PySpark's own ``spark-class`` launchers, on free ports of 127.0.0.1, removed at the end.  The
Spark tests and ``bench/bench_spark_cluster.py`` run on one the same way.

The workers inherit this process's environment, so their executors' Python workers import
``triage`` from where this process does (``PYTHONPATH``, or the editable install of ``.venv``).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


class SparkClusterUnavailable(RuntimeError):
    """The master or a worker did not come up (their logs are in the message)."""


@dataclass(frozen=True)
class StandaloneCluster:
    master_url: str  # spark://127.0.0.1:PORT, for TRIAGE_SPARK_MASTER
    web_url: str  # the master's web UI (its /json/ lists the workers)
    root: Path  # logs and the workers' work folders

    def alive_workers(self) -> int:
        with urllib.request.urlopen(f"{self.web_url}/json/", timeout=5) as answer:
            return int(json.load(answer).get("aliveworkers", 0))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _spark_class() -> Path:
    from pyspark.find_spark_home import _find_spark_home

    return Path(_find_spark_home()) / "bin" / "spark-class"


@contextmanager
def standalone_cluster(
    workers: int = 2, *, cores: int = 1, memory: str = "2g", start_timeout: float = 90.0
) -> Iterator[StandaloneCluster]:
    """A master and ``workers`` workers of ``cores`` cores and ``memory`` each, while the block runs."""
    root = Path(tempfile.mkdtemp(prefix="triage-spark-cluster-"))
    spark_class = _spark_class()
    env = {
        **os.environ,
        "SPARK_HOME": str(spark_class.parent.parent),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_LOG_DIR": str(root / "logs"),
    }
    master_port, web_port = _free_port(), _free_port()
    master_url = f"spark://127.0.0.1:{master_port}"
    processes: list[subprocess.Popen] = []

    def launch(name: str, *args: str) -> None:
        log = open(root / f"{name}.log", "wb")
        processes.append(
            subprocess.Popen(
                [str(spark_class), *args],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stopped with all it started
            )
        )
        log.close()

    cluster = StandaloneCluster(master_url, f"http://127.0.0.1:{web_port}", root)
    try:
        launch(
            "master",
            "org.apache.spark.deploy.master.Master",
            *("--host", "127.0.0.1", "--port", str(master_port), "--webui-port", str(web_port)),
        )
        for number in range(workers):
            work_dir = root / f"worker-{number}"
            work_dir.mkdir()
            launch(
                f"worker-{number}",
                "org.apache.spark.deploy.worker.Worker",
                master_url,
                *("--host", "127.0.0.1", "--cores", str(cores), "--memory", memory),
                *("--webui-port", str(_free_port()), "--work-dir", str(work_dir)),
            )
        _wait_for_workers(cluster, workers, processes, start_timeout)
        yield cluster
    finally:
        for process in processes:
            _stop(process)
        shutil.rmtree(root, ignore_errors=True)


def _wait_for_workers(
    cluster: StandaloneCluster, workers: int, processes: list[subprocess.Popen], timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(process.poll() is not None for process in processes):
            break
        try:
            if cluster.alive_workers() >= workers:
                return
        except OSError:
            pass  # the master's web UI is not up yet
        time.sleep(0.5)
    logs = "\n".join(
        f"--- {log.name}\n{log.read_text(errors='replace')[-2000:]}"
        for log in sorted(cluster.root.glob("*.log"))
    )
    raise SparkClusterUnavailable(f"{workers} Spark workers did not register in time\n{logs}")


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM to the launcher's process group (the JVM and any executor it started), then SIGKILL."""
    for sent in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sent)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=15)
            return
        except subprocess.TimeoutExpired:
            continue
