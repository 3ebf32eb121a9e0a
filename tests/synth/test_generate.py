"""`triage generate`: a small city conforms to docs/data-format.md and behaves like the world it simulates."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from tests.support.cities import END, START, generated_city
from tests.synth.contract_reading import (
    escalation_labels,
    first_broken_rule,
    parse_times,
    threat_share,
)
from triage.contract import PII_COLUMNS, TABLE_ORDER, TABLES

#: What a reader of the seeds would look for; the generator uses more phrasings than these.
THREAT_WORDS = [
    "刀",
    "扬言",
    "揚言",
    "同归于尽",
    "同歸於盡",
    "报复",
    "報復",
    "农药",
    "農藥",
    "放火",
    "拼命",
    "弄死",
    "杀",
    "殺",
    "汽油",
    "跳楼",
    "跳樓",
    "棍",
    "一起死",
    "不得好",
]


def test_same_seed_gives_identical_files_and_another_seed_does_not(tmp_path):
    for folder, seed in (("a", 5), ("b", 5), ("c", 6)):
        generated_city(tmp_path / folder, "tiny", seed=seed, bad_row_share=0.02)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.csv"))
    assert len(files) == len(TABLE_ORDER) + 3  # tables, two oracle files, the bad-row list
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert (tmp_path / "a" / "cases.csv").read_bytes() != (
        tmp_path / "c" / "cases.csv"
    ).read_bytes()


def test_every_table_has_the_contract_columns_and_no_row_breaks_a_rule(city, city_tables):
    _, summary = city
    for name, frame in city_tables.items():
        assert list(frame.columns) == TABLES[name].column_names
        assert len(frame) == summary["rows"][name] > 0
    verdicts = first_broken_rule(city_tables)
    for name, verdict in verdicts.items():
        assert verdict.isna().all(), (name, verdict.value_counts().to_dict())


def test_nullable_columns_are_sometimes_empty_because_unknown_is_not_no(city_tables):
    persons = city_tables["persons"]
    for flag in (
        "returned_migrant",
        "alcohol_problem",
        "prior_conviction",
        "mental_health_registry",
    ):
        shares = persons[flag].value_counts(normalize=True, dropna=False)
        assert 0.05 < persons[flag].isna().mean() < 0.3, flag
        assert shares.get("true", 0) > 0, flag
    assert city_tables["hotline_calls"]["household_id"].isna().mean() > 0.05  # unmatched callers
    assert city_tables["cases"]["counterparty_household_id"].notna().mean() > 0.1


def test_pii_lives_only_in_persons_and_looks_real(city_tables):
    for name, spec in TABLES.items():
        assert (set(spec.pii_columns) <= PII_COLUMNS) and (
            not spec.pii_columns or name == "persons"
        )
    persons = city_tables["persons"]
    id_numbers = persons["id_number"].dropna()
    assert id_numbers.str.match(r"^\d{17}[\dX]$").all()
    assert persons["phone"].dropna().str.match(r"^1[3-9]\d{9}$").all()
    assert persons["name"].dropna().str.match(r"^[\u4e00-\u9fff]{2,3}$").all()
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    first = id_numbers.iloc[0]
    assert "10X98765432"[sum(int(d) * w for d, w in zip(first[:17], weights)) % 11] == first[17]
    leaks = re.compile(r"\d{17}[\dX]|1[3-9]\d{9}")
    for name, frame in city_tables.items():
        if name != "persons":
            text = frame.fillna("").agg(" ".join, axis=1)
            assert not text.str.contains(leaks).any(), name


def test_every_time_lies_inside_the_simulated_period(city_tables):
    first = pd.Timestamp(START.isoformat(), tz="Asia/Shanghai")
    last = pd.Timestamp(END.isoformat(), tz="Asia/Shanghai") + pd.Timedelta(days=1)
    for name, spec in TABLES.items():
        for column in (c.name for c in spec.columns if c.type == "timestamp"):
            times = parse_times(city_tables[name][column]).dropna()
            if name != "households":  # households registered long before
                assert (times >= first).all(), (name, column)
            assert (times < last).all(), (name, column)


def test_oracle_files_cover_every_case_and_assessment_with_probabilities(city, city_tables):
    folder, _ = city
    cases = pd.read_csv(folder / "_oracle" / "cases.csv", dtype={"case_id": str})
    assert cases["case_id"].tolist() == city_tables["cases"]["case_id"].tolist()
    assert cases["p_escalation"].between(0, 1).all()
    tiers = pd.read_csv(folder / "_oracle" / "assessments.csv", dtype={"assessment_id": str})
    assert (
        tiers["assessment_id"].tolist()
        == city_tables["psych_assessments"]["assessment_id"].tolist()
    )
    probabilities = tiers[["p_green", "p_yellow", "p_red"]]
    assert ((probabilities >= 0) & (probabilities <= 1)).all().all()
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    # counsellors' tiers follow the oracle: the red ones had the highest p_red
    given = city_tables["psych_assessments"]["tier"]
    assert (
        tiers.loc[given == "red", "p_red"].mean() > 2 * tiers.loc[given == "green", "p_red"].mean()
    )


def test_label_base_rate_and_oracle_auc_are_in_the_intended_band(city, city_tables):
    folder, summary = city
    labels = escalation_labels(city_tables, END)
    known = labels[labels["labelled"]]
    assert 0.8 * len(labels) < len(known) < len(labels)  # the last 180 days are censored
    assert 0.03 <= known["escalated"].mean() <= 0.10
    assert known["escalated"].mean() == pytest.approx(summary["escalation_base_rate"], abs=1e-4)
    oracle = pd.read_csv(folder / "_oracle" / "cases.csv", dtype={"case_id": str})["p_escalation"]
    auc = roc_auc_score(known["escalated"], oracle[labels["labelled"]])
    assert 0.75 <= auc <= 0.95


def test_threat_phrases_are_more_frequent_before_escalations(city_tables):
    labels = escalation_labels(city_tables, END)
    calls = city_tables["hotline_calls"].assign(
        received=parse_times(city_tables["hotline_calls"]["received_at"])
    )
    before = labels[labels["labelled"]].merge(
        calls[["household_id", "received", "text"]], on="household_id"
    )
    before = before[
        (before["received"] < before["opened"])
        & (before["received"] >= before["opened"] - pd.Timedelta(days=90))
    ]
    before["threat"] = before["text"].fillna("").str.contains("|".join(THREAT_WORDS))
    threatened = (
        before.groupby("case_id")["threat"].any().reindex(labels["case_id"], fill_value=False)
    )
    escalated = labels.set_index("case_id")["escalated"][labels["labelled"].to_numpy()]
    share_escalated = threatened[escalated.index][escalated].mean()
    share_calm = threatened[escalated.index][~escalated].mean()
    assert share_escalated > 2 * share_calm > 0  # cases with a threat call in the 90 days before
    assert threat_share(calls["text"], ["揚言", "同歸於盡", "報復"]) > 0  # traditional phrasing too


def test_mediation_climbs_the_ladder_village_first(city_tables):
    events = city_tables["mediation_events"]
    first_level = events.groupby("case_id", sort=False)["level"].first()
    assert (first_level == "village").all()
    township_cases = set(events.loc[events["level"] == "township", "case_id"])
    village_counts = (
        events[events["case_id"].isin(township_cases) & (events["level"] == "village")]
        .groupby("case_id")
        .size()
    )
    assert (village_counts == 3).all()  # 三二一: three village attempts first
    assert set(events["level"]) == {"village", "township", "county", "court"}


def test_parquet_output_carries_native_types(tmp_path):
    import pyarrow.parquet as pq

    generated_city(tmp_path, "tiny", seed=11, fmt="parquet")
    schema = pq.read_schema(tmp_path / "cases.parquet")
    assert str(schema.field("parties_count").type) == "int64"
    assert str(schema.field("opened_at").type).startswith("timestamp")
    assert str(pq.read_schema(tmp_path / "persons.parquet").field("alcohol_problem").type) == "bool"
    assert not list(tmp_path.glob("*.csv"))
