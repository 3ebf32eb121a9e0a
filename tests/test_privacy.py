"""Privacy: names, ID numbers and phones go into the service database's persons table and nowhere else.

The whole pipeline runs on a small generated city whose PII columns were overwritten with
unique marker strings: ``triage validate``, ``load``, ``train --promote force``, ``score`` and
``monitor`` through the CLI, then the service (champions loaded from MLflow, a key made by
``triage keys create``) scores, batch-scores, shows, reviews and queues cases of named persons.
Every log line (DEBUG), every command's output, every file the pipeline wrote (MLflow
artifacts and its SQLite store, validation outputs, scores, the monitoring report), every HTTP
response body and every text cell of every service table except ``persons`` is then searched for
the markers: there must be none.  So that the test can fail, the markers must be in ``persons``.
"""

from __future__ import annotations

import io
import logging
import sqlite3
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect, select, text
from typer.testing import CliRunner

from tests.support.cities import generated_city
from triage.cli import app as cli
from triage.db import engine_for
from triage.db.base import all_models_metadata
from triage.settings import get_settings

pytestmark = pytest.mark.slow

MARK = "PIIMARK"  # every marker starts with it: PIIMARK-<n>-名 / -身份证 / -电话
PII = {"name": "名", "id_number": "身份证", "phone": "电话"}


def _mark_persons(city: Path) -> int:
    persons = pd.read_csv(city / "persons.csv", dtype=str, keep_default_na=False)
    for column, suffix in PII.items():
        persons[column] = [f"{MARK}-{n}-{suffix}" for n in range(len(persons))]
    persons.to_csv(city / "persons.csv", index=False, lineterminator="\n")
    return len(persons)


def _hits_in_bytes(data: bytes) -> bool:
    return MARK.encode() in data or MARK.encode("utf-16-le") in data


def _scan_file(path: Path) -> list[str]:
    """Where in ``path`` a marker occurs: raw bytes, and decoded where the format compresses text."""
    data = path.read_bytes()
    hits = [str(path)] if _hits_in_bytes(data) else []
    if path.suffix == ".parquet":
        frame = pd.read_parquet(path)
        if frame.astype(str).apply(lambda c: c.str.contains(MARK, regex=False)).any().any() or any(
            MARK in str(c) for c in frame.columns
        ):
            hits.append(f"{path} (decoded parquet)")
    elif zipfile.is_zipfile(io.BytesIO(data)):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            hits += [
                f"{path}!{member}"
                for member in archive.namelist()
                if _hits_in_bytes(archive.read(member))
            ]
    return hits


def _scan_tree(root: Path, skip: set[Path]) -> tuple[list[str], int]:
    hits, scanned = [], 0
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.resolve() not in skip:
            scanned += 1
            hits += _scan_file(path)
    return hits, scanned


def _invoke(runner: CliRunner, outputs: list[str], *args: str) -> str:
    result = runner.invoke(cli, ["-v", *map(str, args)])
    outputs.append(result.output + (result.stderr if result.stderr_bytes is not None else ""))
    assert result.exit_code == 0, (
        f"triage {' '.join(map(str, args))}: {result.output}\n{result.exception!r}"
    )
    return result.stdout


def _case_body(case: pd.Series, persons: list[str]) -> dict:
    body = {
        "case_id": case["case_id"],
        "opened_at": case["opened_at"],
        "household_id": case["household_id"],
        "counterparty_household_id": case["counterparty_household_id"] or None,
        "dispute_type": case["dispute_type"],
        "source": case["source"],
        "description": case["description"] or None,
    }
    for column in ("amount_cny", "parties_count"):
        if case.get(column):
            body[column] = (
                float(case[column]) if column == "amount_cny" else int(float(case[column]))
            )
    return {"case": body, "persons": persons}


