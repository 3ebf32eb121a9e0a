"""``triage generate``: a synthetic city in the exchange format, with the simulator's own truth.

The simulation (households → weekly conflict states → calls, cases, mediation, screenings,
assessments, police records → 民转刑 escalation) lives in the modules of this package;
this module runs it, writes the tables and the ``_oracle/`` and ``_expected/`` side files.
"""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from triage.contract import CASE_STATUSES, OFFENCES, TABLE_ORDER, TABLES
from triage.synth.badrows import inject_bad_rows
from triage.synth.dynamics import simulate_states
from triage.synth.escalation import escalation_labels, simulate_escalation
from triage.synth.events import (
    PoliceRecords,
    codes,
    link_to_recent_cases,
    simulate_background_incidents,
    simulate_calls,
    simulate_cases,
    simulate_mediation,
    simulate_psychology,
    with_nulls,
)
from triage.synth.params import Clock, ids, load_synth_params
from triage.synth.population import Population, build_population
from triage.synth.text import PhraseBook
from triage.synth.writer import to_arrow, write_csv_frame, write_table

__all__ = ["generate_city"]

#: Independent random streams, so that changing one stage does not reshuffle the others.
STAGES = (
    "population",
    "states",
    "calls",
    "cases",
    "mediation",
    "psychology",
    "incidents",
    "escalation",
    "bad_rows",
)


def generate_city(
    out: Path,
    *,
    households: int,
    seed: int,
    start: date,
    end: date,
    bad_row_share: float = 0.0,
    fmt: str = "csv",
) -> dict:
    """Simulate a city and write it to ``out``; return a JSON-able summary.

    Same arguments, same bytes: every random draw comes from ``seed``.
    """
    began = time.perf_counter()
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"unknown format {fmt!r}: csv or parquet")
    if not 0.0 <= bad_row_share < 1.0:
        raise ValueError("bad_row_share must be in [0, 1)")
    params = load_synth_params()
    clock = Clock(start, end)
    rng = dict(
        zip(
            STAGES,
            (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(len(STAGES))),
        )
    )
    book = PhraseBook(params["text"])

    pop = build_population(rng["population"], households, clock, params)
    states = simulate_states(rng["states"], pop, clock, params)
    calls = simulate_calls(rng["calls"], pop, states, clock, params, book)
    cases = simulate_cases(rng["cases"], pop, states, clock, params, book)
    mediation = simulate_mediation(rng["mediation"], cases, states, clock, params, book)
    psychology = simulate_psychology(rng["psychology"], pop, states, clock, params)
    background = simulate_background_incidents(rng["incidents"], pop, states, clock, params)
    link_to_recent_cases(rng["incidents"], background, cases, params)
    escalation = simulate_escalation(
        rng["escalation"], pop, states, clock, params, cases, calls, mediation, background
    )
    records = _concat_records(background, escalation.incidents)

    case_columns = dict(cases.columns)
    case_columns["status"] = codes(CASE_STATUSES, mediation.status)
    case_columns["closed_at"] = with_nulls(
        clock.iso(np.maximum(mediation.closed_t, 0)), mediation.closed_t < 0
    )
    columns = {
        "households": _household_columns(pop, clock),
        "persons": _person_columns(pop),
        "hotline_calls": calls.columns,
        "cases": case_columns,
        "mediation_events": mediation.columns,
        "screenings": psychology.screenings,
        "psych_assessments": psychology.assessments,
        "incidents": _incident_columns(records, pop, case_columns["case_id"], clock),
    }
    tables = {name: to_arrow(columns[name]) for name in TABLE_ORDER}
    expected = []
    if bad_row_share > 0:
        tables, expected = inject_bad_rows(rng["bad_rows"], tables, bad_row_share)

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for name in TABLE_ORDER:
        write_table(name, tables[name], out, fmt)
    write_csv_frame(
        pd.DataFrame(
            {"case_id": case_columns["case_id"].astype(object), "p_escalation": escalation.oracle}
        ),
        out / "_oracle" / "cases.csv",
    )
    write_csv_frame(
        pd.DataFrame(
            {
                k: np.asarray(v).astype(object) if k == "assessment_id" else v
                for k, v in psychology.assessment_oracle.items()
            }
        ),
        out / "_oracle" / "assessments.csv",
    )
    if bad_row_share > 0:
        listing = pd.DataFrame(expected, columns=["table", "row_number", "rule"])
        listing["table"] = pd.Categorical(listing["table"], categories=TABLE_ORDER, ordered=True)
        write_csv_frame(
            listing.sort_values(["table", "row_number"]), out / "_expected" / "bad_rows.csv"
        )

    label, labelled = escalation_labels(
        cases, records, clock.span, params["escalation"]["horizon_days"]
    )
    known = label[labelled]
    both_classes = 0 < known.sum() < len(known)
    return {
        "out": str(out),
        "households": households,
        "seed": seed,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "format": fmt,
        "rows": {name: int(tables[name].num_rows) for name in TABLE_ORDER},
        "bad_rows": len(expected),
        "labelled_cases": int(labelled.sum()),
        "escalation_base_rate": round(float(known.mean()), 4) if len(known) else None,
        "oracle_auc": round(float(roc_auc_score(known, escalation.oracle[labelled])), 4)
        if both_classes
        else None,
        "seconds": round(time.perf_counter() - began, 2),
    }


def _household_columns(pop: Population, clock: Clock) -> dict:
    return {
        "household_id": pop.household_id,
        "district": pop.district_name,
        "street": pop.street_name,
        "grid_id": pop.grid_id,
        "area_type": np.where(pop.rural, "rural", "urban").astype(object),
        "size": pop.size.astype(np.dtypes.StringDType()),
        "low_income": np.where(pop.low_income, "true", "false").astype(object),
        "registered_at": clock.iso(pop.registered_t),
    }


def _person_columns(pop: Population) -> dict:
    return {name: pop.persons[name] for name in TABLES["persons"].column_names}


def _concat_records(*parts: PoliceRecords) -> PoliceRecords:
    merged = PoliceRecords(
        *(
            np.concatenate([getattr(p, f) for p in parts])
            for f in ("household", "t", "offence", "person", "case")
        )
    )
    order = np.lexsort((merged.offence, merged.household, merged.t))
    return PoliceRecords(
        merged.household[order],
        merged.t[order],
        merged.offence[order],
        merged.person[order],
        merged.case[order],
    )


def _incident_columns(
    records: PoliceRecords, pop: Population, case_ids: np.ndarray, clock: Clock
) -> dict:
    n = len(records)
    return {
        "incident_id": ids("I", n, 8),
        "occurred_at": clock.iso(records.t),
        "household_id": pop.household_id[records.household],
        "person_id": with_nulls(
            pop.persons["person_id"][np.maximum(records.person, 0)], records.person < 0
        ),
        "offence": codes(OFFENCES, records.offence),
        "case_id": with_nulls(case_ids[np.maximum(records.case, 0)], records.case < 0),
    }
