"""Features and batch scores on a standalone Spark cluster, written by the executors as Parquet.

    python bench/bench_spark_cluster.py --households 20000
    python bench/bench_spark_cluster.py --households 200000 --partitions 32

Starts the cluster the Spark tests use (``tests/support/spark_cluster.py``: a master and two
workers of one core on this machine), generates and validates the city once (``bench/out/city-N``
and its ``_typed`` tables, as ``bench/bench_scaling.py`` does), stages the case queries and typed
tables as Parquet, then runs ``write_case_scores`` (``triage score --engine spark --out FOLDER``)
in a child process whose driver (Python and its JVM) is measured alone: wall time and peak
resident memory.  The Spark event log gives every task's run time and CPU time, per stage, which
is what a projection to a bigger city or cluster needs (docs/spark.md).  The model is the
20k city's (``city-20000/_model.pkl``, trained here when missing): the features do not depend
on it, and the booster's size is that of a real champion.  Results go to
``bench/out/spark_cluster.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_scaling import OUT, ROOT, ensure_city, run_measured
from machine import describe

sys.path.insert(0, str(ROOT))

from tests.support.spark_cluster import standalone_cluster  # noqa: E402

RESULTS = OUT / "spark_cluster.json"
MODEL_CITY = 20_000
TOP_STAGES = 8


def _in_child(*args: str) -> dict:
    """A step in its own process, so that its pandas frames never sit beside the cluster."""
    done = subprocess.run([sys.executable, *args], check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def ensure_typed(city: Path) -> None:
    if not (city / "_typed" / "cases.parquet").exists():
        _in_child(
            str(ROOT / "bench" / "bench_scaling.py"),
            "--step",
            "validate",
            "--engine",
            "pandas",
            "--city",
            str(city),
        )


def ensure_model() -> Path:
    """The 20k city's escalation model, fitted once (bench_scaling's train step)."""
    city = ensure_city(MODEL_CITY)
    ensure_typed(city)
    if not (city / "_model.pkl").exists():
        _in_child(
            str(ROOT / "bench" / "bench_scaling.py"),
            "--step",
            "train",
            "--engine",
            "pandas",
            "--city",
            str(city),
        )
    return city / "_model.pkl"


def stage(city: Path, folder: Path) -> dict:
    """The case queries and typed tables as Parquet, Spark's only input; the number of cases."""
    import pandas as pd

    from triage.features.points import case_points
    from triage.features.spark import stage_case_inputs

    tables = {p.stem: pd.read_parquet(p) for p in sorted((city / "_typed").glob("*.parquet"))}
    points = case_points(tables)
    stage_case_inputs(points, tables, folder)
    return {"cases": len(points)}


def score_on_cluster(master: str, staged: Path, model_path: Path, out: Path, events: Path) -> dict:
    """The child: a driver that only plans, its executors write features and scores."""
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    from triage.features.spark import spark_session, write_case_scores

    with open(model_path, "rb") as fh:
        model = pickle.load(fh)
    event_log = {
        "spark.eventLog.enabled": "true",
        "spark.eventLog.dir": events.as_uri(),
        "spark.eventLog.compress": "false",
        "spark.eventLog.rolling.enabled": "false",
    }
    spark = spark_session(master, conf=event_log)
    began = time.perf_counter()
    write_case_scores(staged, model, out, spark=spark)
    seconds = time.perf_counter() - began
    spark.stop()
    return {"seconds": seconds}


