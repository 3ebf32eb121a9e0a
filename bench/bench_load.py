"""Hold a request rate for minutes against a real uvicorn server; print what was held, lost and the machine.

    .venv/bin/python bench/bench_load.py                                  # 10 requests/s for 5 minutes, SQLite
    .venv/bin/python bench/bench_load.py --rate 8 --minutes 3 --db postgresql+psycopg://user@host/db

The long form of ``tests/reliability/test_load.py``, with the same client and server: the small
city of the service tests in the database (a fresh SQLite file unless ``--db`` is given), champions
trained in the server process, one uvicorn process on 127.0.0.1, and an open-loop asyncio client
sending mixed traffic on schedule (single scores, 20-case batches, ingest of new households, the
analysts' queue).  Afterwards the decisions stored for this run are compared with the score ids
answered: "lost" is an answered score with no stored decision, "unasked" a stored decision no
response announced.  The machine and its load average are printed because it may be shared.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from machine import describe  # noqa: E402

from tests.support.served_city import city_in  # noqa: E402
from tests.reliability.load import hold_rate, stored_decisions  # noqa: E402
from triage.db import migrate  # noqa: E402


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (from /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=10, help="requests per second")
    parser.add_argument("--minutes", type=float, default=5)
    parser.add_argument(
        "--db", help="SQLAlchemy URL of a database to use (default: a fresh SQLite file)"
    )
    parser.add_argument("--max-in-flight", type=int, default=32)
    args = parser.parse_args()
    os.environ.setdefault(
        "TRIAGE_WORKBENCH_SECRET", secrets.token_hex(32)
    )  # the service refuses to start without

    work = Path(tempfile.mkdtemp(prefix="bench-load-"))
    url = args.db or f"sqlite:///{work / 'triage.db'}"
    migrate(url)
    city = city_in(url, work / "home")
    run = time.strftime("%Y%m%d%H%M%S")
    print(f"machine: {describe()}")
    print(f"database: {url.split('@')[-1]}; server log: {work / 'server.log'}", flush=True)
    with city.served(log=work / "server.log") as (base, process):
        load_before, cpu_before = os.getloadavg(), cpu_seconds(process.pid)
        report = asyncio.run(
            hold_rate(
                base,
                city.keys,
                rate=args.rate,
                duration_s=args.minutes * 60,
                max_in_flight=args.max_in_flight,
                run=run,
            )
        )
        server_cpu = cpu_seconds(process.pid) - cpu_before
        load_after = os.getloadavg()
    stored = stored_decisions(url, run)
    requested = stored.get("request", set())
    lost, unasked = report.score_ids - requested, requested - report.score_ids
    print("\n".join(report.lines()))
    print(
        f"server CPU: {server_cpu:.0f} s over {report.wall_s:.0f} s wall; load average before "
        f"{load_before[0]:.1f}, after {load_after[0]:.1f} (1 min) on {os.cpu_count()} cores"
    )
    print(
        f"decisions stored for this run: {len(requested):,}; scores answered: {len(report.score_ids):,}; "
        f"lost: {len(lost)}; unasked: {len(unasked)}; errors: {len(report.errors)}"
    )
    for error in report.errors[:10]:
        print(f"  error: {error}")
    if lost or unasked or report.errors:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
