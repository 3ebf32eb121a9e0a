"""The workbench's parts on their own: the waterfall's geometry, deadlines, the cookie, words, history."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from tests.support.analyst_cases import city_db
from triage.app import create_app
from triage.db import engine_for
from triage.evaluation.metrics import binary_metrics, tier_metrics
from triage.settings import Settings
from triage.settings import SecretMissing
from triage.workbench.auth import CookieSigner
from triage.workbench.chart import theme_of, waterfall
from triage.workbench.history import mask_digits, timeline
from triage.config.domain import Bilingual
from triage.workbench.router import TEMPLATES
from triage.workbench.i18n import MESSAGES, VOCABULARY, Translator, pick_lang
from triage.workbench.views import QueueQuery, deadline, metric_table, warnings_of

ZH = Translator("zh", {"police_station": Bilingual(zh="派出所", en="Police station")})


def factor(name: str, value, contribution: float) -> dict:
    return {
        "feature": name,
        "label": f"标签{name}",
        "label_zh": f"标签{name}",
        "label_en": f"label {name}",
        "value": value,
        "contribution": contribution,
    }


def explained(factors: list[dict], base: float = -2.0, probability: float = 0.3) -> dict:
    """An escalation part of a response: its factors add up from ``base`` to the margin."""
    return {
        "base_value": base,
        "margin": base + sum(f["contribution"] for f in factors),
        "probability": probability,
        "factors": factors,
    }


def test_the_waterfall_walks_in_percentage_points_from_a_typical_case_to_this_case_s_risk():
    factors = [
        factor("a", 2, 0.9),
        factor("b", None, -0.4),
        factor("c", True, 0.2),
        factor("d", 0.5, -0.05),
        factor("e", "neighbor", 0.01),
    ]
    chart = waterfall(explained(factors, probability=0.3), ZH, top=3)
    assert [b.label for b in chart.bars] == ["标签a", "标签b", "标签c", "其余其他因素（2 项）"]
    assert [b.value for b in chart.bars] == ["2", "未知", "是", ""]
    assert [b.up for b in chart.bars] == [True, False, True, False]
    assert chart.bars[-1].contribution == pytest.approx(-0.04)
    assert chart.end == pytest.approx(0.3)  # the headline's probability, calibration included
    assert chart.start * 100 + sum(b.points for b in chart.bars) == pytest.approx(30)
    assert chart.bars[0].points > 0 > chart.bars[1].points
    assert chart.bars[0].left == pytest.approx(chart.start_at)
    assert all(0 <= b.left and b.left + b.width <= 100 + 1e-9 for b in chart.bars)
    assert [tick.at for tick in chart.ticks] == sorted(tick.at for tick in chart.ticks)


def test_the_remaining_factors_are_grouped_by_theme():
    names = [
        "case_dispute_type",
        "hh_calls_all_30d",
        "hh_threat_incidents_365d",
        "hh_any_alcohol_problem",
        "cp_calls_all_90d",
        "hh_prior_failed_mediations_365d",
    ]
    assert [theme_of(n) for n in names] == [
        "this_case",
        "calls",
        "police",
        "persons",
        "calls",
        "mediation",
    ]
    factors = [factor("hh_violent_incidents_365d", 3, 1.0)] + [factor(n, 1, 0.1) for n in names]
    chart = waterfall(explained(factors), Translator("en", {}), top=1)
    assert [b.label for b in chart.bars[1:]] == [
        "Other factors: this case (1)",
        "Other factors: calls (2)",
        "Other factors: police records (1)",
        "Other factors: mediation and earlier disputes (1)",
        "Other factors: persons and households (1)",
    ]
    assert all(b.group for b in chart.bars[1:]) and chart.bars[2].contribution == pytest.approx(0.2)


def test_the_waterfall_has_no_rest_bar_when_every_factor_is_shown():
    chart = waterfall(
        explained([factor("a", 1, 0.5), factor("b", 0, -0.2)]), Translator("en", {}), top=8
    )
    assert [b.label for b in chart.bars] == ["label a", "label b"]


def test_a_flag_reads_yes_no_or_unknown_never_1_or_0():
    flags = [
        factor("hh_any_alcohol_problem", 1.0, 0.3),
        factor("case_description_threat", 0.0, -0.1),
        factor("hh_low_income", None, 0.05),
    ]
    escalation = explained(flags)
    assert [b.value for b in waterfall(escalation, ZH).bars] == ["是", "否", "未知"]
    assert [b.value for b in waterfall(escalation, Translator("en", {})).bars] == [
        "Yes",
        "No",
        "Unknown",
    ]


def test_every_metric_a_training_run_logs_has_words_on_the_models_page():
    y, p = np.array([0, 1, 0, 1, 1, 0]), np.array([0.1, 0.8, 0.3, 0.6, 0.9, 0.2])
    tiers = np.array(["green", "yellow", "red"])
    logged = {
        *binary_metrics(y, p),
        *tier_metrics(tiers, np.eye(3)),
        "coverage",
        "override_agreement",
    }
    assert logged <= set(VOCABULARY["metric"])
    table = metric_table(
        "escalation",
        {
            "escalation_rows": 319.0,
            "escalation_checklist_precision_top10": 0.25,
            "escalation_roc_auc": 0.7,
            "escalation_backtest_roc_auc_min": 0.65,
            "escalation_backtest_roc_auc_max": 0.75,
        },
    )
    assert table.sources == ["model", "checklist"]
    assert [(r.metric, r.values, r.folds) for r in table.rows] == [
        ("roc_auc", {"model": "0.700"}, "0.650 – 0.750"),
        ("rows", {"model": "319"}, None),
        ("precision_top10", {"checklist": "0.250"}, None),
    ]


def test_deadline_states_follow_the_response_time():
    scored = datetime(2025, 6, 1, 10, tzinfo=timezone.utc)
    assert deadline(scored, 4, False, scored + timedelta(hours=1)).state == "on_time"
    assert deadline(scored, 4, False, scored + timedelta(hours=3, minutes=30)).state == "due_soon"
    late = deadline(scored, 4, False, scored + timedelta(hours=5))
    assert late.state == "overdue" and late.elapsed_hours == pytest.approx(5)
    assert deadline(scored, 4, True, scored + timedelta(hours=9)).state == "done"


def test_queue_dates_are_whole_days_in_shanghai():
    where = QueueQuery(
        scored_from="2025-06-01", scored_to="2025-06-01", team="", band=["high"]
    ).where()
    assert where.created_from == datetime(2025, 5, 31, 16, tzinfo=timezone.utc)
    assert where.created_to == datetime(2025, 6, 1, 16, tzinfo=timezone.utc) - timedelta(
        microseconds=1
    )
    assert where.team is None and where.band == ["high"] and where.reviewed is None
    assert QueueQuery(reviewed="no").where().reviewed is False


def test_the_cookie_signature_detects_tampering_and_expires():
    signer = CookieSigner(b"secret", max_age_seconds=3600)
    value = signer.sign("abc123", now=1_000_000)
    assert signer.session_id(value, now=1_000_000 + 3599) == "abc123"
    assert signer.session_id(value, now=1_000_000 + 3601) is None
    assert signer.session_id(value.replace("abc123", "abc124"), now=1_000_001) is None
    assert CookieSigner(b"other", 3600).session_id(value, now=1_000_001) is None
    assert signer.session_id("", now=1) is None and signer.session_id("a.b.c", now=1) is None


def test_a_missing_or_short_secret_stops_the_service_at_start(tmp_path):
    for secret in (None, "", " " * 40, "x" * 31):
        settings = Settings(home=tmp_path, workbench_secret=secret)
        with pytest.raises(SecretMissing, match="TRIAGE_WORKBENCH_SECRET"):
            settings.session_secret()
        with pytest.raises(SecretMissing):
            create_app(settings)
    assert Settings(home=tmp_path, workbench_secret="k" * 32).session_secret() == b"k" * 32


def test_every_message_and_term_exists_in_both_languages_and_speaks_of_risk():
    for zh, en in [
        *MESSAGES.values(),
        *(w for words in VOCABULARY.values() for w in words.values()),
    ]:
        assert zh and en
        assert not re.search("将会|必将|必然|一定会", zh) and not re.search(
            r"\bwill\b|\bcertain", en, re.I
        )
    assert (
        pick_lang("en", "zh") == "en"
        and pick_lang(None, "en") == "en"
        and pick_lang("fr", None) == "zh"
    )
    assert ZH.value(None) == "未知" and ZH.value(False) == "否" and ZH.value(20000.0) == "20,000"
    assert (
        ZH.value(0.456) == "0.46"
        and ZH.value("rural") == "农村"
        and ZH.team("police_station") == "派出所"
    )
    assert (
        ZH.duration(0.5) == "30 分钟" and ZH.duration(2) == "2 小时" and ZH.duration(72) == "3 天"
    )


def test_the_history_is_as_of_the_score_and_masks_long_numbers(tmp_path):
    assert mask_digits("电话13800001234，门牌12号") == "电话＊＊＊，门牌12号"
    engine = engine_for(city_db(tmp_path))
    events, total = timeline(engine, "H-1", "H-2", "C-9", datetime(2025, 6, 1, tzinfo=timezone.utc))
    assert total == len(events) == 5
    assert [e.kind for e in events] == ["call", "mediation", "mediation", "mediation", "case"]
    assert events[0].text == "对方持刀威胁要砍人" and events[0].side == "household"
    before = timeline(engine, "H-1", "H-2", "C-9", datetime(2025, 2, 1, tzinfo=timezone.utc))[0]
    assert [e.kind for e in before] == ["mediation", "case"]
    incidents = timeline(engine, "H-4", "H-3", "C-9", datetime(2025, 6, 1, tzinfo=timezone.utc))[0]
    assert {e.side for e in incidents if e.kind == "incident"} == {"counterparty"}


def test_each_warning_of_the_service_is_named_by_its_kind():
    texts = [
        "unknown household H-9: scored with no history",
        "unknown counterparty household H-8: no history used",
        "unknown person P-9: tier from no history",
        "outside the training population: district '新区' never occurred in the training cases; lean on your own "
        "judgement",
        "no recorded history for this household (calls, cases, incidents, screenings): …",
        "something new",
    ]
    assert [w.kind for w in warnings_of({"warnings": texts})] == [
        "unknown_household",
        "unknown_counterparty",
        "unknown_person",
        "population",
        "no_history",
        "other",
    ]
    assert all(ZH(f"warning_{w.kind}") for w in warnings_of({"warnings": texts}))


def test_shares_read_as_people_write_them():
    pct = TEMPLATES.env.filters["pct"]
    assert [pct(p) for p in (0, 0.004, 0.032, 0.5, 1)] == ["0%", "0.4%", "3.2%", "50%", "100%"]
