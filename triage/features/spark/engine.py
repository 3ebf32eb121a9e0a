"""The feature registry computed with Spark DataFrames: the same values as the pandas engine.

Nothing here names a feature: every column comes from a :class:`~triage.features.Feature` of
``config/features.yaml`` (its op, source, side, window, where, value, exclude, fill), read the
way ``triage/features/registry.py`` defines them.  Point in time is a range join: the query's
key equals the row's key and the row's time (UTC microseconds) is ≤ ``as_of`` (and, when
every feature of the join has a window, > ``as_of`` minus the widest one); each feature is then
a conditional aggregate over the joined rows.  The threat lexicon and the fitted
:class:`~triage.features.CallTextModel` run in Python workers (``mapInPandas``), so text is
read by the very same code as in pandas.
"""

from __future__ import annotations

import math
from itertools import groupby

import numpy as np
import pandas as pd
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import BooleanType, DoubleType, StructField, StructType

from triage.contract import TIMEZONE
from triage.features.history import PAIR_SEPARATOR, SOURCE_COLUMNS
from triage.features.registry import (
    FEATURE_CONFIG,
    HISTORY_OPS,
    KEYED_BY,
    TIME_AND_ID,
    Feature,
    features_of,
)
from triage.features.text import carries_threat

DAY_US = 86_400 * 10**6
ROW = "_row"  # the query's position in its input: results come back in input order
AS_OF = "_as_of"  # the query's as_of in UTC microseconds
TIME, ID = "_t", "_id"

_MEMBER_OPS = ("member_any", "member_latest_max")


def _ranked(column: str, ranks: dict[str, int]) -> Column:
    """Ordinal code of an enum column (``features.yaml`` ``ranks``), null when absent."""
    return F.element_at(
        F.create_map(*[F.lit(x) for pair in ranks.items() for x in pair]), F.col(column)
    ).cast("double")


def _null_for_nan(column: str) -> Column:
    return F.when(F.isnan(F.col(column)), F.lit(None)).otherwise(F.col(column))


def _timed(frame: DataFrame, source: str) -> DataFrame:
    time_column, id_column = TIME_AND_ID[source]
    return frame.withColumn(TIME, F.unix_micros(F.col(time_column))).withColumn(
        ID, F.col(id_column)
    )


def with_call_signals(calls: DataFrame, text_model=None) -> DataFrame:
    """Calls plus ``threat`` (lexicon) and ``text_score`` (the fitted text model, null without one).

    The text itself is dropped once read: it is most of the calls' bytes and no feature needs it.
    """
    kept = [field for field in calls.schema.fields if field.name != "text"]
    schema = StructType(
        [*kept, StructField("threat", BooleanType()), StructField("text_score", DoubleType())]
    )

    def signals(batches):
        for batch in batches:
            text = batch.pop("text")
            batch["threat"] = carries_threat(text).to_numpy()
            batch["text_score"] = (
                text_model.score(text) if text_model is not None else np.full(len(batch), np.nan)
            )
            yield batch

    # Materialised once: both sides of a case (and both models' frames) read the same scores.
    return (
        calls.mapInPandas(signals, schema)
        .withColumn("text_score", _null_for_nan("text_score"))
        .localCheckpoint()
    )


def with_description_signals(queries: DataFrame, text_model=None) -> DataFrame:
    """Queries plus the lexicon flag and text score of their ``description`` (null when missing)."""
    schema = StructType(
        [
            *queries.schema.fields,
            StructField("_description_threat", DoubleType()),
            StructField("_description_text_score", DoubleType()),
        ]
    )

    def signals(batches):
        for batch in batches:
            text = batch["description"]
            present = text.notna().to_numpy()
            batch["_description_threat"] = np.where(
                present, carries_threat(text).to_numpy(dtype=np.float64), np.nan
            )
            batch["_description_text_score"] = (
                text_model.score(text) if text_model is not None else np.full(len(batch), np.nan)
            )
            yield batch

    return (
        queries.mapInPandas(signals, schema)
        .withColumn("_description_threat", _null_for_nan("_description_threat"))
        .withColumn("_description_text_score", _null_for_nan("_description_text_score"))
    )