def test_pii_markers_stay_in_the_persons_table(tmp_path, monkeypatch, capfd):
    home, city, checked = tmp_path / "home", tmp_path / "city", tmp_path / "out"
    checked.mkdir()
    monkeypatch.setenv("TRIAGE_HOME", str(home))
    monkeypatch.delenv("TRIAGE_DATABASE_URL", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    get_settings.cache_clear()
    log_file = tmp_path / "triage.log"
    handler = logging.FileHandler(log_file, encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    outputs: list[str] = []
    bodies: list[str] = []
    try:
        generated_city(city, "small", seed=11)
        n_persons = _mark_persons(city)

        runner = CliRunner()
        _invoke(runner, outputs, "validate", city, "--out", checked / "validation")
        _invoke(runner, outputs, "load", city)
        _invoke(runner, outputs, "train", city, "--promote", "force")
        _invoke(runner, outputs, "score", city, "--out", checked / "scores.csv")
        _invoke(runner, outputs, "monitor", city, "--out", checked / "monitoring")
        admin_key = _invoke(
            runner, outputs, "keys", "create", "--role", "admin", "--name", "privacy test"
        )
        admin_key = next(word for word in admin_key.split() if word.startswith("trg_"))

        from triage.app import create_app

        settings = get_settings()
        persons = pd.read_csv(city / "persons.csv", dtype=str, keep_default_na=False)
        cases = pd.read_csv(city / "cases.csv", dtype=str, keep_default_na=False).tail(6)
        requests = [
            _case_body(
                case,
                persons.loc[persons["household_id"] == case["household_id"], "person_id"].tolist(),
            )
            for _, case in cases.iterrows()
        ]
        assert any(request["persons"] for request in requests)
        auth = {"Authorization": f"Bearer {admin_key}"}
        with TestClient(create_app(settings), raise_server_exceptions=False) as client:

            def call(method: str, url: str, **kwargs) -> dict | list:
                response = client.request(method, url, headers=auth, **kwargs)
                bodies.append(response.text)
                assert response.status_code < 300, (
                    f"{method} {url}: {response.status_code} {response.text}"
                )
                return response.json() if "json" in response.headers.get("content-type", "") else {}

            assert call("GET", "/readyz")
            score_ids = [
                call("POST", "/v1/cases/score", params={"top": "all"}, json=body)["score_id"]
                for body in requests[:3]
            ]
            call("POST", "/v1/cases/batch-score", json={"cases": requests[3:]})
            for score_id in score_ids:
                call("GET", f"/v1/scores/{score_id}", params={"top": "all"})
            call(
                "POST",
                f"/v1/scores/{score_ids[0]}/review",
                json={"verdict": "agree", "note": "checked by the privacy test"},
            )
            call("GET", "/v1/queue")
            call("GET", "/v1/models")
            call("GET", "/v1/audit")
            call("GET", "/metrics")
            # An error body echoes nothing it was given either.
            bad = client.post(
                "/v1/cases/score",
                headers=auth,
                json={"case": {"case_id": persons["name"].iloc[0]}, "persons": []},
            )
            bodies.append(bad.text)
            assert bad.status_code == 422
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        handler.close()
        captured = capfd.readouterr()
        get_settings.cache_clear()

    leaks: list[str] = []
    leaks += [
        f"log line: {line}"
        for line in log_file.read_text(encoding="utf-8").splitlines()
        if MARK in line
    ]
    leaks += [f"command output: {out[:200]}" for out in outputs if MARK in out]
    leaks += [
        f"process stdout/stderr: {stream[:200]}"
        for stream in (captured.out, captured.err)
        if MARK in stream
    ]
    leaks += [f"HTTP response: {body[:300]}" for body in bodies if MARK in body]

    # Files: the whole home (MLflow store mlflow.db, artifacts under mlartifacts/, models) except the
    # service database (scanned table by table below), and everything the commands wrote.
    # quarantine/persons.csv is exempt: by contract it keeps a rejected row exactly as given.
    # (its -wal/-shm files are the same database, not copies).
    service_db = {
        (home / f"triage.db{suffix}").resolve() for suffix in ("", "-wal", "-shm", "-journal")
    }
    file_hits, scanned = _scan_tree(home, service_db)
    out_hits, out_scanned = _scan_tree(
        checked, {(checked / "validation" / "quarantine" / "persons.csv").resolve()}
    )
    leaks += [f"file: {hit}" for hit in file_hits + out_hits]
    assert (home / "mlflow.db").exists() and any((home / "mlartifacts").rglob("MLmodel"))
    assert scanned > 10 and out_scanned >= 3 and (checked / "scores.csv").exists()

    # The MLflow store, explicitly: params, tags and metric names of every run.
    with sqlite3.connect(home / "mlflow.db") as mlflow_db:
        for table, column in (
            ("params", "key"),
            ("params", "value"),
            ("tags", "value"),
            ("metrics", "key"),
            ("latest_metrics", "key"),
            ("model_version_tags", "value"),
        ):
            rows = mlflow_db.execute(
                f"SELECT {column} FROM {table} WHERE {column} LIKE ?", (f"%{MARK}%",)
            )
            leaks += [f"mlflow {table}.{column}: {row[0][:200]}" for row in rows]

    engine = engine_for(settings.db_url)
    with engine.connect() as connection:
        decisions = connection.execute(text("SELECT COUNT(*) FROM decisions")).scalar_one()
        assert decisions >= len(requests)
        # Read through the models' column types, so that a packed decision is searched unpacked.
        models = all_models_metadata().tables
        for table in inspect(engine).get_table_names():
            if table == "persons":
                continue
            for column in inspect(engine).get_columns(table):
                name = column["name"]
                if table in models and name in models[table].c:
                    query = select(models[table].c[name])
                else:  # alembic_version
                    query = text(f'SELECT "{name}" FROM "{table}"')
                leaks += [
                    f"service db {table}.{name}: {str(v)[:200]}"
                    for v in connection.execute(query).scalars()
                    if v is not None and MARK in str(v)
                ]
        # The markers did reach the one place that may hold them (else the scan proves nothing).
        from triage.db.models import Person

        stored = connection.execute(select(Person.name, Person.id_number, Person.phone)).all()
    assert len(stored) == n_persons
    assert all(all(value and value.startswith(MARK) for value in row) for row in stored)
    assert not leaks, "PII markers leaked:\n" + "\n".join(leaks[:50])