def task_figures(events: Path) -> dict:
    """Tasks, summed and largest task run time and CPU time, per stage and per phase (the job
    description ``write_case_scores`` gives: features, scores), from the Spark event log."""
    stages: dict[int, list[tuple[float, float]]] = {}
    phase_of_stage: dict[int, str] = {}
    for log in (path for path in events.rglob("*") if path.is_file()):
        for line in log.read_text().splitlines():
            event = json.loads(line)
            if event["Event"] == "SparkListenerJobStart":
                phase = (event.get("Properties") or {}).get("spark.job.description") or "other"
                phase_of_stage.update({stage: phase for stage in event["Stage IDs"]})
            elif event["Event"] == "SparkListenerTaskEnd" and event.get("Task Metrics"):
                metrics = event["Task Metrics"]
                stages.setdefault(event["Stage ID"], []).append(
                    (metrics["Executor Run Time"] / 1e3, metrics["Executor CPU Time"] / 1e9)
                )

    def summary(tasks: list[tuple[float, float]]) -> dict:
        run = [t[0] for t in tasks]
        return {
            "tasks": len(run),
            "task_seconds": sum(run),
            "median_task_s": statistics.median(run),
            "max_task_s": max(run),
            "cpu_seconds": sum(t[1] for t in tasks),
        }

    phases: dict[str, list] = {}
    for stage, tasks in stages.items():
        phases.setdefault(phase_of_stage.get(stage, "other"), []).extend(tasks)
    return {
        "stages": [
            {"stage": stage, "phase": phase_of_stage.get(stage, "other"), **summary(tasks)}
            for stage, tasks in sorted(stages.items())
        ],
        "phases": {phase: summary(tasks) for phase, tasks in sorted(phases.items())},
        **summary([task for tasks in stages.values() for task in tasks]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--households", type=int, default=20_000)
    parser.add_argument("--partitions", type=int, default=8, help="TRIAGE_SPARK_SHUFFLE_PARTITIONS")
    parser.add_argument("--worker-memory", default="4g")
    parser.add_argument("--executor-memory", default="3g", help="TRIAGE_SPARK_EXECUTOR_MEMORY")
    parser.add_argument("--child", nargs=4, metavar=("MASTER", "STAGED", "OUT", "EVENTS"))
    parser.add_argument("--model")
    parser.add_argument("--stage", nargs=2, metavar=("CITY", "FOLDER"))
    args = parser.parse_args()
    if args.stage:
        print(json.dumps(stage(Path(args.stage[0]), Path(args.stage[1]))))
        return
    if args.child:
        master, staged, out, events = args.child
        print(
            json.dumps(
                score_on_cluster(master, Path(staged), Path(args.model), Path(out), Path(events))
            )
        )
        return

    print(describe(), flush=True)
    model = ensure_model()
    city = ensure_city(args.households)
    ensure_typed(city)
    with tempfile.TemporaryDirectory(prefix="triage-bench-spark-", dir=OUT) as folder:
        work = Path(folder)
        began = time.perf_counter()
        cases = _in_child(
            str(Path(__file__).resolve()), "--stage", str(city), str(work / "staged")
        )["cases"]
        stage_seconds = time.perf_counter() - began
        (work / "events").mkdir()
        with standalone_cluster(workers=2, cores=1, memory=args.worker_memory) as cluster:
            os.environ["TRIAGE_SPARK_SHUFFLE_PARTITIONS"] = str(args.partitions)
            os.environ["TRIAGE_SPARK_EXECUTOR_MEMORY"] = args.executor_memory
            child = [
                sys.executable,
                str(Path(__file__).resolve()),
                "--model",
                str(model),
                "--child",
                cluster.master_url,
            ]
            child += [str(work / "staged"), str(work / "out"), str(work / "events")]
            result, process_seconds, driver_peak_mib, load = run_measured(child)
        tasks = task_figures(work / "events")
        written = sum(f.stat().st_size for f in (work / "out").rglob("*.parquet"))
    record = {
        "households": args.households,
        "cases": cases,
        "partitions": args.partitions,
        "executor_memory": args.executor_memory,
        "machine": describe(),
        "stage_seconds": stage_seconds,
        "spark_seconds": result["seconds"],
        "process_seconds": process_seconds,
        "driver_peak_mib": driver_peak_mib,
        "load": load,
        "parquet_mib": written / 2**20,
        **tasks,
    }
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    results = [r for r in results if r["households"] != args.households] + [record]
    RESULTS.write_text(json.dumps(results, indent=1))
    print(f"{'phase':<9} {'tasks':>5} {'task s':>8} {'CPU s':>7} {'median s':>8} {'max s':>7}")
    for phase, p in tasks["phases"].items():
        print(
            f"{phase:<9} {p['tasks']:>5} {p['task_seconds']:>8.1f} {p['cpu_seconds']:>7.1f} "
            f"{p['median_task_s']:>8.2f} {p['max_task_s']:>7.2f}"
        )
    print(f"the {TOP_STAGES} longest stages:")
    print(f"{'stage':>5} {'phase':<9} {'tasks':>5} {'task s':>8} {'median s':>8} {'max s':>7}")
    for s in sorted(tasks["stages"], key=lambda s: -s["task_seconds"])[:TOP_STAGES]:
        print(
            f"{s['stage']:>5} {s['phase']:<9} {s['tasks']:>5} {s['task_seconds']:>8.1f} "
            f"{s['median_task_s']:>8.2f} {s['max_task_s']:>7.2f}"
        )
    print(
        f"{args.households:,} households, {cases:,} cases, {args.partitions} shuffle partitions: "
        f"staging {stage_seconds:.1f} s; features + scores on the cluster {result['seconds']:.1f} s "
        f"(driver process {process_seconds:.1f} s, driver peak {driver_peak_mib:,.0f} MiB, "
        f"load {load:.1f}); {tasks['tasks']} tasks, {tasks['task_seconds']:.0f} executor-seconds "
        f"({tasks['cpu_seconds']:.0f} CPU), largest task {tasks['max_task_s']:.1f} s; "
        f"{written / 2**20:.1f} MiB of Parquet written"
    )


if __name__ == "__main__":
    main()
