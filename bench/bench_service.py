"""Latency of a real `triage serve` on SQLite and PostgreSQL, one or two instances, beside MLflow's
scoring server: single-case p50/p95/p99 at concurrency 1 and 8, and 1,000-case batches.

    .venv/bin/python bench/bench_service.py                       # generate, load, train, serve (~25 min)
    .venv/bin/python bench/bench_service.py --data /tmp/b/city --home /tmp/b/home   # reuse both
    .venv/bin/python bench/bench_service.py --seconds 15 --rounds 3 --batches 5     # the docs' run
    .venv/bin/python bench/bench_service.py --database sqlite --instances 1 --peer none   # one setting
    .venv/bin/python bench/bench_service.py --data ... --home ... --stages   # where a case's CPU goes

The service is ``triage serve`` subprocesses on 127.0.0.1 over a generated city (20,000
households) with champions trained on it: for each ``--database`` (SQLite in the home, or a private
PostgreSQL server started for the run with PostgreSQL's durable defaults, fsync and synchronous
commits on, the city loaded into it) and each ``--instances`` count, that many instances share the
database and the ``--workers`` cores between them (one instance ``--workers 2``, two instances
``--workers 1`` each).  Every single-case request asks for the explanation (default top 8) and
names one person, and its decision is stored before the answer, as in production.  Single cases
are sent by wrk (`apt-get install wrk`; a C load generator, so the client takes little of the two
cores the server needs) on ``concurrency`` keep-alive connections for ``--seconds``, spread over the
instances as a load balancer would (one wrk each, their latencies merged), each request a new
case; 1,000-case batches by httpx to the first instance.  After each setting the database is asked
how many decisions were stored for the requests answered, and whether any case was stored twice.

``--peer mlflow`` then measures MLflow's own scoring server (``mlflow models serve --workers 2``)
on the same registered champion in the same way, given the feature rows triage would compute: a
probability and band from ready-made features, without history, SHAP, tiers, routing or storage.

Wall latencies are what a caller sees; the server's CPU time per request (from /proc) is printed
beside them because the machine may be shared.  ``--rounds`` repeats each level on new
connections, and the table gives the worst round's p50, p95 and p99 (every round is printed below
it).  Each request carries a case id not sent before, its case drawn (with replacement) from the
city's more recent half.

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
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
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


def requests_from(data: Path, count: int, seed: int = 0, tag: str = "BENCH") -> list[dict]:
    """New cases (fresh ids, starting with ``tag``) shaped like the dataset's recent ones, each
    naming one household member."""
    cases = pd.read_csv(data / "cases.csv", usecols=CASE_COLUMNS, dtype=str, keep_default_na=False)
    persons = pd.read_csv(data / "persons.csv", usecols=["person_id", "household_id"], dtype=str)
    member = persons.groupby("household_id")["person_id"].first()
    recent = cases[cases["opened_at"] >= cases["opened_at"].sort_values().iloc[len(cases) // 2]]
    sample = recent.sample(count, random_state=seed, replace=len(recent) < count)
    out = []
    for i, row in enumerate(sample.itertuples(index=False)):
        case = {c: (getattr(row, c) or None) for c in CASE_COLUMNS}
        case["case_id"] = f"{tag}-{seed}-{i}-{case['case_id']}"
        case["parties_count"] = int(case["parties_count"])
        case["amount_cny"] = float(case["amount_cny"]) if case["amount_cny"] else None
        named = [member[row.household_id]] if row.household_id in member.index else []
        out.append({"case": case, "as_of": case["opened_at"], "persons": named})
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and every live process under it (workers, and their workers)."""
    tick = os.sysconf("SC_CLK_TCK")
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    own = (int(fields[11]) + int(fields[12])) / tick
    return own + sum(cpu_seconds(int(child)) for child in children)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


WRK_SCRIPT = Path(__file__).resolve().parent / "wrk_score.lua"
MAX_RATE = 600  # requests per second the bodies are made for: no case id is sent twice below it


def _wrk(
    base: str, key: str | None, bodies: list[dict], connections: int, seconds: float, path: str
):
    """A wrk process sending ``bodies`` in turn to ``base + path`` on ``connections`` connections."""
    lines = tempfile.NamedTemporaryFile("w", suffix=".jsonl", encoding="utf-8", delete=False)
    with lines:
        lines.writelines(json.dumps(body, ensure_ascii=False) + "\n" for body in bodies)
    env = {**os.environ, "TRIAGE_BENCH_BODIES": lines.name, "TRIAGE_BENCH_PATH": path}
    if key:
        env["TRIAGE_BENCH_KEY"] = key
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s"]
    process = subprocess.Popen(
        [*command, "-s", str(WRK_SCRIPT), base], stdout=subprocess.PIPE, text=True, env=env
    )
    return process, lines.name


