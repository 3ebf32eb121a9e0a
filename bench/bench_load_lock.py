"""How long a score waits while `triage load` writes a generated city into SQLite; print it and the machine.

    .venv/bin/python bench/bench_load_lock.py                        # 10,000 households, chunked load
    .venv/bin/python bench/bench_load_lock.py --one-transaction      # the same load in one transaction
    .venv/bin/python bench/bench_load_lock.py --data /tmp/b/city     # reuse a generated city

A city is generated with `triage generate` (unless ``--data`` holds one) and loaded with `triage load`
into a fresh SQLite file, in a process of its own.  Meanwhile this process scores a case every
``--interval`` seconds through the service's scorer and stores its decision, as `POST
/v1/cases/score` does (champions: the test suite's, trained in a second on a random city), and
times each score from its start to its commit.  SQLite lets one writer in at a time: a load written
in one transaction makes every score wait for its end (and answer 503 past the 30 s busy
timeout); `triage load` commits chunk by chunk and leaves the lock free between chunks.
``--one-transaction`` loads with ``load_frames`` in one transaction instead, for comparison.  The
scores start a few seconds before the load, so the figures include a baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from bench_service import percentile, requests_from  # noqa: E402
from machine import describe  # noqa: E402

from sqlalchemy.exc import OperationalError  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from tests.support.service import train_champions  # noqa: E402
from triage.db import engine_for, migrate  # noqa: E402
from triage.decisions.scoring import Scorer, score_and_store  # noqa: E402
from triage.decisions.types import ScoreRequest  # noqa: E402
from triage.settings import Settings  # noqa: E402

TRIAGE = [sys.executable, "-m", "triage.cli"]
ONE_TRANSACTION = """
import sys
from triage.data_contracts import validate_dataset
from triage.db import load_frames
load_frames(sys.argv[2], validate_dataset(sys.argv[1]).valid)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=10_000)
    parser.add_argument("--data", type=Path, help="a generated city to reuse (made when missing)")
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between scores")
    parser.add_argument("--one-transaction", action="store_true")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="triage-load-lock-"))
    data = args.data or work / "city"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TRIAGE_HOME": str(work / "home")}
    if not (data / "cases.csv").exists():
        print(f"generating {args.households:,} households into {data} ...", flush=True)
        subprocess.run(
            TRIAGE + ["generate", "--out", str(data), "--households", str(args.households)],
            env=env,
            check=True,
            capture_output=True,
        )
    rows = sum(sum(1 for _ in f.open(encoding="utf-8")) - 1 for f in data.glob("*.csv"))
    url = f"sqlite:///{work / 'triage.db'}"
    migrate(url)
    settings = Settings(home=work / "home", database_url=url)
    scorer, champions = Scorer(settings, engine_for(url)), train_champions()
    bodies = [ScoreRequest.model_validate(b) for b in requests_from(data, 5_000)]

    timings: list[tuple[float, float, str]] = []  # (started, seconds, outcome)
    loading = threading.Event()
    done = threading.Event()

    def score_all() -> None:
        for body in bodies:
            if done.is_set():
                return
            started = time.monotonic()
            try:
                with Session(scorer.engine) as session:
                    score_and_store(session, scorer, champions, [body], None)
                outcome = "ok"
            except OperationalError as exc:  # the service answers these 503
                outcome = type(exc.orig).__name__
            timings.append((started, time.monotonic() - started, outcome))
            time.sleep(max(0.0, args.interval - (time.monotonic() - started)))

    scoring = threading.Thread(target=score_all)
    scoring.start()
    time.sleep(3)  # the baseline: scores with no load running
    how = "one transaction" if args.one_transaction else "triage load, chunk by chunk"
    print(f"loading {rows:,} rows ({how}) while scoring every {args.interval} s ...", flush=True)
    command = (
        [sys.executable, "-c", ONE_TRANSACTION, str(data), url]
        if args.one_transaction
        else TRIAGE + ["load", str(data), "--db", url]
    )
    load_started = time.monotonic()
    loading.set()
    loaded = subprocess.run(command, env=env, check=True, capture_output=True, cwd=ROOT, text=True)
    load_ended = time.monotonic()
    time.sleep(1)
    done.set()
    scoring.join()

    before = [s for t, s, _ in timings if t < load_started]
    during = [(s, o) for t, s, o in timings if load_started <= t < load_ended]
    waits = [s for s, _ in during]
    failed = [o for _, o in during if o != "ok"]
    print(describe())
    print(f"load: {rows:,} rows in {load_ended - load_started:.1f} s ({how})")
    if not args.one_transaction:  # what the load did for the cases scored meanwhile
        said = json.loads(loaded.stdout.strip().splitlines()[-1])
        print(
            "  " + json.dumps({k: v for k, v in said.items() if k not in ("validation", "loaded")})
        )
    print(
        f"scores before the load: {len(before)}, p50 {percentile(before, 50) * 1000:.0f} ms, "
        f"max {max(before) * 1000:.0f} ms"
    )
    print(
        f"scores during the load: {len(waits)}, p50 {percentile(waits, 50) * 1000:.0f} ms, "
        f"p99 {percentile(waits, 99) * 1000:.0f} ms, longest {max(waits) * 1000:.0f} ms; "
        f"failed: {len(failed)} {sorted(set(failed))}"
    )
    print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
