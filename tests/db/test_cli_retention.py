"""`triage retention apply`: the exchange tables past their periods, through the command line, on both
databases (the decisions' part is in tests/serving/test_decision_retention.py)."""

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from tests.support.domain import SHIPPED_DOMAIN
from tests.support.retention import (
    AS_OF,
    EXPECTED,
    EXPECTED_COUNTS,
    MARKERS,
    POLICY,
    domain_with_retention,
    retention_city,
    table_changes,
)
from triage.cli import app
from triage.db import engine_for, read_tables
from triage.db.load import load_frames
from triage.db.service_models import AuditEntry
from triage.config.domain import DomainFileInvalid
from triage.config import load_domain
from triage.settings import get_settings

runner = CliRunner()


@pytest.fixture
def retention_domain(tmp_path, monkeypatch):
    monkeypatch.setenv("TRIAGE_DOMAIN_FILE", str(domain_with_retention(tmp_path)))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def retention(db_url: str, *options: str) -> list[str]:
    result = runner.invoke(
        app, ["retention", "apply", "--as-of", AS_OF.isoformat(), "--db", db_url, *options]
    )
    assert result.exit_code == 0, result.output
    assert not any(marker in result.output for marker in MARKERS)
    return result.stdout.strip().splitlines()


def counts(lines: list[str]) -> list[tuple[str, str, int]]:
    """(table, kind, count) of each report line after the first."""
    out = []
    for line in lines[1:]:
        head, rest = line.split(": ", 1)
        table, kind = head.rstrip(")").split(" (")
        out.append((table, kind, int(next(w for w in rest.split() if w.isdigit()))))
    return out


def audit_entries(db_url: str) -> list[AuditEntry]:
    with Session(engine_for(db_url)) as session:
        return list(
            session.scalars(select(AuditEntry).where(AuditEntry.action == "retention.apply"))
        )


def test_a_dry_run_counts_an_application_masks_exactly_what_is_past_its_period_and_a_second_does_nothing(
    db_url, retention_domain
):
    load_frames(db_url, retention_city().tables())
    original = read_tables(db_url, include_pii=True)

    dry = retention(db_url, "--dry-run")
    assert dry[0] == "retention as of 2025-06-01 00:00 UTC: dry run, nothing changed"
    assert counts(dry) == EXPECTED_COUNTS
    assert (
        "screenings (health): 3 rows recorded before 2024-06-01 00:00 UTC (365 days) would be deleted"
        in dry
    )
    assert table_changes(original, read_tables(db_url, include_pii=True)) == {
        t: {"deleted": set(), "masked": set()} for t in original
    }
    assert audit_entries(db_url) == []

    applied = retention(db_url)
    assert applied[0] == "retention as of 2025-06-01 00:00 UTC: applied and audited"
    assert counts(applied) == EXPECTED_COUNTS
    after = read_tables(db_url, include_pii=True)
    changes = table_changes(original, after)
    assert {t: c for t, c in changes.items() if c["deleted"] or c["masked"]} == EXPECTED
    (entry,) = audit_entries(db_url)
    assert [(r["table"], r["data"], r["count"]) for r in entry.detail["rules"]] == EXPECTED_COUNTS
    assert entry.key_id is None and not any(m in str(entry.detail) for m in MARKERS)

    again = retention(db_url)
    assert [n for *_, n in counts(again)] == [0] * len(EXPECTED_COUNTS)
    assert table_changes(after, read_tables(db_url, include_pii=True)) == {
        t: {"deleted": set(), "masked": set()} for t in after
    }
    assert len(audit_entries(db_url)) == 2


@pytest.mark.parametrize(
    "rule, complaint",
    [
        (
            {"table": "persons", "data": "identity", "action": "delete", "days": 30},
            "refer to its rows",
        ),
        (
            {
                "table": "screenings",
                "data": "health",
                "action": "mask",
                "columns": ["score"],
                "days": 30,
            },
            "may not be empty",
        ),
        (
            {
                "table": "hotline_calls",
                "data": "call_text",
                "action": "mask",
                "columns": ["text"],
                "days": 0,
            },
            "greater than 0",
        ),
    ],
)
def test_a_rule_that_cannot_run_is_refused_with_its_reason(tmp_path, rule, complaint):
    with pytest.raises(DomainFileInvalid, match=complaint):
        load_domain(domain_with_retention(tmp_path, {**POLICY, "rules": [rule]}))


def test_the_command_refuses_rules_that_cannot_run_in_one_line_and_exit_6(tmp_path, monkeypatch):
    bad = {**POLICY, "rules": [{"table": "persons", "data": "x", "action": "delete", "days": 9}]}
    monkeypatch.setenv("TRIAGE_DOMAIN_FILE", str(domain_with_retention(tmp_path, bad)))
    get_settings.cache_clear()
    result = runner.invoke(app, ["retention", "apply", "--db", f"sqlite:///{tmp_path / 'x.db'}"])
    get_settings.cache_clear()
    assert result.exit_code == 6 and "retention.rules.0" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_the_shipped_periods_are_valid_rules_marked_as_placeholders():
    policy = SHIPPED_DOMAIN.retention
    assert policy.placeholders
    assert {r.table for r in policy.rules} >= {
        "screenings",
        "psych_assessments",
        "persons",
        "hotline_calls",
        "decisions",
    }
