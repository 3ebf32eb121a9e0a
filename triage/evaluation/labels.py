"""Labels exactly as docs/data-format.md "The labels" defines them."""

from __future__ import annotations

import pandas as pd

from triage.contract import ESCALATION_OFFENCES, TABLES


def dataset_end(tables: dict[str, pd.DataFrame]) -> pd.Timestamp:
    """The end of the data: the latest own-time of any row (an export carries no explicit date)."""
    latest = [
        tables[name][spec.time_column].max()
        for name, spec in TABLES.items()
        if spec.time_column and name in tables and len(tables[name])
    ]
    return max(t for t in latest if pd.notna(t))


def escalation_labels(
    cases: pd.DataFrame, incidents: pd.DataFrame, *, horizon_days: int, data_end: pd.Timestamp
) -> pd.Series:
    """1.0 when a violent incident follows the case within H days, 0.0 when none did, NA when censored.

    An incident counts when its offence is violent, it involves the case's household or its
    counterparty household (or names the case), and ``opened_at < occurred_at ≤ opened_at + H``.
    A case opened less than H days before ``data_end`` has no label yet.
    """
    horizon = pd.Timedelta(days=horizon_days)
    violent = incidents.loc[
        incidents["offence"].isin(ESCALATION_OFFENCES), ["household_id", "case_id", "occurred_at"]
    ]
    parties = pd.concat(
        [
            cases[["case_id", "opened_at", "household_id"]],
            cases[["case_id", "opened_at", "counterparty_household_id"]]
            .rename(columns={"counterparty_household_id": "household_id"})
            .dropna(subset=["household_id"]),
        ]
    )
    by_household = parties.merge(violent[["household_id", "occurred_at"]], on="household_id")
    by_case = cases[["case_id", "opened_at"]].merge(
        violent[["case_id", "occurred_at"]].dropna(), on="case_id"
    )
    hits = pd.concat([by_household[["case_id", "opened_at", "occurred_at"]], by_case])
    in_window = (hits["occurred_at"] > hits["opened_at"]) & (
        hits["occurred_at"] <= hits["opened_at"] + horizon
    )
    escalated = set(hits.loc[in_window, "case_id"])
    label = cases["case_id"].isin(escalated).astype("Float64")
    censored = cases["opened_at"] + horizon > data_end
    label[censored.to_numpy()] = pd.NA
    return label.rename("escalated")
