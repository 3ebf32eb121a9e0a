"""The challenger's report as pure functions, on cases whose answer is known: agreement of bands and
routes, the cases that would move, AUC and ECE on the labelled cases, and the promotion gates."""

from __future__ import annotations

import pytest

from tests.support.domain import SHIPPED_DOMAIN
from triage.decisions.shadow import ShadowFact, gate_failures, summarise

GATE = SHIPPED_DOMAIN.challenger
LOOSE = GATE.model_copy(update={"min_cases": 1, "min_labelled": 1, "min_outcomes": 2})


def fact(case_id, mine, theirs, escalated=None) -> ShadowFact:
    """``mine`` and ``theirs``: (probability, band, teams) of the champion and the challenger."""
    return ShadowFact(
        f"S-{case_id}",
        case_id,
        mine[0],
        mine[1],
        mine[2],
        theirs[0],
        theirs[1],
        theirs[2],
        escalated,
    )


POLICE, VILLAGE = ("police_station",), ("village_mediation",)
FACTS = [
    fact("C-1", (0.10, "low", VILLAGE), (0.12, "low", VILLAGE)),  # agrees
    fact("C-2", (0.30, "medium", VILLAGE), (0.70, "high", POLICE)),  # moves most
    fact("C-3", (0.50, "high", POLICE), (0.45, "high", VILLAGE + POLICE)),  # teams only
    fact("C-4", (0.60, "high", POLICE), (0.58, "high", POLICE)),  # agrees
]


def test_agreement_crosstab_and_the_cases_that_would_move():
    report = summarise(FACTS, GATE, horizon_days=180)
    assert report.cases == 4 and report.band_agreement == 0.75 and report.route_agreement == 0.5
    assert report.bands["high"]["high"] == 2 and report.bands["medium"]["high"] == 1
    assert sum(sum(row.values()) for row in report.bands.values()) == 4
    assert report.moving == 2
    assert [(m.case_id, m.champion_band, m.challenger_band) for m in report.movers] == [
        ("C-2", "medium", "high"),
        ("C-3", "high", "high"),
    ]
    assert report.movers[1].challenger_teams == ["village_mediation", "police_station"]
    assert (
        summarise(FACTS, GATE.model_copy(update={"movers_listed": 1}), horizon_days=180).moving == 2
    )


def labelled(champion: list[float], challenger: list[float], escalated: list[bool]):
    return [
        fact(f"C-{i}", (p, "low", VILLAGE), (q, "low", VILLAGE), y)
        for i, (p, q, y) in enumerate(zip(champion, challenger, escalated))
    ]


def test_auc_and_ece_of_both_models_on_the_same_labelled_cases():
    escalated = [False, False, True, True]
    facts = labelled([0.1, 0.2, 0.8, 0.9], [0.9, 0.8, 0.2, 0.1], escalated)
    facts.append(fact("C-open", (0.5, "low", VILLAGE), (0.5, "low", VILLAGE)))  # no label yet
    report = summarise(facts, LOOSE, horizon_days=180)
    assert (report.labelled, report.escalated) == (4, 2)
    assert report.champion.auc == 1.0 and report.challenger.auc == 0.0
    # four cases in ten bins: one case a bin, so ECE is the mean |y - p|
    assert report.champion.ece == pytest.approx((0.1 + 0.2 + 0.2 + 0.1) / 4)
    assert report.challenger.ece == pytest.approx((0.9 + 0.8 + 0.8 + 0.9) / 4)
    assert any("AUC 0.0000 below" in line for line in gate_failures(report, LOOSE))
    assert any("ECE" in line for line in gate_failures(report, LOOSE))

    better = summarise(
        labelled([0.9, 0.8, 0.2, 0.1], [0.1, 0.2, 0.8, 0.9], escalated), LOOSE, horizon_days=180
    )
    assert better.challenger.auc == 1.0 and gate_failures(better, LOOSE) == []


def test_too_few_outcomes_leave_auc_out_and_the_gates_refuse():
    few = summarise(labelled([0.1, 0.9], [0.2, 0.8], [False, True]), LOOSE, horizon_days=180)
    assert few.champion.auc is None and few.challenger.ece is None
    assert gate_failures(few, LOOSE) == [
        "AUC not computed: fewer than 2 escalations or non-escalations"
    ]
    empty = summarise([], GATE, horizon_days=180)
    assert empty.band_agreement is None and empty.movers == []
    assert (
        gate_failures(empty, GATE)[0]
        == f"0 cases scored by both models, fewer than {GATE.min_cases}"
    )
