"""Scaling benchmark: features, training and batch scoring per engine on cities of growing size.

    python bench/bench_scaling.py                        # 20k, 200k and 1M households
    python bench/bench_scaling.py --sizes 20000,200000   # quicker

Each city is generated once under ``bench/out/city-N`` (reused afterwards) and validated once
(the typed valid rows are kept as Parquet in ``city-N/_typed``: quarantine happens before any
feature, as in production).  Every measured step then runs in its own process, so its peak
memory is its own: the peak is the summed resident memory of the whole process tree (Python,
the Spark JVM and its Python workers), sampled every 0.2 s.  Results accumulate in
``bench/out/scaling.json``; the table is printed and the curve drawn to ``bench/out/scaling.png``
and ``docs/scaling.png``.  Each record keeps the machine's mean load while it ran (other jobs may
share the machine).

Scoring reads ``city-N/_model.pkl``, which the train step of that city writes (copy a smaller
city's when training does not fit).  Spark takes its settings from ``TRIAGE_SPARK_*``; at a
million households give it more shuffle partitions so that each one fits the driver's heap:

    TRIAGE_SPARK_SHUFFLE_PARTITIONS=64 python bench/bench_scaling.py --sizes 1000000 --engines spark
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
RESULTS = OUT / "scaling.json"
STEPS = ("features", "train", "score")
#: Training has one engine; features and scoring run on both.
ENGINES_OF_STEP = {
    "validate": ("pandas",),
    "features": ("pandas", "spark"),
    "train": ("pandas",),
    "score": ("pandas", "spark"),
}


# --- measuring -----------------------------------------------------------------------------


def _tree_rss_bytes(root_pid: int) -> int:
    """Summed resident memory of ``root_pid`` and all its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry.name)
        children.setdefault(int(fields[1]), []).append(pid)  # fields[1]: parent pid
        rss[pid] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")  # fields[21]: rss in pages
    total, todo = 0, [root_pid]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total


def run_measured(command: list[str]) -> tuple[dict, float, float, float]:
    """Run ``command``; its JSON last line, the wall seconds, the peak tree memory in MiB and the
    machine's mean 1-minute load average meanwhile (other jobs share the machine)."""
    began = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    peak = 0
    loads = []
    done = threading.Event()

    def sample():
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss_bytes(process.pid))
            loads.append(os.getloadavg()[0])
            done.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output, _ = process.communicate()
    done.set()
    sampler.join()
    seconds = time.perf_counter() - began
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed with exit code {process.returncode}")
    return (
        json.loads(output.strip().splitlines()[-1]),
        seconds,
        peak / 2**20,
        sum(loads) / max(len(loads), 1),
    )


# --- one step, in a child process ----------------------------------------------------------


def _typed_tables(city: Path) -> dict:
    import pandas as pd

    return {
        path.stem: pd.read_parquet(path) for path in sorted((city / "_typed").glob("*.parquet"))
    }


def run_step(step: str, engine: str, city: Path) -> dict:
    """Do one step on one city; return the step's own seconds and rows (cases)."""
    if step == "validate":
        from triage.data_contracts import validate_dataset

        began = time.perf_counter()
        tables = validate_dataset(city).valid
        seconds = time.perf_counter() - began
        staging = city / "_typed"
        staging.mkdir(exist_ok=True)
        for name, frame in tables.items():
            frame.to_parquet(staging / f"{name}.parquet", index=False)
        return {"seconds": seconds, "rows": len(tables["cases"])}

    from triage.features.points import case_points
    from triage.settings import Settings

    tables = _typed_tables(city)
    points = case_points(tables)
    if engine == "spark":
        return _run_spark_step(step, city, tables, points)
    began = time.perf_counter()
    if step == "features":
        from triage.features import build_case_features

        rows = len(build_case_features(points, tables))
    elif step == "train":  # both models, backtest and refit, as `triage train` fits them
        from triage.training.fit import fit_escalation, fit_tier

        domain = Settings().domain
        fit = fit_escalation(tables, horizon_days=180, domain=domain, oracle=None)
        with open(city / "_model.pkl", "wb") as fh:
            pickle.dump(fit.model, fh)
        del fit
        fit_tier(tables, domain=domain, oracle=None)
        rows = len(points)
    elif step == "score":
        rows = len(_score(points, tables, city, engine="pandas"))
    else:
        raise ValueError(f"unknown step {step!r}")
    return {"seconds": time.perf_counter() - began, "rows": rows}


def _score(points, tables, city: Path, engine: str):
    from triage.batch_scoring import score_cases
    from triage.routing import current_routing
    from triage.settings import Settings

    with open(city / "_model.pkl", "rb") as fh:
        model = pickle.load(fh)
    routing = current_routing(Settings().routing_file, set(Settings().domain.teams))
    return score_cases(points, tables, model, routing, engine=engine)


def _run_spark_step(step: str, city: Path, tables: dict, points) -> dict:
    """Features: staged as Parquet, then the pandas frames are dropped before Spark reads them
    (as ``triage features --engine spark`` does); scoring: ``score_cases(engine="spark")``."""
    import tempfile

    from triage.features.spark import (
        release_frames,
        spark_session,
        stage_case_inputs,
        staged_case_features,
    )

    spark = spark_session()  # TRIAGE_SPARK_*; start-up is not the step's time
    began = time.perf_counter()
    if step == "score":
        rows = len(_score(points, tables, city, engine="spark"))
        return {"seconds": time.perf_counter() - began, "rows": rows}
    if step != "features":
        raise ValueError(f"no {step!r} step on Spark")
    with tempfile.TemporaryDirectory(prefix="triage-bench-", dir=city) as folder:
        stage_case_inputs(points, tables, Path(folder))
        del points
        release_frames(tables)
        rows = len(staged_case_features(Path(folder), spark=spark))
    return {"seconds": time.perf_counter() - began, "rows": rows}


