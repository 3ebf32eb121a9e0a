"""An independent reading of docs/data-format.md: row rules, the 民转刑 label, threat phrases.

Written from the contract text, not from the generator's code, so that a generator bug does
not hide behind the same mistake in the test.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pandas as pd

from triage.contract import ESCALATION_OFFENCES, RULES, TABLE_ORDER, TABLES

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+08:00$")
INTEGER = re.compile(r"^\d+$")
DECIMAL = re.compile(r"^\d+(\.\d+)?$")


def read_tables(folder: Path) -> dict[str, pd.DataFrame]:
    """Every table as text, with empty fields as missing: the file as written."""
    return {
        name: pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False, na_values=[""])
        for name in TABLE_ORDER
    }


def parse_times(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, format="ISO8601", utc=True, errors="coerce")


def first_broken_rule(tables: dict[str, pd.DataFrame]) -> dict[str, pd.Series]:
    """For each row, the first rule of ``RULES`` it breaks (None when valid), table by table in
    reference order so that references are checked against the *valid* rows of the parent."""
    valid_keys: dict[str, set] = {}
    valid_rows: dict[str, pd.DataFrame] = {}
    verdicts = {}
    for name in TABLE_ORDER:
        frame, spec = tables[name], TABLES[name]
        broken = {rule: pd.Series(False, index=frame.index) for rule in RULES}
        for column in spec.columns:
            values = frame[column.name]
            present = values.notna()
            text = values.fillna("")
            if not column.nullable:
                broken["missing_required"] |= ~present
            if column.type == "id":
                broken["bad_id"] |= present & ((text.str.len() > 64) | (text.str.strip() != text))
            elif column.type == "timestamp":
                broken["bad_timestamp"] |= present & (
                    ~text.str.match(TIMESTAMP) | parse_times(values).isna()
                )
            elif column.type == "bool":
                broken["bad_bool"] |= present & ~text.isin(["true", "false"])
            elif column.type in ("int", "decimal"):
                pattern = INTEGER if column.type == "int" else DECIMAL
                malformed = present & ~text.str.match(pattern)
                broken["bad_int" if column.type == "int" else "bad_decimal"] |= malformed
                number = pd.to_numeric(values.where(~malformed), errors="coerce")
                high = date.today().year if column.max_is_current_year else column.max
                broken["out_of_range"] |= (number < column.min) if column.min is not None else False
                broken["out_of_range"] |= (number > high) if high is not None else False
            elif column.type == "enum":
                broken["bad_enum"] |= present & ~text.isin(column.values)
            elif column.type == "text":
                broken["text_too_long"] |= text.str.len() > 4000
            if column.references:
                parent = column.references.split(".")[0]
                broken["unknown_reference"] |= present & ~values.isin(valid_keys[parent])
        if name == "cases":
            broken["inconsistent"] |= frame["counterparty_household_id"] == frame["household_id"]
            broken["time_order"] |= parse_times(frame["closed_at"]) < parse_times(
                frame["opened_at"]
            )
        if name == "screenings":
            broken["inconsistent"] |= (frame["instrument"] == "gad7") & frame["item9"].notna()
        if name == "mediation_events":
            opened = parse_times(
                frame["case_id"].map(valid_rows["cases"].set_index("case_id")["opened_at"])
            )
            broken["time_order"] |= parse_times(frame["at"]) < opened
        broken["duplicate_id"] |= frame[spec.key].duplicated(keep="first")
        verdict = pd.Series(None, index=frame.index, dtype=object)
        for rule in reversed(list(RULES)):
            verdict[broken[rule].fillna(False).astype(bool)] = rule
        verdicts[name] = verdict
        valid_rows[name] = frame[verdict.isna()]
        valid_keys[name] = set(valid_rows[name][spec.key])
    return verdicts


def escalation_labels(
    tables: dict[str, pd.DataFrame], end: date, horizon_days: int = 180
) -> pd.DataFrame:
    """docs/data-format.md "The labels": a violent incident on either household (or naming the
    case) in (opened_at, opened_at + H]; cases opened less than H days before the end are
    censored."""
    cases = tables["cases"].assign(opened=parse_times(tables["cases"]["opened_at"]))
    incidents = tables["incidents"]
    violent = incidents[incidents["offence"].isin(ESCALATION_OFFENCES)].assign(
        occurred=parse_times(incidents["occurred_at"])
    )
    horizon = pd.Timedelta(days=horizon_days)
    hits = []
    for side in ("household_id", "counterparty_household_id", "case_id"):
        left = cases[["case_id", "opened"]].assign(key=cases[side]).dropna()
        right_key = "case_id" if side == "case_id" else "household_id"
        right = violent[[right_key, "occurred"]].dropna().rename(columns={right_key: "key"})
        joined = left.merge(right, on="key")
        inside = (joined["occurred"] > joined["opened"]) & (
            joined["occurred"] <= joined["opened"] + horizon
        )
        hits.append(joined.loc[inside, "case_id"])
    end_of_data = pd.Timestamp(end.isoformat(), tz="Asia/Shanghai") + pd.Timedelta(days=1)
    return pd.DataFrame(
        {
            "case_id": cases["case_id"],
            "escalated": cases["case_id"].isin(pd.concat(hits)),
            "labelled": cases["opened"] + horizon <= end_of_data,
            "opened": cases["opened"],
            "household_id": cases["household_id"],
        }
    )


def threat_share(texts: pd.Series, phrases: list[str]) -> float:
    return (
        float(texts.fillna("").str.contains("|".join(map(re.escape, phrases))).mean())
        if len(texts)
        else 0.0
    )