def merged(runs: list[dict]) -> dict:
    """One summary of wrk runs that ran side by side: each run's latency quantiles weighted by its
    requests, so two instances' runs give the percentiles of all their requests together."""
    samples = sorted(
        (value, run["requests"] / len(run["quantiles_ms"]))
        for run in runs
        for value in run["quantiles_ms"]
    )
    total = sum(weight for _, weight in samples)

    def at(q: float) -> float:
        seen = 0.0
        for value, weight in samples:
            seen += weight
            if seen >= q / 100 * total - 1e-9:
                return value
        return samples[-1][0]

    return {
        "requests": sum(run["requests"] for run in runs),
        "refused": sum(run["refused"] for run in runs),
        "failed": sum(run["failed"] for run in runs),
        "seconds": max(run["seconds"] for run in runs),
        "p50_ms": at(50),
        "p95_ms": at(95),
        "p99_ms": at(99),
        "max_ms": max(run["max_ms"] for run in runs),
    }


def wrk_latencies(
    bases: list[str],
    key: str | None,
    bodies: list[dict],
    concurrency: int,
    seconds: float,
    path: str = "/v1/cases/score",
) -> dict:
    """``concurrency`` connections spread evenly over ``bases`` (one wrk process each, as a load
    balancer would spread them; a single connection goes to the first), sending ``bodies`` for
    ``seconds``; their merged summary."""
    shares = [concurrency // len(bases) + (i < concurrency % len(bases)) for i in range(len(bases))]
    used = [(base, share) for base, share in zip(bases, shares) if share]
    started = [
        _wrk(base, key, bodies[i :: len(used)], share, seconds, path)
        for i, (base, share) in enumerate(used)
    ]
    runs = []
    for process, lines in started:
        out, _ = process.communicate()
        os.unlink(lines)
        if process.returncode != 0:
            raise SystemExit(f"wrk failed with exit code {process.returncode}")
        runs.append(json.loads(out.strip().splitlines()[-1]))
    return merged(runs)


def start_server(
    port: int, workers: int, env: dict, command: list[str] | None = None
) -> subprocess.Popen:
    """``triage serve`` (or ``command``) on ``port``, once it answers ``/healthz`` (``/ping``)."""
    process = subprocess.Popen(
        command or TRIAGE + ["serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    probe = f"http://127.0.0.1:{port}/" + ("ping" if command else "healthz")
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(
                f"{(command or ['triage serve'])[0]} exited:\n{process.stderr.read()[-3000:]}"
            )
        try:
            if httpx.get(probe, timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    stop(process)
    raise SystemExit(f"{probe} did not answer within 180 s")


def stop(process: subprocess.Popen) -> None:
    """Stop a server and every process it started (uvicorn or gunicorn workers)."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


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


def single_case_rounds(
    bases: list[str], key: str | None, bodies_for, args, pids: list[int], path: str
) -> tuple[list[tuple], list[tuple]]:
    """The wrk rounds at each concurrency: table rows (worst round) and every round's summary."""
    rows, rounds = [], []
    for level, concurrency in enumerate(args.concurrency):
        bodies = bodies_for(args.rounds * args.seconds * MAX_RATE, level)
        cpu = sum(cpu_seconds(pid) for pid in pids)
        runs = [
            wrk_latencies(bases, key, bodies[r :: args.rounds], concurrency, args.seconds, path)
            for r in range(args.rounds)
        ]
        cpu = sum(cpu_seconds(pid) for pid in pids) - cpu
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
    return rows, rounds


def batch_row(base: str, key: str | None, bodies_for, args, pids: list[int], path: str) -> tuple:
    """``--batches`` requests of ``--batch-size`` cases each: the median and range of their wall time."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    with httpx.Client(base_url=base, headers=headers, timeout=300) as client:
        seconds, cpus, failed = [], [], 0
        for rep in range(args.batches):
            body = bodies_for(args.batch_size, 1000 + rep)
            cpu, start = sum(cpu_seconds(pid) for pid in pids), time.perf_counter()
            response = client.post(path, json=body)
            seconds.append(time.perf_counter() - start)
            cpus.append(sum(cpu_seconds(pid) for pid in pids) - cpu)
            failed += response.status_code != 200
    return (
        f"batch of {args.batch_size:,}",
        args.batches,
        failed,
        f"median {statistics.median(seconds):.2f} s (min {min(seconds):.2f}, max {max(seconds):.2f})",
        f"{args.batch_size / statistics.median(seconds):,.0f} cases/s",
        f"{statistics.median(cpus):.2f} s",
    )


def stored_decisions(database_url: str, tag: str) -> tuple[int, int]:
    """(decisions, distinct cases) of the cases whose ids start with ``tag``: every request of a
    measurement carries a new case id, so the two are equal unless a decision was stored twice."""
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    with engine.connect() as connection:
        count, distinct = connection.execute(
            text(
                "SELECT COUNT(*), COUNT(DISTINCT case_id) FROM decisions WHERE case_id LIKE :like"
            ),
            {"like": f"{tag}-%"},
        ).one()
    engine.dispose()
    return count, distinct


def measure_triage(data: Path, env: dict, database: str, instances: int, args) -> dict:
    """``instances`` × ``triage serve`` on one database: single cases, batches, and the decisions kept."""
    database_url = env.get("TRIAGE_DATABASE_URL") or f"sqlite:///{env['TRIAGE_HOME']}/triage.db"
    key = _run(["keys", "create", "--role", "scorer", "--name", "bench"], env).strip()
    workers = max(1, args.workers // instances)
    tag = f"BENCH{secrets.token_hex(4)}"  # this measurement's case ids
    cases = lambda n, seed: requests_from(data, n, seed, tag)  # noqa: E731
    load_before = os.getloadavg()[0]
    servers = [start_server(_free_port(), workers, env) for _ in range(instances)]
    try:
        bases = [
            f"http://127.0.0.1:{server.args[server.args.index('--port') + 1]}" for server in servers
        ]
        pids = [server.pid for server in servers]
        warm = wrk_latencies(bases, key, cases(5 * MAX_RATE, 99), 8, 5)
        rows, rounds = single_case_rounds(bases, key, cases, args, pids, "/v1/cases/score")
        rows.append(
            batch_row(
                bases[0],
                key,
                lambda n, seed: {"cases": cases(n, seed)},
                args,
                pids,
                "/v1/cases/batch-score",
            )
        )
    finally:
        for server in servers:
            stop(server)
    answered = (
        warm["requests"]
        - warm["refused"]
        + sum(run["requests"] - run["refused"] for _, runs in rounds for run in runs)
    )
    answered += (
        args.batches * args.batch_size
    )  # a failed batch stores nothing, and shows in the table
    stored, distinct = stored_decisions(database_url, tag)
    return {
        "title": f"triage serve: {database}, {instances} instance{'s' * (instances > 1)} "
        f"× --workers {workers}",
        "load": (load_before, os.getloadavg()[0]),
        "rows": rows,
        "rounds": rounds,
        "kept": (
            f"{stored:,} decisions stored for {answered:,} answered requests "
            f"(wrk stops counting with up to {max(args.concurrency)} requests in flight), "
            f"{stored - distinct} stored twice"
        ),
    }


def peer_bodies(data: Path, home: Path, count: int, seed: int) -> list[dict]:
    """The feature rows of ``requests_from(data, count, seed)``'s cases, as the MLflow scoring server
    takes them (``dataframe_split``): the peer is given what triage computes itself."""
    from triage.data_contracts import validate_dataset
    from triage.features import build_case_features
    from triage.models.registry import configure_mlflow, load_native
    from triage.settings import Settings

    settings = Settings(home=home)
    configure_mlflow(settings)
    model = load_native(f"models:/{settings.escalation_model_name}@{settings.champion_alias}")
    cases = pd.DataFrame([body["case"] for body in requests_from(data, count, seed)])
    cases["opened_at"] = pd.to_datetime(cases["opened_at"], utc=True)
    cases["as_of"] = cases["opened_at"]
    tables = validate_dataset(data).valid
    features = build_case_features(cases, tables, text_model=model.text_model_)
    frame = model.schema_.signature_frame(features[model.feature_names_])
    split = json.loads(frame.to_json(orient="split", index=False))
    return [
        {"dataframe_split": {"columns": split["columns"], "data": [row]}} for row in split["data"]
    ]


def measure_mlflow_peer(data: Path, home: Path, env: dict, args) -> dict:
    """MLflow's own scoring server on the same champion, given ready-made feature rows."""
    from triage.settings import Settings

    settings = Settings(home=home)
    port = _free_port()
    command = [
        str(Path(sys.executable).with_name("mlflow")),
        "models",
        "serve",
        "-m",
        f"models:/{settings.escalation_model_name}@{settings.champion_alias}",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(args.workers),
        "--env-manager",
        "local",
    ]
    print("feature rows for the MLflow scoring server ...", flush=True)
    pool = peer_bodies(data, home, 4000, seed=5)
    bodies_for = lambda n, seed: [pool[(seed * 7919 + i) % len(pool)] for i in range(n)]  # noqa: E731
    batch_for = lambda n, seed: {  # noqa: E731
        "dataframe_split": {
            "columns": pool[0]["dataframe_split"]["columns"],
            "data": [b["dataframe_split"]["data"][0] for b in bodies_for(n, seed)],
        }
    }
    peer_env = {
        **env,
        "MLFLOW_TRACKING_URI": settings.mlflow_tracking_uri,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",  # its uvicorn
    }
    load_before = os.getloadavg()[0]
    server = start_server(port, args.workers, peer_env, command)
    try:
        base = f"http://127.0.0.1:{port}"
        wrk_latencies([base], None, bodies_for(5 * MAX_RATE, 99), 8, 5, "/invocations")
        rows, rounds = single_case_rounds(
            [base], None, bodies_for, args, [server.pid], "/invocations"
        )
        rows.append(batch_row(base, None, batch_for, args, [server.pid], "/invocations"))
    finally:
        stop(server)
    return {
        "title": f"MLflow scoring server (mlflow models serve --workers {args.workers}), "
        "probability and band from given feature rows",
        "load": (load_before, os.getloadavg()[0]),
        "rows": rows,
        "rounds": rounds,
        "kept": None,
    }


def show(result: dict) -> None:
    print(
        f"\n{result['title']}; 1-minute load average {result['load'][0]:.1f} before, {result['load'][1]:.1f} after"
    )
    header = ("what", "n", "failed", "wall latency", "throughput", "server CPU each")
    rows = result["rows"]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print(" | ".join(str(cell).ljust(w) for cell, w in zip(row, widths)))
    if result["kept"]:
        print(result["kept"])
    print("wrk rounds (p50 / p95 / p99 / max ms, requests):")
    for concurrency, runs in result["rounds"]:
        print(
            f"  concurrency {concurrency}: "
            + "; ".join(
                f"{r['p50_ms']:.1f} / {r['p95_ms']:.1f} / {r['p99_ms']:.1f} / {r['max_ms']:.1f} ({r['requests']})"
                for r in runs
            )
        )


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
        "--workers",
        type=int,
        default=2,
        help="worker processes in all (one per core), split between the instances",
    )
    parser.add_argument(
        "--database",
        nargs="*",
        choices=["sqlite", "postgresql"],
        default=["sqlite", "postgresql"],
        help="PostgreSQL: a private server started for the run, with durable commits "
        "(no value: the peer only)",
    )
    parser.add_argument(
        "--instances",
        type=int,
        nargs="+",
        default=[1, 2],
        help="triage serve instances sharing the database (wrk spreads the connections)",
    )
    parser.add_argument(
        "--peer",
        choices=["mlflow", "none"],
        default="mlflow",
        help="measure MLflow's scoring server too",
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

    results = []
    for database in args.database:
        with ExitStack() as stack:
            database_env = dict(env)
            if database == "postgresql":
                sys.path.insert(0, str(ROOT))
                from tests.support.postgres import throwaway_postgres

                server = stack.enter_context(throwaway_postgres(durable=True))
                database_env["TRIAGE_DATABASE_URL"] = f"{server}/postgres"
                print(f"loading {data} into PostgreSQL ...", flush=True)
                _run(["load", str(data)], database_env)
            for instances in args.instances:
                print(f"measuring {database}, {instances} instance(s) ...", flush=True)
                results.append(measure_triage(data, database_env, database, instances, args))
    if args.peer == "mlflow":
        print("measuring the MLflow scoring server ...", flush=True)
        results.append(measure_mlflow_peer(data, home, env, args))

    print(f"\nmachine: {describe()}; data {data}, home {home}")
    for result in results:
        show(result)


if __name__ == "__main__":
    main()
