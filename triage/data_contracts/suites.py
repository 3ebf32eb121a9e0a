"""The rules of docs/data-format.md as great-expectations suites, one per table, from ``TABLES``.

Each expectation carries in its ``meta`` the quarantine ``rule`` it enforces and the
``stage`` it runs on: ``text`` expectations check the values *as written* (every column
read as a string), ``value`` expectations check the parsed values (numbers, UTC
timestamps) of rows whose text was well-formed.  :func:`unexpected_rows` runs one stage of
a suite and returns, per expectation, the positions of the rows that broke it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import great_expectations as gx
import numpy as np
import pandas as pd
from great_expectations import expectations as gxe
from great_expectations.data_context.types.base import (
    DataContextConfig,
    InMemoryStoreBackendDefaults,
    ProgressBarsConfig,
)
from great_expectations.expectations.row_conditions import Column as RowColumn
from great_expectations.expectations.row_conditions import ComparisonCondition

from triage.contract import INSTRUMENT_MAX_SCORE, MAX_ID_LENGTH, MAX_TEXT_LENGTH, TABLES, Column

TEXT_STAGE = "text"
VALUE_STAGE = "value"

_DIGITS = "[0-9]"
#: Python's whitespace spelled out: ``\S`` would push pandas onto its slow Python-regex path.
_NOT_SPACE = "[^" + "".join(ch for ch in map(chr, range(0x3001)) if ch.isspace()) + "]"
#: 1..64 characters, the first and the last not whitespace (``(?s)``: inner newlines allowed).
ID_REGEX = rf"(?s)^{_NOT_SPACE}(?:.{{0,{MAX_ID_LENGTH - 2}}}{_NOT_SPACE})?$"
_DATE = rf"{_DIGITS}{{4}}-{_DIGITS}{{2}}-{_DIGITS}{{2}}"
_TIME = rf"[T ]{_DIGITS}{{2}}:{_DIGITS}{{2}}(?::{_DIGITS}{{2}}(?:\.{_DIGITS}{{1,9}})?)?"
_OFFSET = rf"(?:Z|[+-]{_DIGITS}{{2}}(?::?{_DIGITS}{{2}})?)"
TIMESTAMP_REGEX = rf"^{_DATE}(?:{_TIME}{_OFFSET}?)?$"
#: Matches the tail of a timestamp that carries its own offset (the others are Asia/Shanghai).
TIMESTAMP_OFFSET_REGEX = rf"{_TIME}{_OFFSET}$"
BOOL_REGEX = r"(?i)^(?:true|false|1|0)$"
INT_REGEX = rf"^-?{_DIGITS}+$"
DECIMAL_REGEX = rf"^-?(?:{_DIGITS}+(?:\.{_DIGITS}*)?|\.{_DIGITS}+)$"

_FORMAT_RULES = {
    "id": ("bad_id", ID_REGEX, f"1..{MAX_ID_LENGTH} characters, no surrounding whitespace"),
    "timestamp": ("bad_timestamp", TIMESTAMP_REGEX, "ISO 8601, offset optional"),
    "bool": ("bad_bool", BOOL_REGEX, "true/false (any case) or 1/0"),
    "int": ("bad_int", INT_REGEX, "plain decimal digits"),
    "decimal": ("bad_decimal", DECIMAL_REGEX, "plain decimal number, '.' as point"),
}


@dataclass(frozen=True)
class Breach:
    """Rows of one table that broke one expectation."""

    rule: str
    columns: tuple[str, ...]
    rows: np.ndarray  # positions in the validated frame


def _meta(rule: str, stage: str) -> dict:
    return {"rule": rule, "stage": stage}


def _text_expectations(column: Column) -> list[gxe.Expectation]:
    name = column.name
    expectations: list[gxe.Expectation] = []
    if not column.nullable:
        expectations.append(
            gxe.ExpectColumnValuesToNotBeNull(
                column=name, meta=_meta("missing_required", TEXT_STAGE)
            )
        )
    if column.type in _FORMAT_RULES:
        rule, regex, description = _FORMAT_RULES[column.type]
        expectations.append(
            gxe.ExpectColumnValuesToMatchRegex(
                column=name, regex=regex, description=description, meta=_meta(rule, TEXT_STAGE)
            )
        )
    elif column.type == "enum":
        expectations.append(
            gxe.ExpectColumnValuesToBeInSet(
                column=name, value_set=list(column.values), meta=_meta("bad_enum", TEXT_STAGE)
            )
        )
    elif column.type == "text":
        expectations.append(
            gxe.ExpectColumnValueLengthsToBeBetween(
                column=name, max_value=MAX_TEXT_LENGTH, meta=_meta("text_too_long", TEXT_STAGE)
            )
        )
    return expectations


def _range_expectation(column: Column, current_year: int) -> gxe.Expectation | None:
    maximum = current_year if column.max_is_current_year else column.max
    if column.min is None and maximum is None:
        return None
    return gxe.ExpectColumnValuesToBeBetween(
        column=column.name,
        min_value=column.min,
        max_value=maximum,
        meta=_meta("out_of_range", VALUE_STAGE),
    )


def _row_expectations(table: str) -> list[gxe.Expectation]:
    """Rules tying columns of one row together (docs/data-format.md "The tables")."""
    spec = TABLES[table]
    expectations: list[gxe.Expectation] = [
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A=later,
            column_B=earlier,
            or_equal=True,
            ignore_row_if="either_value_is_missing",
            meta=_meta("time_order", VALUE_STAGE),
        )
        for later, earlier in spec.ordered
    ]
    if table == "cases":
        expectations.append(
            gxe.ExpectSelectColumnValuesToBeUniqueWithinRecord(
                column_list=["household_id", "counterparty_household_id"],
                ignore_row_if="any_value_is_missing",
                description="the counterparty household differs from the household",
                meta=_meta("inconsistent", VALUE_STAGE),
            )
        )
    if table == "screenings":
        for instrument, ceiling in INSTRUMENT_MAX_SCORE.items():
            if ceiling < spec.column("score").max:
                expectations.append(
                    gxe.ExpectColumnValuesToBeBetween(
                        column="score",
                        max_value=ceiling,
                        row_condition=RowColumn("instrument") == instrument,
                        condition_parser="great_expectations",
                        meta=_meta("out_of_range", VALUE_STAGE),
                    )
                )
        expectations.append(
            gxe.ExpectColumnValuesToBeNull(
                column="item9",
                row_condition=RowColumn("instrument") == "gad7",
                condition_parser="great_expectations",
                description="item 9 belongs to the PHQ-9 only",
                meta=_meta("inconsistent", VALUE_STAGE),
            )
        )
    return expectations


def build_suite(table: str, current_year: int | None = None) -> gx.ExpectationSuite:
    """The expectation suite of ``table``: every docs/data-format.md rule one row can break."""
    year = current_year or date.today().year
    spec = TABLES[table]
    expectations: list[gxe.Expectation] = []
    for column in spec.columns:
        expectations.extend(_text_expectations(column))
    for column in spec.columns:
        if column.type in ("int", "decimal") and (ranged := _range_expectation(column, year)):
            expectations.append(ranged)
    expectations.extend(_row_expectations(table))
    return gx.ExpectationSuite(
        name=table,
        expectations=expectations,
        meta={"source": "triage.contract.TABLES (docs/data-format.md)"},
    )


@lru_cache(maxsize=1)
def _batch_definition():
    """One in-memory GX context for the process: no files, no progress bars, no analytics."""
    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(),
        progress_bars=ProgressBarsConfig(globally=False),
        analytics_enabled=False,
    )
    context = gx.get_context(mode="ephemeral", project_config=config)
    asset = context.data_sources.add_pandas("triage").add_dataframe_asset("exchange_table")
    return asset.add_batch_definition_whole_dataframe("whole_table")


#: Tables with at least this many rows are checked column by column, on distinct values.
SPLIT_ABOVE_ROWS = 20_000
_GX_LOCK = threading.Lock()  # the GX context is shared; the HTTP ingest may call from threads


def unexpected_rows(suite: gx.ExpectationSuite, stage: str, frame: pd.DataFrame) -> list[Breach]:
    """Validate ``frame`` against the ``stage`` expectations of ``suite``; return what broke.

    ``frame`` must have a default RangeIndex, so GX's unexpected indices are row positions.
    On a large table expectations run in groups reading the same columns, each on a frame of
    those columns only: GX hashes every batch whole and copies it whole to drop a column's
    nulls, which on a wide table costs more than the checks themselves.  A rule on one column
    alone depends on the value only, so GX sees each distinct value once and the verdict is
    mapped back to the rows holding it.
    """
    staged = [e for e in suite.expectations if e.meta["stage"] == stage]
    if frame.empty or not staged:
        return []
    groups: dict[tuple[str, ...], list[gxe.Expectation]] = {}
    if len(frame) < SPLIT_ABOVE_ROWS:  # one GX run: its fixed cost outweighs the copying
        groups[tuple(sorted(set().union(*map(_columns_used, staged))))] = staged
    else:
        for expectation in staged:
            groups.setdefault(tuple(sorted(_columns_used(expectation))), []).append(expectation)
    breaches = []
    for columns, expectations in groups.items():
        group_suite = gx.ExpectationSuite(
            name=f"{suite.name}:{stage}:{','.join(columns)}", expectations=expectations
        )
        per_value = len(columns) == 1 and all(e.row_condition is None for e in expectations)
        if per_value:
            codes, distinct = pd.factorize(frame[columns[0]], use_na_sentinel=False)
            checked = pd.DataFrame({columns[0]: distinct})
        else:
            checked = frame[list(columns)]
        with _GX_LOCK:
            batch = _batch_definition().get_batch(batch_parameters={"dataframe": checked})
            outcome = batch.validate(group_suite, result_format={"result_format": "COMPLETE"})
        for breach in _breaches(suite.name, outcome):
            if per_value:
                breach = Breach(
                    breach.rule, breach.columns, np.flatnonzero(np.isin(codes, breach.rows))
                )
            breaches.append(breach)
    return breaches


def _breaches(table: str, outcome) -> list[Breach]:
    """The failed expectations of one GX run; an expectation that crashed is a bug, not a pass."""
    breaches = []
    for result in outcome.results:
        config = result.expectation_config
        if result.exception_info.get("raised_exception"):
            raise RuntimeError(
                f"expectation {config.type} on {table} failed to run: "
                f"{result.exception_info.get('exception_message')}"
            )
        if not result.success:
            rows = np.asarray(result.result["unexpected_index_list"], dtype=np.int64)
            breaches.append(Breach(config.meta["rule"], _checked_columns(config.kwargs), rows))
    return breaches


def _checked_columns(kwargs: dict) -> tuple[str, ...]:
    return tuple(
        kwargs.get("column_list")
        or [kwargs[k] for k in ("column", "column_A", "column_B") if k in kwargs]
    )


def _columns_used(expectation: gxe.Expectation) -> set[str]:
    """The columns an expectation checks plus the one its row condition reads."""
    used = set(_checked_columns(expectation.configuration.kwargs))
    if isinstance(expectation.row_condition, ComparisonCondition):
        used.add(expectation.row_condition.column.name)
    return used
