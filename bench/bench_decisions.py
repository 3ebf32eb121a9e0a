"""The decisions table after a year of scoring: bytes per decision, the queue and a case's timeline,
on SQLite and PostgreSQL; print them and the machine.

    .venv/bin/python bench/bench_decisions.py                                # 1,000,000, both databases
    .venv/bin/python bench/bench_decisions.py --decisions 200000 --database sqlite

Real decisions come first: ``--seed-cases`` cases of a generated city (2,000 households, loaded
into the database) are scored and stored by the service's scorer, with the test suite's champions
(trained in a second; the same ~110 case and ~25 person features as a trained champion, so a
decision has the same size).  The table then grows to ``--decisions`` by copying those rows in SQL,
each copy a new decision (new id, and two copies per new case: a first score and a re-score),
created a little earlier, so that the table spans a year.  At each checkpoint the script prints
the decisions table's size and bytes per decision (with its indexes), and times, over ``--repeats``
calls each: a queue page (50 decisions, highest risk first, with the workbench's filters), a
decision read back as ``GET /v1/scores/{id}`` shows it, and a case's timeline.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
from bench_service import percentile, requests_from  # noqa: E402
from machine import describe  # noqa: E402
from sqlalchemy import func, select, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from tests.support.postgres import PostgresDatabases, throwaway_postgres  # noqa: E402
from tests.support.service import train_champions  # noqa: E402
from triage.data_contracts import validate_dataset  # noqa: E402
from triage.db import engine_for, load_frames, migrate  # noqa: E402
from triage.db.service_models import Decision  # noqa: E402
from triage.decisions import queue, stored  # noqa: E402
from triage.decisions.queue import QueueFilter  # noqa: E402
from triage.decisions.scoring import Scorer, score_and_store  # noqa: E402
from triage.decisions.timeline import timeline  # noqa: E402
from triage.decisions.types import ScoreRequest  # noqa: E402
from triage.settings import Settings  # noqa: E402
from triage.synth import generate_city  # noqa: E402

COPIED = (
    "household_id, dispute_type, as_of, probability, band, priority, teams, "
    "escalation_version, tier_version, request, response, respond_within_hours, key_id, trigger, "
    "band_rise, changes"
)


def queue_filters(now: datetime) -> dict[str, QueueFilter]:
    """The workbench's filters, one at a time, and the default view of the last 30 days."""
    return {
        "no filter": QueueFilter(),
        "band critical+high": QueueFilter(band=["critical", "high"]),
        "team police_station": QueueFilter(team="police_station"),
        "dispute type marriage_family": QueueFilter(dispute_type=["marriage_family"]),
        "unreviewed, last 30 days": QueueFilter(
            reviewed=False, created_from=now - timedelta(days=30)
        ),
    }


def seed_decisions(url: str, data: Path, home: Path, cases: int) -> list[str]:
    """Score and store ``cases`` real cases; their score ids."""
    settings = Settings(home=home, database_url=url)
    scorer, champions = Scorer(settings, engine_for(url)), train_champions()
    bodies = [ScoreRequest.model_validate(b) for b in requests_from(data, cases)]
    with Session(engine_for(url)) as session:
        scored = []
        for start in range(0, len(bodies), 500):
            scored += score_and_store(session, scorer, champions, bodies[start : start + 500], None)
    return [s.score_id for s in scored]


def grow(url: str, copy: int, start: datetime) -> None:
    """Copy ``copy``: every seed decision once more, as a new decision of a new case."""
    created = start - timedelta(days=365 * copy / 500)
    with engine_for(url).begin() as connection:
        connection.execute(
            text(
                f"INSERT INTO decisions (score_id, case_id, created_at, {COPIED}) "
                f"SELECT :prefix || substr(score_id, 9), case_id || :case, :created, {COPIED} "
                "FROM decisions WHERE score_id >= 'seed' AND score_id < 'seee'"
            ),
            {"prefix": f"{copy:08x}", "case": f"-{copy // 2}", "created": created},
        )


