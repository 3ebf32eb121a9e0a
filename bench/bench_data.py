"""Time the data path — `triage generate`, `triage validate`, `triage load` (SQLite) — at chosen city sizes.

    .venv/bin/python bench/bench_data.py                       # 20,000 and 200,000 households
    .venv/bin/python bench/bench_data.py --households 20000 --keep bench/out/data

Each step is the real CLI in its own process; its wall time, CPU time and peak memory come from
``os.wait4`` on that process.  Rows/second counts the rows of all eight tables.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe  # noqa: E402

TRIAGE = [sys.executable, "-m", "triage.cli"]


def timed(args: list[str], env: dict) -> dict:
    start = time.perf_counter()
    process = subprocess.Popen(
        args, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    out = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    if status != 0:
        raise SystemExit(f"{' '.join(args)} failed with status {status}")
    return {
        "seconds": time.perf_counter() - start,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "peak_mib": usage.ru_maxrss / 1024,
        "stdout": out,
    }


def bench(households: int, workdir: Path) -> list[dict]:
    city, home = workdir / f"city-{households}", workdir / f"home-{households}"
    env = {**os.environ, "TRIAGE_HOME": str(home)}
    generated = timed(
        [*TRIAGE, "generate", "--out", str(city), "--households", str(households)], env
    )
    rows = sum(json.loads(generated["stdout"].strip().splitlines()[-1])["rows"].values())
    steps = [
        ("generate", generated),
        (
            "validate",
            timed([*TRIAGE, "validate", str(city), "--out", str(workdir / "validation")], env),
        ),
        ("load (SQLite, first)", timed([*TRIAGE, "load", str(city)], env)),
        ("load (SQLite, again)", timed([*TRIAGE, "load", str(city)], env)),
    ]
    return [
        {
            "households": households,
            "step": name,
            "rows": rows,
            **{k: v for k, v in r.items() if k != "stdout"},
        }
        for name, r in steps
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--households", default="20000,200000", help="comma-separated city sizes")
    parser.add_argument("--keep", type=Path, help="keep the cities and databases in this folder")
    args = parser.parse_args()
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="triage-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"machine: {describe()}")
    print(
        f"{'households':>10} {'step':<22} {'rows':>10} {'seconds':>8} {'cpu s':>7} {'rows/s':>9} {'peak MiB':>9}"
    )
    try:
        for households in (int(h) for h in args.households.split(",")):
            for r in bench(households, workdir):
                print(
                    f"{r['households']:>10,} {r['step']:<22} {r['rows']:>10,} {r['seconds']:>8.1f} "
                    f"{r['cpu_seconds']:>7.1f} {r['rows'] / r['seconds']:>9,.0f} {r['peak_mib']:>9,.0f}",
                    flush=True,
                )
    finally:
        if args.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
