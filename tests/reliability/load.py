"""A bounded asyncio load client: a fixed request rate of mixed traffic against a served city.

Requests start on a fixed schedule (open loop: request *i* at ``i / rate`` seconds), so a
slow server shows up as lateness instead of silently lowering the rate; at most
``max_in_flight`` are outstanding.  The mix is what a centre sends: single scores, batch
scores, ingest of new households, and analysts reading the queue.  Every score id answered
is kept so that the caller can compare them with the decisions stored.  Used by the short
test (``tests/reliability/test_load.py``) and by ``bench/bench_load.py`` for minutes.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import httpx
from sqlalchemy import text

from tests.support.service import case_request
from triage.db import engine_for

#: Requests of each kind per 20 (score, batch-score, ingest, queue).
MIX = {"score": 10, "batch": 2, "ingest": 3, "queue": 5}
BATCH_CASES = 20
#: (household, counterparty, person named) combinations of the small city.
PARTIES = [
    ("H-1", "H-2", "P-1-1"),
    ("H-2", "H-1", "P-2-1"),
    ("H-3", None, "P-3-1"),
    ("H-4", None, "P-4-1"),
]


@dataclass
class LoadReport:
    rate: float
    duration_s: float
    sent: Counter = field(default_factory=Counter)
    ok: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    latencies_ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    score_ids: set[str] = field(default_factory=set)
    rescored_ids: set[str] = field(default_factory=set)
    max_lateness_s: float = 0.0
    wall_s: float = 0.0

    @property
    def requests(self) -> int:
        return sum(self.sent.values())

    def lines(self) -> list[str]:
        """The figures, one line each, for a test's output or the benchmark."""
        out = [
            f"{self.requests:,} requests at {self.rate:g}/s for {self.duration_s:g} s "
            f"(all sent and answered in {self.wall_s:.1f} s; latest start {self.max_lateness_s:.2f} s late); "
            f"errors: {len(self.errors)}"
        ]
        for kind in MIX:
            ms = sorted(self.latencies_ms[kind])
            if ms:
                p = statistics.quantiles(ms, n=100, method="inclusive") if len(ms) > 1 else ms * 99
                out.append(
                    f"  {kind:6s} {self.ok[kind]:5,} ok of {self.sent[kind]:5,}  latency ms p50 {p[49]:7.1f}  "
                    f"p95 {p[94]:7.1f}  p99 {p[98]:7.1f}  max {ms[-1]:7.1f}"
                )
        out.append(
            f"  score ids answered: {len(self.score_ids):,} (+ {len(self.rescored_ids):,} re-scored on ingest)"
        )
        return out


def _plan(count: int, seed: int) -> list[str]:
    kinds = [kind for kind, weight in MIX.items() for _ in range(weight)]
    rng = random.Random(seed)
    return [rng.choice(kinds) for _ in range(count)]


def _case(rng: random.Random, run: str, i: int) -> dict:
    household, counterparty, person = rng.choice(PARTIES)
    return case_request(f"LOAD-{run}-{i}", household, counterparty=counterparty, persons=(person,))


def _request(kind: str, i: int, rng: random.Random, run: str) -> tuple[str, str, dict | None]:
    """(method, path, json body) of request ``i``."""
    if kind == "score":
        return "POST", "/v1/cases/score", _case(rng, run, i)
    if kind == "batch":
        return (
            "POST",
            "/v1/cases/batch-score",
            {"cases": [_case(rng, run, i * 1000 + j) for j in range(BATCH_CASES)]},
        )
    if (
        kind == "ingest"
    ):  # a new household: stored, re-scoring nothing (its load is not this test's subject)
        return (
            "POST",
            "/v1/ingest/households",
            {
                "rows": [
                    {
                        "household_id": f"LOAD-{run}-{i}",
                        "district": "江城区",
                        "street": "东湖街道",
                        "grid_id": "g-07",
                        "area_type": rng.choice(["urban", "rural"]),
                        "size": rng.randint(1, 6),
                        "low_income": False,
                        "registered_at": "2025-05-30T21:00:00+08:00",
                    }
                ]
            },
        )
    return "GET", f"/v1/queue?limit=20&offset={rng.randrange(0, 200)}", None


async def hold_rate(
    base: str,
    keys: dict[str, str],
    *,
    rate: float,
    duration_s: float,
    max_in_flight: int = 32,
    seed: int = 0,
    run: str = "r",
) -> LoadReport:
    """Send ``rate * duration_s`` requests on schedule; return what came back."""
    report = LoadReport(rate=rate, duration_s=duration_s)
    plan = _plan(int(rate * duration_s), seed)
    rng = random.Random(seed + 1)
    slots = asyncio.Semaphore(max_in_flight)
    # uvicorn closes a connection idle for 5 s; a client keeping it longer may send on a socket being
    # closed and see a ReadError that is no fault of the service
    limits = httpx.Limits(
        max_connections=max_in_flight, max_keepalive_connections=max_in_flight, keepalive_expiry=2
    )

    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:

        async def send(kind: str, i: int, method: str, path: str, body: dict | None) -> None:
            role = "analyst" if kind == "queue" else "scorer"
            started = time.perf_counter()
            try:
                response = await client.request(
                    method, path, json=body, headers={"Authorization": f"Bearer {keys[role]}"}
                )
            except httpx.HTTPError as exc:
                report.errors.append(f"{kind} #{i}: {type(exc).__name__} {exc}")
                return
            finally:
                slots.release()
            report.latencies_ms[kind].append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                report.errors.append(f"{kind} #{i}: {response.status_code} {response.text[:300]}")
                return
            report.ok[kind] += 1
            answer = response.json()
            if kind == "score":
                report.score_ids.add(answer["score_id"])
            elif kind == "batch":
                report.score_ids.update(r["score_id"] for r in answer["results"])
            elif kind == "ingest":
                report.rescored_ids.update(r["score_id"] for r in answer.get("rescored", []))

        tasks = []
        start = time.perf_counter()
        for i, kind in enumerate(plan):
            due = start + i / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            await slots.acquire()
            report.max_lateness_s = max(report.max_lateness_s, time.perf_counter() - due)
            report.sent[kind] += 1
            tasks.append(asyncio.create_task(send(kind, i, *_request(kind, i, rng, run))))
        await asyncio.gather(*tasks)
        report.wall_s = time.perf_counter() - start
    return report


def stored_decisions(url: str, run: str = "") -> dict[str, set[str]]:
    """Score ids in the database (of cases of ``run`` only, when given), by what triggered them
    ('request', 'event:<table>', ...)."""
    with engine_for(url).connect() as connection:
        rows = connection.execute(
            text('SELECT score_id, "trigger" FROM decisions WHERE case_id LIKE :cases'),
            {"cases": f"LOAD-{run}-%" if run else "%"},
        ).all()
    out: dict[str, set[str]] = defaultdict(set)
    for score_id, trigger in rows:
        out[trigger].add(score_id)
    return out
