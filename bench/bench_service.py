"""Latency of a real `triage serve`: single-case p50/p95/p99 at concurrency 1 and 8, and 1,000-case batches.

    .venv/bin/python bench/bench_service.py                       # generate, load, train, serve (~10 min)
    .venv/bin/python bench/bench_service.py --data /tmp/b/city --home /tmp/b/home   # reuse both
    .venv/bin/python bench/bench_service.py --seconds 20 --rounds 5 --batches 5     # the README's run
    .venv/bin/python bench/bench_service.py --data ... --home ... --stages   # where a case's CPU goes

The server is a `triage serve --workers 2` subprocess on 127.0.0.1 over a SQLite database holding a
generated city (20,000 households), with champions trained on that city.  Every single-case request asks for
the explanation (default top 8) and names one person, and its decision is stored before the answer,
as in production.  Single cases are sent by wrk (`apt-get install wrk`; a C load generator, so the
client takes little of the two cores the server needs) on `concurrency` keep-alive connections for
`--seconds`, each request a new case; 1,000-case batches by httpx.  Wall latencies are what a caller
sees; the server's CPU time per request (from /proc/PID/stat) is printed beside them because the
machine may be shared.  ``--rounds`` repeats each level on new connections, and the table gives the
worst round's p50, p95 and p99 (every round is printed below it).  Each request carries a case id
not sent before, its case drawn (with replacement) from the city's more recent half.

``--stages`` runs the scorer in this process instead and prints the CPU time of each step of
``score_and_store`` (per single case, and for one 1,000-case batch), by timing the functions it
calls: what is left of the total is building the responses, routing and the models' calls.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pandas as pd

from triage.decisions.types import CaseIn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TRIAGE = [sys.executable, "-m", "triage.cli"]
CASE_COLUMNS = list(CaseIn.model_fields)


def _run(args: list[str], env: dict) -> str:
    done = subprocess.run(TRIAGE + args, env=env, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"triage {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def prepare(data: Path, home: Path, households: int, env: dict) -> None:
    """Generate, load and train whatever is not there yet (each step is skipped when done)."""
    if not (data / "cases.csv").exists():
        print(f"generating {households:,} households into {data} ...", flush=True)
        _run(["generate", "--out", str(data), "--households", str(households)], env)
    if not (home / "triage.db").exists():
        print(f"loading {data} into {home / 'triage.db'} ...", flush=True)
        _run(["load", str(data)], env)
    if not (home / "mlflow.db").exists():
        print("training champions (about 3 minutes) ...", flush=True)
        _run(["train", str(data)], env)


def requests_from(data: Path, count: int, seed: int = 0) -> list[dict]:
    """New cases (fresh ids) shaped like the dataset's recent ones, each naming one household member."""
    cases = pd.read_csv(data / "cases.csv", usecols=CASE_COLUMNS, dtype=str, keep_default_na=False)
    persons = pd.read_csv(data / "persons.csv", usecols=["person_id", "household_id"], dtype=str)
    member = persons.groupby("household_id")["person_id"].first()
    recent = cases[cases["opened_at"] >= cases["opened_at"].sort_values().iloc[len(cases) // 2]]
    sample = recent.sample(count, random_state=seed, replace=len(recent) < count)
    out = []
    for i, row in enumerate(sample.itertuples(index=False)):
        case = {c: (getattr(row, c) or None) for c in CASE_COLUMNS}
        case["case_id"] = f"BENCH-{seed}-{i}-{case['case_id']}"
        case["parties_count"] = int(case["parties_count"])
        case["amount_cny"] = float(case["amount_cny"]) if case["amount_cny"] else None
        named = [member[row.household_id]] if row.household_id in member.index else []
        out.append({"case": case, "as_of": case["opened_at"], "persons": named})
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and its live children (uvicorn workers)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pids = [pid] + [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    for p in pids:
        fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


WRK_SCRIPT = Path(__file__).resolve().parent / "wrk_score.lua"
MAX_RATE = 600  # requests per second the bodies are made for: no case id is sent twice below it


def wrk_latencies(
    base: str, key: str, bodies: list[dict], concurrency: int, seconds: float
) -> dict:
    """One wrk run: ``concurrency`` connections sending ``bodies`` in turn for ``seconds``; its summary."""
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", encoding="utf-8") as lines:
        lines.writelines(json.dumps(body, ensure_ascii=False) + "\n" for body in bodies)
        lines.flush()
        done = subprocess.run(
            [
                "wrk",
                "-t1",
                f"-c{concurrency}",
                f"-d{seconds}s",
                "--timeout",
                "10s",
                "-s",
                str(WRK_SCRIPT),
                base,
            ],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "TRIAGE_BENCH_BODIES": lines.name, "TRIAGE_BENCH_KEY": key},
        )
    return json.loads(done.stdout.strip().splitlines()[-1])


def start_server(port: int, workers: int, env: dict) -> subprocess.Popen:
    process = subprocess.Popen(
        TRIAGE + ["serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"triage serve exited:\n{process.stderr.read()[-3000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    process.terminate()
    raise SystemExit("triage serve did not answer /healthz within 180 s")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


STAGES = (
    "read_history",
    "History",
    "case_feature_arrays",
    "_persons",
    "population_warnings",
    "route_fact_records",
    "store",
)


def stage_breakdown(data: Path, home: Path, singles: int, batch_size: int) -> list[tuple]:
    """CPU seconds per stage of ``score_and_store``: (stage, ms per single case, s per batch)."""
    os.environ["TRIAGE_HOME"] = str(home)
    from sqlalchemy.orm import Session

    from triage.db import engine_for
    from triage.decisions import scoring
    from triage.decisions.types import ScoreRequest
    from triage.models.registry import load_champions
    from triage.settings import Settings

    settings = Settings(home=home)
    engine, champions = engine_for(settings.db_url), load_champions(settings)
    scorer = scoring.Scorer(settings, engine)
    spent = dict.fromkeys(STAGES, 0.0)

    def timed(name, function):
        def run(*args, **kwargs):
            start = time.process_time()
            try:
                return function(*args, **kwargs)
            finally:
                spent[name] += time.process_time() - start

        return run

    for name in (
        "read_history",
        "History",
        "case_feature_arrays",
        "population_warnings",
        "route_fact_records",
    ):
        setattr(scoring, name, timed(name, getattr(scoring, name)))
    scorer._persons = timed("_persons", scorer._persons)
    scoring.stored.store = timed("store", scoring.stored.store)

    def measure(batches: list[list[ScoreRequest]]) -> tuple[dict, float]:
        for name in spent:
            spent[name] = 0.0
        start = time.process_time()
        for batch in batches:
            with Session(engine) as session:
                scoring.score_and_store(session, scorer, champions, batch, None)
        return dict(spent), time.process_time() - start

    warm = [ScoreRequest.model_validate(b) for b in requests_from(data, 20, seed=98)]
    measure([[r] for r in warm])
    single, single_total = measure(
        [[ScoreRequest.model_validate(b)] for b in requests_from(data, singles, seed=7)]
    )
    batch, batch_total = measure(
        [[ScoreRequest.model_validate(b) for b in requests_from(data, batch_size, seed=8)]]
    )
    rows = [(name, single[name] / singles * 1000, batch[name]) for name in STAGES]
    rest = (
        "rest: responses, routing, model calls, commit",
        (single_total - sum(single.values())) / singles * 1000,
        batch_total - sum(batch.values()),
    )
    rows.append(rest)
    rows.append(("total", single_total / singles * 1000, batch_total))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="dataset folder (generated there when empty)")
    parser.add_argument(
        "--home",
        type=Path,
        help="TRIAGE_HOME with triage.db and trained champions (made when empty)",
    )
    parser.add_argument("--households", type=int, default=20_000)
    parser.add_argument("--seconds", type=int, default=20, help="length of one wrk round")
    parser.add_argument(
        "--rounds", type=int, default=3, help="wrk rounds per concurrency level (new connections)"
    )
    parser.add_argument(
        "--requests", type=int, default=300, help="single cases scored in process (--stages)"
    )
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    parser.add_argument(
        "--batches", type=int, default=3, help="repetitions of the 1,000-case batch"
    )
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument(
        "--workers", type=int, default=2, help="uvicorn worker processes (one per core)"
    )
    parser.add_argument(
        "--stages", action="store_true", help="CPU per step of scoring, in this process"
    )
    args = parser.parse_args()

    scratch = Path(os.environ.get("TMPDIR", "/tmp")) / "triage-bench-service"
    data, home = args.data or scratch / "city", args.home or scratch / "home"
    env = {
        **os.environ,
        "TRIAGE_HOME": str(home),
        "TRIAGE_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
        "TRIAGE_WORKBENCH_SECRET": os.environ.get("TRIAGE_WORKBENCH_SECRET")
        or secrets.token_hex(32),
    }
    env.pop("TRIAGE_DATABASE_URL", None)
    if not args.stages and shutil.which("wrk") is None:
        raise SystemExit("the single-case figures need wrk: apt-get install wrk")
    prepare(data, home, args.households, env)
    if args.stages:
        load_before = os.getloadavg()[0]
        rows = stage_breakdown(data, home, args.requests, args.batch_size)
        print(
            f"\nmachine: {describe()}; 1-minute load average {load_before:.1f} before, "
            f"{os.getloadavg()[0]:.1f} after"
        )
        print(f"scorer in process, SQLite {home / 'triage.db'}; CPU time (time.process_time)")
        print(
            f"{'step':48} | {'ms per single case':>18} | {f's per {args.batch_size:,}-case batch':>24}"
        )
        for name, single_ms, batch_s in rows:
            print(f"{name:48} | {single_ms:18.1f} | {batch_s:24.2f}")
        return
    key = _run(["keys", "create", "--role", "scorer", "--name", "bench"], env).strip()
    port = _free_port()
    load_before = os.getloadavg()[0]
    server = start_server(port, args.workers, env)
    base = f"http://127.0.0.1:{port}"
    rows, rounds = [], []
    try:
        wrk_latencies(base, key, requests_from(data, 1000, seed=99), 8, 5)  # every worker warmed up
        for level, concurrency in enumerate(args.concurrency):
            bodies = requests_from(data, args.rounds * args.seconds * MAX_RATE, seed=level)
            cpu = cpu_seconds(server.pid)
            runs = [
                wrk_latencies(base, key, bodies[r :: args.rounds], concurrency, args.seconds)
                for r in range(args.rounds)
            ]
            cpu = cpu_seconds(server.pid) - cpu
            count = sum(run["requests"] for run in runs)
            worst = {q: max(run[q] for run in runs) for q in ("p50_ms", "p95_ms", "p99_ms")}
            rows.append(
                (
                    f"single case, concurrency {concurrency}",
                    count,
                    sum(run["failed"] for run in runs),
                    f"p50 {worst['p50_ms']:.1f} / p95 {worst['p95_ms']:.1f} / p99 {worst['p99_ms']:.1f} ms "
                    f"(worst of {len(runs)} rounds)",
                    f"{count / sum(run['seconds'] for run in runs):.1f} req/s",
                    f"{cpu / count * 1000:.1f} ms",
                )
            )
            rounds.append((concurrency, runs))
        with httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=300
        ) as client:
            seconds, cpus, failed = [], [], 0
            for rep in range(args.batches):
                body = {"cases": requests_from(data, args.batch_size, seed=1000 + rep)}
                cpu, start = cpu_seconds(server.pid), time.perf_counter()
                response = client.post("/v1/cases/batch-score", json=body)
                seconds.append(time.perf_counter() - start)
                cpus.append(cpu_seconds(server.pid) - cpu)
                failed += response.status_code != 200
            rows.append(
                (
                    f"batch of {args.batch_size:,}",
                    args.batches,
                    failed,
                    f"median {statistics.median(seconds):.2f} s (min {min(seconds):.2f}, max {max(seconds):.2f})",
                    f"{args.batch_size / statistics.median(seconds):,.0f} cases/s",
                    f"{statistics.median(cpus):.2f} s",
                )
            )
    finally:
        server.terminate()
        server.wait(timeout=30)

    print(
        f"\nmachine: {describe()}; 1-minute load average {load_before:.1f} before, "
        f"{os.getloadavg()[0]:.1f} after (both include this bench's own client and server)"
    )
    print(
        f"server: triage serve --workers {args.workers}, SQLite {home / 'triage.db'}, data {data}"
    )
    header = ("what", "n", "failed", "wall latency", "throughput", "server CPU each")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print(" | ".join(str(cell).ljust(w) for cell, w in zip(row, widths)))
    print("\nwrk rounds (p50 / p95 / p99 / max ms, requests):")
    for concurrency, runs in rounds:
        print(
            f"  concurrency {concurrency}: "
            + "; ".join(
                f"{r['p50_ms']:.1f} / {r['p95_ms']:.1f} / {r['p99_ms']:.1f} / {r['max_ms']:.1f} ({r['requests']})"
                for r in runs
            )
        )


if __name__ == "__main__":
    main()