def household_pair(household: str, counterparty: str) -> Column:
    """The unordered key of a case's two households (``history.household_pairs``)."""
    first, second = F.col(household), F.col(counterparty)
    return F.when(
        first.isNotNull() & second.isNotNull(),
        F.concat_ws(PAIR_SEPARATOR, F.least(first, second), F.greatest(first, second)),
    )


def _mediations_of(mediations: DataFrame, cases: DataFrame, key: str) -> DataFrame:
    """The mediations of ``cases`` keyed by their ``key``, with ``days_in_case`` (from opening)."""
    keyed = mediations.join(cases.select("case_id", key, "opened_at"), on="case_id")
    days = _days_between(F.col("opened_at"), F.col("at"))
    return keyed.withColumn("days_in_case", days).drop("opened_at")


class SparkHistory:
    """The typed tables as the sources the registry names, keyed the way its sides need.

    Mirrors ``triage.features.history.History``: a household's cases and mediations include
    those where it is the counterparty; status, closed_at, PII and ethnicity are never selected.
    Input ids are unique (the validator quarantines duplicates).
    """

    def __init__(self, tables: dict[str, DataFrame], text_model=None):
        ranks = FEATURE_CONFIG["ranks"]
        self.text_model = text_model
        self.households = tables["households"].select(*SOURCE_COLUMNS["households"])
        self.persons = tables["persons"].select(*SOURCE_COLUMNS["persons"])
        calls = (
            tables["hotline_calls"]
            .where(F.col("household_id").isNotNull())
            .select("call_id", "received_at", "channel", "household_id", "text")
        )
        cases = tables["cases"]
        with_counterparty = cases.where(F.col("counterparty_household_id").isNotNull())
        involvement = cases.select("case_id", "opened_at", "household_id").unionByName(
            with_counterparty.select(
                "case_id", "opened_at", F.col("counterparty_household_id").alias("household_id")
            )
        )
        between = with_counterparty.select(
            "case_id",
            "opened_at",
            household_pair("household_id", "counterparty_household_id").alias("household_pair"),
        )
        mediations = (
            tables["mediation_events"]
            .select("event_id", "case_id", "at", "level", "outcome")
            .withColumn("level_rank", _ranked("level", ranks["level"]))
        )
        assessments = (
            tables["psych_assessments"]
            .select("assessment_id", "person_id", "at", "tier")
            .withColumn("tier_rank", _ranked("tier", ranks["tier"]))
        )
        self._sources = {
            ("hotline_calls", "household_id"): _timed(
                with_call_signals(calls, text_model), "hotline_calls"
            ),
            ("incidents", "household_id"): _timed(
                tables["incidents"].select("incident_id", "occurred_at", "household_id", "offence"),
                "incidents",
            ),
            ("cases", "household_id"): _timed(involvement, "cases"),
            ("cases", "household_pair"): _timed(between, "cases"),
            ("mediation_events", "household_id"): _timed(
                _mediations_of(mediations, involvement, "household_id"), "mediation_events"
            ),
            ("mediation_events", "household_pair"): _timed(
                _mediations_of(mediations, between, "household_pair"), "mediation_events"
            ),
            ("mediation_events", "case_id"): _timed(mediations, "mediation_events"),
            ("screenings", "person_id"): _timed(
                tables["screenings"].select(
                    "screening_id", "person_id", "at", "instrument", "score", "item9"
                ),
                "screenings",
            ),
            ("psych_assessments", "person_id"): _timed(assessments, "psych_assessments"),
        }

    def source(self, name: str, key: str) -> DataFrame:
        return self._sources[(name, key)]


def _excluded_column(feature: Feature) -> str:
    return f"_query_{feature.exclude[0]}"


