"""Time `triage generate` at chosen city sizes: rows/second per table, seconds, peak memory, machine.

    .venv/bin/python bench/bench_generate.py                   # 20,000 and 200,000 households
    .venv/bin/python bench/bench_generate.py --households 20000 --format parquet

Each size runs in a fresh process so that its peak memory is its own.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import resource
import tempfile
from datetime import date
from pathlib import Path


def describe_machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown CPU",
    )
    mem_kb = next(
        (
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        ),
        0,
    )
    return (
        f"{cpu}, {os.cpu_count()} cores, {mem_kb / 1024**2:.1f} GiB RAM, "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )


def _run_one(households: int, seed: int, fmt: str, results) -> None:
    from triage.synth import generate_city

    with tempfile.TemporaryDirectory(prefix="bench_generate_") as folder:
        summary = generate_city(
            Path(folder),
            households=households,
            seed=seed,
            start=date(2022, 1, 1),
            end=date(2025, 6, 30),
            fmt=fmt,
        )
    summary["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    results.put(summary)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, nargs="+", default=[20_000, 200_000])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--format", choices=("csv", "parquet"), default="csv")
    args = parser.parse_args()

    print(f"machine: {describe_machine()}")
    context = mp.get_context("spawn")
    for households in args.households:
        results = context.Queue()
        worker = context.Process(
            target=_run_one, args=(households, args.seed, args.format, results)
        )
        worker.start()
        summary = results.get()
        worker.join()
        seconds = summary["seconds"]
        total = sum(summary["rows"].values())
        print(
            f"\n{households:,} households ({args.format}): {seconds:.1f} s, {total:,} rows, "
            f"{total / seconds:,.0f} rows/s overall, peak memory {summary['peak_rss_mib']:,.0f} MiB"
        )
        print(
            f"  escalation base rate {summary['escalation_base_rate']}, oracle AUC {summary['oracle_auc']}"
        )
        for table, rows in summary["rows"].items():
            print(f"  {table:<18} {rows:>12,} rows  {rows / seconds:>12,.0f} rows/s")


if __name__ == "__main__":
    main()
