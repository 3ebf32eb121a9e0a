"""``triage load`` and ``triage score`` meeting what an operator meets: one line on stderr, a documented
exit code, no traceback, and no personal data even when the database refuses a ``persons`` row."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.db.test_cli_load import PII_OF_THE_TINY_CITY
from tests.support.refusing import persons_refused

TRIAGE = Path(sys.executable).with_name("triage")
UNREACHABLE_POSTGRES = "postgresql+psycopg://triage@127.0.0.1:1/triage"


def triage(*args: str | Path, home: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("TRIAGE_", "MLFLOW_"))}
    environment.update(TRIAGE_HOME=str(home), **env)
    return subprocess.run(
        [TRIAGE, *map(str, args)], capture_output=True, text=True, env=environment, timeout=300
    )


def one_line(result: subprocess.CompletedProcess, code: int) -> str:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    return errors[0]


def test_a_refused_persons_write_exits_3_without_pii(db_url, tiny_city_folder, tmp_path):
    with persons_refused(db_url):
        result = triage(
            "load", tiny_city_folder, "--db", db_url, home=tmp_path, TRIAGE_LOG_LEVEL="DEBUG"
        )
    assert "the database failed" in one_line(result, 3)
    for pii in PII_OF_THE_TINY_CITY:
        assert pii not in result.stdout + result.stderr


def test_load_into_an_unreachable_database_exits_3(tiny_city_folder, tmp_path):
    line = one_line(
        triage("load", tiny_city_folder, "--db", UNREACHABLE_POSTGRES, home=tmp_path), 3
    )
    assert "OperationalError" in line


def test_an_unreadable_dataset_exits_2(tmp_path):
    for command in (
        ["load", tmp_path / "missing"],
        ["score", tmp_path / "missing", "--out", tmp_path / "s.csv"],
    ):
        assert "is not a folder" in one_line(triage(*command, home=tmp_path), 2)


def test_score_to_an_unwritable_out_exits_4_before_any_work(tiny_city_folder, tmp_path):
    (tmp_path / "a-file").write_text("")
    for out in (tmp_path / "a-file" / "scores.csv", tmp_path, tmp_path / "scores.txt"):
        one_line(triage("score", tiny_city_folder, "--out", out, home=tmp_path), 4)


def test_score_with_an_unreachable_model_registry_exits_5(tiny_city_folder, tmp_path):
    result = triage(
        "score",
        tiny_city_folder,
        "--out",
        tmp_path / "scores.csv",
        home=tmp_path,
        MLFLOW_TRACKING_URI="http://127.0.0.1:1",
        MLFLOW_HTTP_REQUEST_MAX_RETRIES="0",
        MLFLOW_HTTP_REQUEST_TIMEOUT="5",
    )
    assert "the model registry failed" in one_line(result, 5)
    assert not (tmp_path / "scores.csv").exists()


def test_serve_without_a_workbench_secret_exits_6_before_starting(tmp_path):
    for secret in ({}, {"TRIAGE_WORKBENCH_SECRET": "short"}):
        assert "TRIAGE_WORKBENCH_SECRET" in one_line(
            triage("serve", "--port", "1", home=tmp_path, **secret), 6
        )