def _row_condition(feature: Feature, before_window: bool = False) -> Column:
    """The joined row counts for ``feature``: in its window (``before_window``: in the baseline
    days before it), passing ``where``, not excluded."""
    condition = F.lit(True)
    if before_window:
        condition &= (F.col(TIME) <= F.col(AS_OF) - F.lit(feature.window * DAY_US)) & (
            F.col(TIME) > F.col(AS_OF) - F.lit(feature.reach * DAY_US)
        )
    elif feature.window is not None:
        condition &= F.col(TIME) > F.col(AS_OF) - F.lit(feature.window * DAY_US)
    for column, allowed in feature.where:
        condition &= F.col(column).isin(list(allowed))
    if feature.exclude:
        source_column = feature.exclude[1]
        condition &= ~F.coalesce(
            F.col(source_column) == F.col(_excluded_column(feature)), F.lit(False)
        )
    return F.coalesce(condition, F.lit(False))


def _value(feature: Feature) -> Column:
    return F.col(feature.value).cast("double") if feature.value else F.lit(None).cast("double")


def _latest_struct(feature: Feature) -> Column:
    """The latest counted row (time, then id: the pandas engine's order) with its value."""
    return F.max(
        F.when(
            _row_condition(feature), F.struct(F.col(TIME), F.col(ID), _value(feature).alias("v"))
        )
    )


def _aggregate(feature: Feature) -> Column:
    counted = _row_condition(feature)
    if feature.op == "count":
        return F.count(F.when(counted, F.lit(1))).cast("double")
    if feature.op == "trend":
        recent = F.count(F.when(counted, F.lit(1)))
        earlier = F.count(F.when(_row_condition(feature, before_window=True), F.lit(1)))
        return F.log(
            (F.lit(1.0) + recent) / (F.lit(1.0) + earlier * feature.window / feature.baseline)
        )
    if feature.op == "max":
        return F.max(F.when(counted, _value(feature)))
    if feature.op == "min":
        return F.min(F.when(counted, _value(feature)))
    if feature.op == "mean":
        return F.avg(F.when(counted, _value(feature)))
    if feature.op == "latest":
        return _latest_struct(feature).getField("v")
    if feature.op == "latest_age_days":
        return (F.col(AS_OF) - F.max(F.when(counted, F.col(TIME)))) / F.lit(float(DAY_US))
    raise ValueError(f"{feature.name}: {feature.op} is not a window op")


def _lower_bound(features: list[Feature]) -> Column:
    """Rows older than the widest window are never read (no bound when a feature looks back for ever)."""
    if any(f.reach is None for f in features):
        return F.lit(True)
    return F.col(TIME) > F.col(AS_OF) - F.lit(max(f.reach for f in features) * DAY_US)


def _queries_by_key(queries: DataFrame, query_key: str, features: list[Feature]) -> DataFrame:
    excluded = {f.exclude[0] for f in features if f.exclude}
    return queries.select(
        ROW,
        AS_OF,
        F.col(query_key).alias("_key"),
        *[F.col(c).cast("string").alias(f"_query_{c}") for c in sorted(excluded)],
    )


def _window_aggregates(
    features: list[Feature], queries: DataFrame, history: SparkHistory
) -> DataFrame:
    """``count``/``trend``/``max``/``min``/``mean``/``latest``/``latest_age_days`` of one
    (source, side): one range join."""
    first = features[0]
    key = KEYED_BY[first.side]
    rows = history.source(first.source, key).withColumnRenamed(key, "_key")
    joined = (
        _queries_by_key(queries, first.query_key, features)
        .join(rows, on="_key")
        .where((F.col(TIME) <= F.col(AS_OF)) & _lower_bound(features))
    )
    return (
        joined.groupBy(ROW, AS_OF).agg(*[_aggregate(f).alias(f.name) for f in features]).drop(AS_OF)
    )


def _member_latest_aggregates(
    features: list[Feature], queries: DataFrame, history: SparkHistory
) -> DataFrame:
    """Each member's latest value (per feature), then the highest over the household's members."""
    first = features[0]
    members = _queries_by_key(queries, first.query_key, features).join(
        history.persons.select(F.col("household_id").alias("_key"), "person_id"), on="_key"
    )
    joined = members.join(history.source(first.source, "person_id"), on="person_id").where(
        (F.col(TIME) <= F.col(AS_OF)) & _lower_bound(features)
    )
    per_member = joined.groupBy(ROW, "person_id").agg(
        *[_latest_struct(f).getField("v").alias(f.name) for f in features]
    )
    return per_member.groupBy(ROW).agg(*[F.max(f.name).alias(f.name) for f in features])