# --- the driver ----------------------------------------------------------------------------


def ensure_city(households: int) -> Path:
    """``bench/out/city-N``: generated on first use, then validated once into ``_typed``."""
    city = OUT / f"city-{households}"
    if not (city / "cases.csv").exists() and not (city / "cases.parquet").exists():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "triage.cli",
                "generate",
                "--out",
                str(city),
                "--households",
                str(households),
                "--seed",
                "7",
            ],
            check=True,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
        )
    return city


def load_results() -> list[dict]:
    return json.loads(RESULTS.read_text()) if RESULTS.exists() else []


def save_result(record: dict) -> list[dict]:
    """Replace the earlier measurement of the same (households, step, engine); the file is read
    again first, so that two runs for different sizes or engines keep each other's records."""
    key = (record["households"], record["step"], record["engine"])
    results = [r for r in load_results() if (r["households"], r["step"], r["engine"]) != key] + [
        record
    ]
    RESULTS.write_text(json.dumps(results, indent=1))
    return results


def table(results: list[dict]) -> str:
    lines = [
        f"{'households':>10} {'step':<9} {'engine':<7} {'cases':>9} {'step s':>9} {'process s':>10} "
        f"{'cases/s':>10} {'peak MiB':>9} {'load':>5}"
    ]
    for r in sorted(results, key=lambda r: (r["households"], r["step"], r["engine"])):
        load = f"{r['load']:>5.1f}" if "load" in r else f"{'?':>5}"
        lines.append(
            f"{r['households']:>10} {r['step']:<9} {r['engine']:<7} {r['rows']:>9} {r['seconds']:>9.1f} "
            f"{r['process_seconds']:>10.1f} {r['rows'] / r['seconds']:>10.0f} {r['peak_mib']:>9.0f} {load}"
        )
    return "\n".join(lines)


def plot(results: list[dict], machine: str) -> None:
    """Seconds and peak memory against the cases of each step and engine (log-log: a line of
    slope 1 is linear growth)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (seconds, memory) = plt.subplots(1, 2, figsize=(12, 5))
    for step, engine in sorted({(r["step"], r["engine"]) for r in results}):
        mine = sorted(
            (r for r in results if (r["step"], r["engine"]) == (step, engine)),
            key=lambda r: r["rows"],
        )
        style = dict(marker="o", linestyle="--" if engine == "spark" else "-")
        rows = [r["rows"] for r in mine]
        seconds.plot(rows, [r["seconds"] for r in mine], label=f"{step} ({engine})", **style)
        memory.plot(rows, [r["peak_mib"] for r in mine], label=f"{step} ({engine})", **style)
    for ax, what in ((seconds, "seconds (the step alone)"), (memory, "peak MiB (process tree)")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("cases (rows of the feature frame)")
        ax.set_ylabel(what)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    seconds.set_title("triage: time vs rows", fontsize=11)
    memory.set_title("triage: peak memory vs rows", fontsize=11)
    fig.text(0.01, 0.01, machine, fontsize=7)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(OUT / "scaling.png", dpi=120)
    (ROOT / "docs").mkdir(exist_ok=True)
    shutil.copyfile(OUT / "scaling.png", ROOT / "docs" / "scaling.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", default="20000,200000,1000000", help="households per city, comma-separated"
    )
    parser.add_argument("--engines", default="pandas,spark")
    parser.add_argument(
        "--steps",
        default=",".join(STEPS),
        help="validate runs first anyway when the city has no typed tables yet",
    )
    parser.add_argument("--step", help=argparse.SUPPRESS)  # internal: run one step in this process
    parser.add_argument("--engine", help=argparse.SUPPRESS)
    parser.add_argument("--city", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        print(json.dumps(run_step(args.step, args.engine, args.city)))
        return

    sys.path.insert(0, str(ROOT / "bench"))
    from machine import describe

    OUT.mkdir(parents=True, exist_ok=True)
    machine = describe()
    print(machine, flush=True)
    engines = args.engines.split(",")
    results = load_results()
    for households in (int(s) for s in args.sizes.split(",")):
        city = ensure_city(households)
        steps = args.steps.split(",")
        if "validate" not in steps and not (city / "_typed").exists():
            steps.insert(0, "validate")
        for step in steps:
            for engine in (e for e in ENGINES_OF_STEP[step] if e in engines):
                command = [
                    sys.executable,
                    str(Path(__file__).resolve()),
                    "--step",
                    step,
                    "--engine",
                    engine,
                    "--city",
                    str(city),
                ]
                measured, process_seconds, peak, load = run_measured(command)
                record = {
                    "households": households,
                    "step": step,
                    "engine": engine,
                    "rows": measured["rows"],
                    "seconds": measured["seconds"],
                    "process_seconds": process_seconds,
                    "peak_mib": peak,
                    "load": load,
                    "machine": machine,
                }
                results = save_result(record)
                print(table([record]).splitlines()[1], flush=True)
    print(machine)
    print(table(results))
    plot(results, machine)
    print(f"curve: {OUT / 'scaling.png'} and {ROOT / 'docs' / 'scaling.png'}")


if __name__ == "__main__":
    main()
