"""Override analytics as pure functions: agreement by group, the automation-bias and one-way alerts, and
overrides proved right by the labels (docs/domain.md, "Override analytics")."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from tests.support.overrides import AS_OF, fact, facts
from tests.support.domain import SHIPPED_DOMAIN
from triage.decisions.override_analytics import (
    alerts,
    outcomes,
    summarise,
    team_agreement,
)

#: The shipped thresholds: a 90-day window, 0.95, 0.9 one way, 30 reviews, 10 overrides.
LIMITS = SHIPPED_DOMAIN.override_analytics


def kinds(found) -> list[tuple]:
    return [(a.kind, a.analyst, a.direction) for a in found]


def test_the_thresholds_are_read_from_domain_yaml():
    assert (LIMITS.window_days, LIMITS.max_agreement, LIMITS.min_reviews) == (90, 0.95, 30)


@pytest.mark.parametrize(
    "agreed, overridden, alert",
    [(96, 4, True), (95, 5, False), (29, 0, False), (30, 0, True)],
    ids=["96 of 100", "95 of 100", "29 reviews", "30 reviews"],
)
def test_automation_bias_fires_above_95_percent_agreement_with_enough_reviews(
    agreed, overridden, alert
):
    reviews = (
        facts("agree", agreed)
        + facts("raise", overridden // 2)
        + facts("lower", overridden - overridden // 2)
    )
    found = [a for a in alerts(reviews, LIMITS, AS_OF) if a.kind == "automation_bias"]
    assert [(a.analyst, a.count) for a in found] == (
        [(None, agreed + overridden), ("a1", agreed + overridden)] if alert else []
    )
    if alert:
        assert found[0].share == agreed / (agreed + overridden) and found[0].threshold == 0.95


def test_only_the_window_counts_and_each_analyst_is_judged_alone():
    old_overrides = facts("raise", 20, days_ago=120)  # before the 90-day window
    rubber_stamp = facts("agree", 40, analyst="a1")
    reviewer = facts("agree", 25, analyst="a2") + facts("lower", 5, analyst="a2")
    found = alerts(old_overrides + rubber_stamp + reviewer, LIMITS, AS_OF)
    # 65 of 70 in the window agree (0.93): no alert for all; a1 alone agrees with all 40
    assert kinds(found) == [("automation_bias", "a1", None)]
    assert kinds(alerts(rubber_stamp, LIMITS, datetime(2026, 1, 1, tzinfo=timezone.utc))) == []


@pytest.mark.parametrize(
    "raised, lowered, alert",
    [(10, 0, "raise"), (1, 9, "lower"), (8, 2, None), (9, 0, None)],
    ids=["all raise", "9 of 10 lower", "8 of 10", "too few"],
)
def test_overrides_going_one_way_alert(raised, lowered, alert):
    reviews = facts("agree", 100) + facts("raise", raised) + facts("lower", lowered)
    found = [a for a in alerts(reviews, LIMITS, AS_OF) if a.kind == "one_way" and a.analyst is None]
    assert [a.direction for a in found] == ([alert] if alert else [])
    if alert:
        assert found[0].count == raised + lowered and found[0].share == max(raised, lowered) / 10


def test_mixed_overrides_count_against_one_way_and_a_change_of_nothing_agrees():
    reviews = facts("raise", 9) + facts("mixed", 2) + facts("same", 3)
    summary = summarise(reviews, LIMITS, AS_OF, horizon_days=180)
    figures = summary.window.figures
    assert (figures.reviews, figures.agreed, figures.overrides) == (14, 3, 11)
    assert (figures.raised, figures.lowered, figures.mixed) == (9, 0, 2)
    assert kinds(summary.alerts) == []  # 9 of 11 raise: 0.82


def test_a_raise_proves_right_when_the_case_escalated_and_a_lowering_when_it_did_not():
    reviews = [
        fact("raise", escalated=True),
        fact("raise", escalated=False),
        fact("raise", escalated=None),  # the horizon has not passed
        fact("priority_down", escalated=False),
        fact("lower", escalated=False),
        fact("lower", escalated=True),
        fact("mixed", escalated=True),  # no one direction to judge
        fact("agree", escalated=True),
    ]
    found = {o.direction: o for o in outcomes(reviews)}
    assert (found["raise"].overrides, found["raise"].labelled, found["raise"].escalated) == (
        3,
        2,
        1,
    )
    assert (found["raise"].proved_right, found["raise"].share_right) == (1, 0.5)
    assert (found["lower"].overrides, found["lower"].labelled, found["lower"].escalated) == (
        3,
        3,
        1,
    )
    assert (found["lower"].proved_right, found["lower"].share_right) == (2, pytest.approx(2 / 3))
    assert [r.proved_right for r in reviews] == [True, False, None, True, True, False, None, None]


def test_agreement_by_analyst_team_band_and_month():
    reviews = [
        fact("agree", analyst="a1", band="critical", days_ago=40),
        fact("raise", analyst="a1", band="low", days_ago=40),
        fact("lower", analyst="a2", band="low", days_ago=1),
        fact(
            "agree",
            analyst="a2",
            band="low",
            reviewed_at=datetime(2025, 5, 31, 17, tzinfo=timezone.utc),
        ),
    ]
    summary = summarise(reviews, LIMITS, AS_OF, horizon_days=180)
    assert [(r.group, r.reviews, r.agreed, r.agreement) for r in summary.by_analyst] == [
        ("a1", 2, 1, 0.5),
        ("a2", 2, 1, 0.5),
    ]
    assert [(r.group, r.reviews, r.raised, r.lowered) for r in summary.by_band] == [
        ("critical", 1, 0, 0),
        ("low", 3, 1, 1),
    ]
    # 17:00 UTC on 31 May is 1 June in Asia/Shanghai
    assert [(r.group, r.reviews) for r in summary.by_month] == [("2025-05", 2), ("2025-06", 2)]
    teams = {r.group: r for r in team_agreement(reviews)}
    assert (teams["police_station"].reviews, teams["police_station"].dropped) == (4, 1)
    assert (teams["care_group"].reviews, teams["care_group"].added) == (0, 1)
    assert teams["care_group"].agreement is None