def _member_flags(features: list[Feature], queries: DataFrame, history: SparkHistory) -> DataFrame:
    """1 if a member of the side's household has the flag, 0 if recorded and never true, else null."""
    first = features[0]
    flags = history.persons.groupBy(F.col("household_id").alias("_key")).agg(
        *[F.max(F.col(f.value).cast("double")).alias(f.name) for f in features]
    )
    return (
        queries.select(ROW, F.col(first.query_key).alias("_key"))
        .join(flags, on="_key")
        .drop("_key")
    )


def _days_between(earlier: Column, later: Column) -> Column:
    return (F.unix_micros(later) - F.unix_micros(earlier)) / F.lit(float(DAY_US))


def _household_attributes(
    features: list[Feature], queries: DataFrame, history: SparkHistory
) -> DataFrame:
    """Attributes of the side's household row, only once it was registered by ``as_of``."""
    first = features[0]
    rows = history.households.withColumnRenamed("household_id", "_key")
    joined = queries.select(ROW, "as_of", F.col(first.query_key).alias("_key")).join(
        rows, on="_key"
    )
    days = _days_between(F.col("registered_at"), F.col("as_of"))
    registered = F.coalesce(days >= 0, F.lit(False))
    columns = []
    for f in features:
        if f.op == "days_since":
            value = days
        elif f.kind == "categorical":
            value = F.col(f.value)
        else:
            value = F.col(f.value).cast("double")
        columns.append(F.when(registered, value).alias(f.name))
    return joined.select(ROW, *columns)


def _person_attributes(
    features: list[Feature], queries: DataFrame, history: SparkHistory
) -> DataFrame:
    first = features[0]
    rows = history.persons.drop("household_id").withColumnRenamed("person_id", "_key")
    joined = queries.select(ROW, "as_of", F.col(first.query_key).alias("_key")).join(
        rows, on="_key"
    )
    columns = []
    for f in features:
        if f.op == "age_years":
            local_year = F.year(F.from_utc_timestamp(F.col("as_of"), TIMEZONE))
            value = local_year.cast("double") - F.col(f.value).cast("double")
        elif f.kind == "categorical":
            value = F.col(f.value)
        else:
            value = F.col(f.value).cast("double")
        columns.append(value.alias(f.name))
    return joined.select(ROW, *columns)


def _case_column(feature: Feature) -> Column:
    """Ops that read the query's own case row."""
    column = F.col(feature.value)
    if feature.op == "attribute":
        return column if feature.kind == "categorical" else column.cast("double")
    if feature.op == "log1p":
        return F.log1p(column.cast("double"))
    if feature.op == "present":
        return column.isNotNull().cast("double")
    if feature.op == "days_since":
        return _days_between(column, F.col("as_of"))
    if feature.op == "lexicon":
        return F.col("_description_threat")
    if feature.op == "text_score":
        return F.col("_description_text_score")
    raise ValueError(f"{feature.name}: unknown op {feature.op}")


def _group_of(feature: Feature) -> tuple:
    """Features computed by one join: same builder, source and side."""
    if feature.op == "member_any":
        return ("member_flags", "persons", feature.side)
    if feature.op == "member_latest_max":
        return ("member_latest", feature.source, feature.side)
    if feature.op in HISTORY_OPS:
        return ("window", feature.source, feature.side)
    if feature.source == "households":
        return ("households", feature.source, feature.side)
    if feature.source == "persons":
        return ("persons", feature.source, feature.side)
    return ("case_row", feature.source, feature.side)


_BUILDERS = {
    "member_flags": _member_flags,
    "member_latest": _member_latest_aggregates,
    "window": _window_aggregates,
    "households": _household_attributes,
    "persons": _person_attributes,
}


def _finished(feature: Feature, value: Column) -> Column:
    """The pandas engine's last step: fill empty windows, and no party means unknown (not 0)."""
    if feature.kind == "categorical":
        return value.alias(feature.name)
    if feature.op in HISTORY_OPS and not math.isnan(feature.fill):
        value = F.coalesce(value, F.lit(feature.fill))
    if feature.side != "case":
        value = F.when(F.col(feature.query_key).isNull(), F.lit(None)).otherwise(value)
    return value.cast("double").alias(feature.name)


