"""The facts routing rules test (``triage.routing.FACTS``), computed point in time for many cases at once.

Each fact looks only at history rows whose own time is ≤ the case's ``as_of``, of the case's
household and counterparty household (and, for person facts, their members and the persons
named in the request).  Everything is a merge and a group-by over all cases of a batch.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from triage.contract import ESCALATION_OFFENCES
from triage.features import normalise
from triage.routing import FACTS

FAILED_OUTCOMES = ("no_agreement", "party_absent")
PERSON_FLAGS = {"alcohol_problem_persons": "alcohol_problem", "prior_conviction_persons": "prior_conviction",
                "mental_health_registry_persons": "mental_health_registry"}


def _parties(cases: pd.DataFrame) -> pd.DataFrame:
    """(row, household_id, as_of) for each case's household and counterparty household."""
    sides = [cases[["household_id", "as_of"]],
             cases[["counterparty_household_id", "as_of"]].rename(columns={"counterparty_household_id": "household_id"})]
    long = pd.concat([s.reset_index(names="row") for s in sides], ignore_index=True)
    long = long.dropna(subset=["household_id"])
    long["household_id"] = long["household_id"].astype("string")
    return long.drop_duplicates(["row", "household_id"])


def _within(frame: pd.DataFrame, time_column: str, days: int | None) -> pd.Series:
    known = frame[time_column] <= frame["as_of"]
    if days is None:
        return known
    return known & (frame[time_column] > frame["as_of"] - pd.Timedelta(days=days))


def _count(frame: pd.DataFrame, mask: pd.Series, key: str, rows: pd.Index) -> pd.Series:
    hits = frame.loc[mask.fillna(False).astype(bool), ["row", key]].drop_duplicates()
    return hits.groupby("row").size().reindex(rows, fill_value=0)


def route_facts(cases: pd.DataFrame, named: pd.DataFrame, tables: dict[str, pd.DataFrame],
                weapon_words: list[str]) -> pd.DataFrame:
    """One row of facts per case (indexed like ``cases``).

    ``cases``: the case columns plus ``as_of`` (UTC); ``named``: ``row`` (the case's index) and
    ``person_id`` of the persons named in the request; ``tables``: typed history frames.
    """
    rows = cases.index
    parties = _parties(cases)
    out = pd.DataFrame(index=rows)
    weapons = re.compile("|".join(re.escape(normalise(w)) for w in weapon_words)) if weapon_words else None

    incidents = parties.merge(tables["incidents"], on="household_id")
    out["incidents_12m"] = _count(incidents, _within(incidents, "occurred_at", 365), "incident_id", rows)
    out["violent_incidents_prior"] = _count(
        incidents, _within(incidents, "occurred_at", None) & incidents["offence"].isin(ESCALATION_OFFENCES),
        "incident_id", rows)
    out["threat_incidents_30d"] = _count(
        incidents, _within(incidents, "occurred_at", 30) & (incidents["offence"] == "threat"), "incident_id", rows)

    calls = parties.merge(tables["hotline_calls"], on="household_id")
    if weapons is None:
        out["weapon_mentions_30d"] = 0
    else:
        named_weapon = calls["text"].map(lambda t: bool(weapons.search(normalise(t))), na_action="ignore")
        recent = _within(calls, "received_at", 30) & named_weapon.fillna(False).astype(bool)
        in_description = cases["description"].map(lambda t: bool(weapons.search(normalise(t))), na_action="ignore")
        out["weapon_mentions_30d"] = (_count(calls, recent, "call_id", rows)
                                      + in_description.fillna(False).astype(bool).astype(int))

    history = tables["cases"]
    case_sides = pd.concat([
        history[["case_id", "opened_at", "household_id"]],
        history[["case_id", "opened_at", "counterparty_household_id"]]
        .rename(columns={"counterparty_household_id": "household_id"}),
    ]).dropna(subset=["household_id"])
    prior = parties.merge(case_sides, on="household_id")
    prior = prior[prior["case_id"].to_numpy() != cases["case_id"].reindex(prior["row"]).to_numpy()]
    out["prior_cases_12m"] = _count(prior, _within(prior, "opened_at", 365), "case_id", rows)
    events = prior[["row", "case_id", "as_of"]].drop_duplicates().merge(tables["mediation_events"], on="case_id")
    out["failed_mediations_12m"] = _count(
        events, _within(events, "at", 365) & events["outcome"].isin(FAILED_OUTCOMES), "event_id", rows)

    members = parties.merge(tables["persons"][["person_id", "household_id"]], on="household_id")[["row", "person_id"]]
    people = pd.concat([members, named[["row", "person_id"]]]).drop_duplicates()
    people["as_of"] = cases["as_of"].reindex(people["row"]).to_numpy()
    flagged = people.merge(tables["persons"], on="person_id", how="left")
    for fact, column in PERSON_FLAGS.items():
        out[fact] = _count(flagged, flagged[column].fillna(False).astype(bool), "person_id", rows)
    screenings = people.merge(tables["screenings"], on="person_id")
    recent_phq9 = screenings[_within(screenings, "at", 90) & (screenings["instrument"] == "phq9")]
    out["max_item9_90d"] = (recent_phq9.groupby("row")["item9"].max().astype("Float64")
                            .reindex(rows).fillna(-1).astype(float))

    out["parties_count"] = cases["parties_count"].astype(float)
    out["amount_cny"] = pd.to_numeric(cases["amount_cny"], errors="coerce").astype(float).fillna(-1.0)
    return out[list(FACTS)].astype(np.float64)