def size_bytes(url: str) -> int:
    """The decisions table with its indexes (and, on PostgreSQL, its TOAST table)."""
    engine = engine_for(url)
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            return connection.execute(
                text(
                    "SELECT sum(pgsize) FROM dbstat WHERE name IN "
                    "(SELECT name FROM sqlite_master WHERE tbl_name = 'decisions')"
                )
            ).scalar_one()
        return connection.execute(text("SELECT pg_total_relation_size('decisions')")).scalar_one()


def timed(call, repeats: int) -> dict:
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - started)
    return {
        "p50_ms": round(percentile(seconds, 50) * 1000, 1),
        "p99_ms": round(percentile(seconds, 99) * 1000, 1),
    }


def measure(url: str, decisions: int, repeats: int) -> dict:
    domain = Settings().domain
    engine = engine_for(url)
    with Session(engine) as session:
        ids = list(session.scalars(select(Decision.score_id).limit(2000)))
        cases = list(session.scalars(select(Decision.case_id).distinct().limit(2000)))
        pick = random.Random(0)
        figures = {
            f"queue, {name}": timed(
                lambda w=where: queue.queue_page(session, w, 50, 0, domain.followups), repeats
            )
            for name, where in queue_filters(datetime.now(timezone.utc)).items()
        }
        figures["a decision read back"] = timed(
            lambda: stored.get(session, pick.choice(ids), None), repeats
        )
        figures["a case's timeline"] = timed(
            lambda: timeline(session, pick.choice(cases), domain.followups), repeats
        )
    size = size_bytes(url)
    return {
        "decisions": decisions,
        "decisions_table_mib": round(size / 2**20, 1),
        "bytes_per_decision": round(size / decisions),
        **figures,
    }


def run(url: str, data: Path, home: Path, args) -> None:
    migrate(url)
    frames = validate_dataset(data).valid
    load_frames(url, frames)
    seeds = seed_decisions(url, data, home, args.seed_cases)
    with engine_for(url).begin() as connection:  # mark the seeds: copies keep the rest of the id
        connection.execute(text("UPDATE decisions SET score_id = 'seed' || substr(score_id, 5)"))
        record = connection.execute(select(func.avg(func.length(Decision.response)))).scalar_one()
    print(json.dumps({"stored record, mean bytes packed": round(record)}), flush=True)
    checkpoints = sorted({c for c in args.checkpoints if c <= args.decisions} | {args.decisions})
    start, copy, count = datetime.now(timezone.utc), 0, len(seeds)
    for checkpoint in checkpoints:
        while count + len(seeds) <= checkpoint:
            copy += 1
            grow(url, copy, start)
            count += len(seeds)
        migrate(url)  # as `triage serve` does at start: on SQLite, the planner's statistics
        if engine_for(url).dialect.name == "postgresql":
            with (
                engine_for(url)
                .connect()
                .execution_options(isolation_level="AUTOCOMMIT") as connection
            ):
                connection.execute(text("VACUUM ANALYZE decisions"))
        with Session(engine_for(url)) as session:
            count = session.scalar(select(func.count()).select_from(Decision))
        print(json.dumps(measure(url, count, args.repeats)), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=1_000_000)
    parser.add_argument("--seed-cases", type=int, default=2_000)
    parser.add_argument(
        "--checkpoints", type=int, nargs="*", default=[10_000, 100_000, 250_000, 500_000]
    )
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="triage-decisions-"))
    data = work / "city"
    generate_city(data, households=2_000, seed=7, start=date(2022, 1, 1), end=date(2025, 6, 30))
    print(describe(), flush=True)
    with ExitStack() as stack:
        for database in ["sqlite", "postgresql"] if args.database == "both" else [args.database]:
            if database == "sqlite":
                url = f"sqlite:///{work / 'decisions.db'}"
            else:
                server = stack.enter_context(throwaway_postgres())
                url = PostgresDatabases(server).create("decisions")
            print(f"--- {database}", flush=True)
            run(url, data, work / database, args)


if __name__ == "__main__":
    main()