def compute_features(
    entity_features: tuple[Feature, ...], queries: DataFrame, history: SparkHistory, id_column: str
) -> DataFrame:
    """``ROW``, ``id_column``, ``as_of`` and one column per feature, for each query row.

    ``queries`` carries ``ROW`` (unique), ``as_of`` (timestamp) and the key columns the
    features' sides read.
    """
    queries = queries.withColumn(AS_OF, F.unix_micros(F.col("as_of")))
    if any(f.op in ("lexicon", "text_score") for f in entity_features):
        queries = with_description_signals(queries, history.text_model)
    queries = queries.localCheckpoint()  # every join below reads the queries: compute them once
    frame = queries
    ordered = sorted(entity_features, key=_group_of)
    for (builder, _, _), group in groupby(ordered, key=_group_of):
        if builder in _BUILDERS:
            frame = frame.join(
                _BUILDERS[builder](list(group), queries, history), on=ROW, how="left"
            )
    columns = [
        _finished(f, F.col(f.name) if _group_of(f)[0] != "case_row" else _case_column(f))
        for f in entity_features
    ]
    return frame.select(ROW, F.col(id_column).cast("string").alias(id_column), "as_of", *columns)


def build_case_features_spark(
    cases: DataFrame, tables: dict[str, DataFrame], *, text_model=None
) -> DataFrame:
    """Spark twin of :func:`triage.features.build_case_features`: one row per ``cases`` row.

    ``cases``: the contract's case columns, ``as_of`` and ``ROW`` (the input order); ``tables``:
    the typed tables as Spark DataFrames (see :mod:`triage.features.spark.tables`).
    """
    for column in ("counterparty_household_id", "amount_cny", "description"):
        if column not in cases.columns:
            cases = cases.withColumn(
                column, F.lit(None).cast("double" if column == "amount_cny" else "string")
            )
    cases = cases.withColumn(
        "household_pair", household_pair("household_id", "counterparty_household_id")
    )
    return compute_features(features_of("case"), cases, SparkHistory(tables, text_model), "case_id")


def build_person_features_spark(points: DataFrame, tables: dict[str, DataFrame]) -> DataFrame:
    """Spark twin of :func:`triage.features.build_person_features` (``ROW``, ``person_id``, ``as_of``)."""
    history = SparkHistory(tables)
    if "exclude_assessment_id" not in points.columns:
        points = points.withColumn("exclude_assessment_id", F.lit(None).cast("string"))
    households = history.persons.select("person_id", "household_id")
    points = points.drop("household_id").join(households, on="person_id", how="left")
    return compute_features(features_of("person"), points, history, "person_id")


def to_feature_frame(frame: DataFrame, entity: str = "case") -> pd.DataFrame:
    """Collect a Spark feature frame in the pandas engine's layout: input order, same dtypes."""
    return feature_layout(frame.orderBy(ROW).toPandas(), entity)


def feature_layout(collected: pd.DataFrame, entity: str = "case") -> pd.DataFrame:
    """A Spark feature frame's rows (collected, or read back from its Parquet) in the pandas
    engine's layout: the id, ``as_of`` in UTC and each feature with its dtype, in the row order given."""
    id_column = "case_id" if entity == "case" else "person_id"
    as_of = pd.to_datetime(collected["as_of"])
    as_of = as_of.dt.tz_localize("UTC") if as_of.dt.tz is None else as_of.dt.tz_convert("UTC")
    columns = {
        id_column: collected[id_column].astype("string").reset_index(drop=True),
        "as_of": as_of.astype("datetime64[ns, UTC]").reset_index(drop=True),
    }
    for feature in features_of(entity):
        values = collected[feature.name]
        if feature.kind == "categorical":
            columns[feature.name] = pd.Categorical(
                values.astype("string").to_numpy(na_value=None), categories=list(feature.categories)
            )
        else:
            columns[feature.name] = pd.to_numeric(values).astype("float64").to_numpy()
    return pd.DataFrame(columns)
