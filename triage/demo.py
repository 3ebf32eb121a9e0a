"""`triage demo`: the whole product on embedded defaults, from an empty home to a running service.

generate → validate → load → train + register + promote → score a demo queue → keys → serve.
Every step is the same code the single commands run; a second run reuses what the first built and
changes nothing already there: the same city, champions, keys (kept in ``<home>/demo/keys.json``,
readable by its owner only) and decisions.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
from datetime import date
from pathlib import Path

import pandas as pd
import typer

from triage.settings import Settings, get_settings

log = logging.getLogger(__name__)
DEMO_SEED = 7
DEMO_QUEUE_CASES = 200
ROLES = ("scorer", "analyst", "admin")


def _step(message: str) -> None:
    typer.secho(f"==> {message}", fg=typer.colors.CYAN, err=True)


def prepare_data(settings: Settings, households: int) -> Path:
    """Generate (once) and validate the synthetic city, then upsert it into the service database."""
    from triage.data_contracts import validate_dataset, write_validation_outputs
    from triage.db import load_frames, migrate
    from triage.synth import generate_city

    city = settings.home / "demo" / f"city-{households}"
    if not (city / "cases.csv").exists():
        _step(f"generating a synthetic city of {households:,} households in {city}")
        generate_city(
            city,
            households=households,
            seed=DEMO_SEED,
            start=date(2022, 1, 1),
            end=date(2025, 6, 30),
        )
    _step("validating it against the data contract")
    result = validate_dataset(city)
    write_validation_outputs(result, settings.home / "demo" / "validation")
    typer.echo(result.one_line_summary(), err=True)
    _step(f"loading the valid rows into {settings.db_url}")
    migrate(settings.db_url)
    counts = load_frames(settings.db_url, result.valid)
    typer.echo(json.dumps({t: c["inserted"] for t, c in counts.items()}), err=True)
    return city


def ensure_champions(settings: Settings, city: Path) -> None:
    """Train and promote both models unless champions are already registered."""
    from triage.models.registry import configure_mlflow, version_by_alias
    from triage.training.pipeline import train

    client = configure_mlflow(settings)
    names = (settings.escalation_model_name, settings.tier_model_name)
    if all(version_by_alias(client, n, settings.champion_alias) for n in names):
        _step(
            "champions already registered in MLflow: reusing them (`triage retrain` makes new ones)"
        )
        return
    _step("training both models out of time and registering them in MLflow (a few minutes)")
    summary = train(city, settings=settings, promote="auto")
    refused = {role: d["reason"] for role, d in summary["promotion"].items() if not d["promoted"]}
    if refused:  # a demo needs champions to serve; say why the gates said no, then promote anyway
        typer.secho(
            f"gates refused {refused}; promoting these first versions for the demo only",
            fg=typer.colors.YELLOW,
            err=True,
        )
        for role, name in zip(("escalation", "tier"), names):
            if role in refused:
                client.set_registered_model_alias(
                    name, settings.champion_alias, summary["promotion"][role]["version"]
                )
    model, oracle = summary["escalation"]["model"], summary["escalation"].get("oracle", {})
    typer.echo(
        f"escalation AUC {model['roc_auc']:.3f} (oracle {oracle.get('roc_auc', float('nan')):.3f}, "
        f"checklist {summary['escalation']['checklist']['roc_auc']:.3f}); versions {summary['versions']}",
        err=True,
    )


def keys_file(settings: Settings) -> Path:
    return settings.home / "demo" / "keys.json"


def demo_keys(settings: Settings) -> tuple[dict[str, str], bool]:
    """The demo's key per role: an earlier run's while every one of them is still valid, so that a second run
    issues none; else new ones, written to :func:`keys_file` (mode 0600).  True when they are new."""
    from triage.decisions.keys import create_key, open_key_session

    path = keys_file(settings)
    with open_key_session(settings) as session:
        if path.exists():
            keys = json.loads(path.read_text())
            if all(_valid(session, keys.get(role, "")) for role in ROLES):
                return keys, False
        keys = {role: create_key(session, role, f"demo {role}")[1] for role in ROLES}
        session.commit()
    path.parent.mkdir(parents=True, exist_ok=True)
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as fh:
        json.dump(keys, fh, indent=1)
    return keys, True


def _valid(session, plain: str) -> bool:
    """Whether ``plain`` is a stored, unrevoked key."""
    from argon2 import PasswordHasher
    from argon2.exceptions import InvalidHashError, VerificationError

    from triage.db.service_models import ApiKey
    from triage.decisions.keys import key_id_of

    row = session.get(ApiKey, key_id_of(plain) or "")
    if row is None or row.revoked_at is not None:
        return False
    try:
        return PasswordHasher().verify(row.hash, plain)
    except (VerificationError, InvalidHashError):
        return False


def score_demo_queue(settings: Settings, city: Path, key_id: str) -> tuple[int, int]:
    """Score the latest cases as of their opening (with their household's members) and store the decisions;
    a case with a stored decision already is left as it is.  (Decisions stored, demo cases left.)"""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from triage.db import engine_for
    from triage.db.service_models import Decision
    from triage.decisions.scoring import Scorer, score_and_store
    from triage.decisions.types import CaseIn, ScoreRequest
    from triage.models.registry import load_champions

    cases = pd.read_csv(city / "cases.csv", dtype=str, keep_default_na=False).tail(DEMO_QUEUE_CASES)
    engine = engine_for(settings.db_url)
    with Session(engine) as session:
        stored = set(
            session.scalars(
                select(Decision.case_id).where(Decision.case_id.in_(cases["case_id"].tolist()))
            )
        )
    cases = cases[~cases["case_id"].isin(stored)]
    if cases.empty:
        return 0, len(stored)
    persons = pd.read_csv(city / "persons.csv", usecols=["person_id", "household_id"], dtype=str)
    members = persons.groupby("household_id")["person_id"].apply(list)
    requests = [
        ScoreRequest.model_validate(
            {
                "case": {k: (row[k] or None) for k in CaseIn.model_fields},
                "as_of": row["opened_at"],
                "persons": members.get(row["household_id"], [])[:3],
            }
        )
        for _, row in cases.iterrows()
    ]
    with Session(engine) as session:
        scored = score_and_store(
            session, Scorer(settings, engine), load_champions(settings), requests, key_id
        )
    return len(scored), len(stored)


def port_in_use(port: int) -> bool:
    """Whether something already listens on 127.0.0.1:``port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def start_mlflow_ui(settings: Settings, port: int = 5000) -> subprocess.Popen | None:
    """The MLflow UI on the same stores, so the printed link works; the demo runs on without it."""
    try:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mlflow",
                "ui",
                "--backend-store-uri",
                settings.mlflow_tracking_uri,
                "--default-artifact-root",
                settings.mlflow_artifact_root,
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    except OSError as exc:
        log.warning("MLflow UI not started: %s", exc)
        return None


def run_demo(
    *, households: int = 20_000, serve: bool = True, port: int = 8000, mlflow_port: int = 5000
) -> dict[str, str]:
    os.environ["TRIAGE_MLFLOW_UI_URL"] = (
        f"http://127.0.0.1:{mlflow_port}/"  # the workbench links to it
    )
    get_settings.cache_clear()
    settings = get_settings()
    settings.ensure_home()
    city = prepare_data(settings, households)
    ensure_champions(settings, city)
    keys, new_keys = demo_keys(settings)
    _step(f"scoring the latest {DEMO_QUEUE_CASES} cases into the analysts' queue")
    scored, kept = score_demo_queue(settings, city, keys["scorer"].split("_")[1])
    base = f"http://127.0.0.1:{port}"
    typer.echo(
        f"\n{scored} decisions stored"
        + (
            f"; {kept} demo cases were in the queue already and are left as they were"
            if kept
            else ""
        )
        + ".\n"
        f"  API docs        {base}/docs\n"
        f"  Workbench       {base}/ui/   (sign in with the analyst or admin key)\n"
        f"  MLflow UI       {settings.mlflow_ui_url}\n"
        + "".join(f"  {role:<8} key  {key}\n" for role, key in keys.items())
        + f"  ({'new keys, kept' if new_keys else 'the keys of the first run, from'} {keys_file(settings)})\n"
        + f"\nTry:  curl -H 'Authorization: Bearer {keys['analyst']}' {base}/v1/queue?limit=3\n"
    )
    if serve:
        mlflow_ui = start_mlflow_ui(settings, mlflow_port)
        try:
            import uvicorn

            uvicorn.run(
                "triage.app:create_app",
                factory=True,
                host="127.0.0.1",
                port=port,
                log_level=settings.log_level.lower(),
                access_log=False,
            )
        finally:
            if mlflow_ui is not None:
                mlflow_ui.terminate()
    return keys
