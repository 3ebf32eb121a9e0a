"""Deliberately broken rows for testing the validator: each breaks exactly one rule of ``RULES``.

A bad row is a copy of a valid row with a fresh id (nothing references it, so no valid row is
affected), broken in one way; a ``duplicate_id`` row is an exact copy placed after its original.
Bad rows are spread through the file, and ``_expected/bad_rows.csv`` lists where they landed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa

from triage.contract import INGEST_RULES, MAX_ID_LENGTH, MAX_TEXT_LENGTH, RULES, TABLES, Table

BAD_VALUES = {
    "bad_timestamp": "2023-13-05T10:00:00+08:00",
    "bad_bool": "yes",
    "bad_int": "3人",
    "bad_decimal": "1.2万",
    "bad_enum": "not_a_code",
}
#: Rules that need something particular of a table (a pair of columns or a parent table).
SPECIAL_RULES = {
    "inconsistent": ("cases", "screenings"),
    "time_order": ("cases", "mediation_events"),
}


def applicable_rules(spec: Table) -> list[str]:
    """The rules of ``RULES`` a row of this table can break, in precedence order."""
    types = {c.type for c in spec.columns}
    needs_type = {
        "bad_timestamp": "timestamp",
        "bad_bool": "bool",
        "bad_int": "int",
        "bad_decimal": "decimal",
        "bad_enum": "enum",
        "text_too_long": "text",
    }
    rules = []
    for rule in RULES:
        if rule in INGEST_RULES:  # no file can hold such a row (see triage.contract.INGEST_RULES)
            continue
        if rule in needs_type and needs_type[rule] not in types:
            continue
        if rule in SPECIAL_RULES and spec.name not in SPECIAL_RULES[rule]:
            continue
        if rule == "out_of_range" and not _bounded_int(spec):
            continue
        if rule == "unknown_reference" and not any(c.references for c in spec.columns):
            continue
        rules.append(rule)
    return rules


def _bounded_int(spec: Table):
    return next(
        (
            c
            for c in spec.columns
            if c.type == "int" and (c.max is not None or c.min is not None or c.max_is_current_year)
        ),
        None,
    )


def _first(spec: Table, kind: str):
    return next(c for c in spec.columns if c.type == kind)


def _shift_days(stamp: str, days: int) -> str:
    return (datetime.fromisoformat(stamp) + timedelta(days=days)).isoformat()


class BadRowMaker:
    """Builds broken copies of rows of the valid tables (given as Arrow tables of text)."""

    def __init__(self, rng: np.random.Generator, tables: dict[str, pa.Table]):
        self.rng = rng
        self.tables = tables
        self._case_opened: dict[str, str] | None = None

    def make(self, table: str, rule: str, serial: int) -> tuple[dict, int]:
        """A broken row and the index of the valid row it copies."""
        spec = TABLES[table]
        source = self._source_row(table, rule)
        row = self.tables[table].slice(source, 1).to_pylist()[0]
        if rule == "duplicate_id":
            return row, source
        row[spec.key] = f"{row[spec.key]}x{serial}"
        if rule == "missing_required":
            column = next(c for c in spec.columns if not c.nullable and c.name != spec.key)
            row[column.name] = None
        elif rule == "bad_id":
            row[spec.key] = row[spec.key] + "-" + "x" * MAX_ID_LENGTH
        elif rule in BAD_VALUES:
            kind = rule.removeprefix("bad_")
            row[_first(spec, kind).name] = BAD_VALUES[rule]
        elif rule == "out_of_range":
            column = _bounded_int(spec)
            row[column.name] = (
                str(int(column.max) + 1) if column.max is not None else str(int(column.min) - 1)
            )
        elif rule == "text_too_long":
            row[_first(spec, "text").name] = "长" * (MAX_TEXT_LENGTH + 1)
        elif rule == "inconsistent" and table == "cases":
            row["counterparty_household_id"] = row["household_id"]
        elif rule == "inconsistent":
            row["item9"] = "1"  # item 9 belongs to PHQ-9 only; this is a GAD-7
        elif rule == "time_order" and table == "cases":
            row["closed_at"] = _shift_days(row["opened_at"], -2)
        elif rule == "time_order":
            row["at"] = _shift_days(self._opened(row["case_id"]), -2)
        elif rule == "unknown_reference":
            column = next(c for c in spec.columns if c.references)
            row[column.name] = f"{column.references.split('.')[0][:1].upper()}-unknown-{serial}"
        return row, source

    def _source_row(self, table: str, rule: str) -> int:
        """A valid row fit for the breakage (e.g. a GAD-7 to carry an item 9)."""
        columns = self.tables[table]
        wanted = None
        if table == "screenings" and rule == "inconsistent":
            wanted = np.asarray(columns["instrument"].to_numpy(zero_copy_only=False) == "gad7")
        elif table == "screenings" and rule == "out_of_range":
            wanted = np.asarray(columns["instrument"].to_numpy(zero_copy_only=False) == "phq9")
        elif table == "cases" and rule == "time_order":
            wanted = ~np.asarray(columns["closed_at"].is_null().to_numpy(zero_copy_only=False))
        elif rule == "unknown_reference":
            column = next(c for c in TABLES[table].columns if c.references)
            wanted = ~np.asarray(columns[column.name].is_null().to_numpy(zero_copy_only=False))
        candidates = np.flatnonzero(wanted) if wanted is not None else np.arange(columns.num_rows)
        return int(candidates[self.rng.integers(0, len(candidates))])

    def _opened(self, case_id: str) -> str:
        if self._case_opened is None:
            cases = self.tables["cases"]
            self._case_opened = dict(
                zip(cases["case_id"].to_pylist(), cases["opened_at"].to_pylist())
            )
        return self._case_opened[case_id]


def inject_bad_rows(rng: np.random.Generator, tables: dict[str, pa.Table], share: float):
    """Tables with bad rows spread among the valid ones, and the list ``(table, row_number, rule)``."""
    maker = BadRowMaker(rng, tables)
    out, expected = {}, []
    for name, valid in tables.items():
        rules = applicable_rules(TABLES[name])
        if valid.num_rows == 0 or not rules:
            out[name] = valid
            continue
        n_bad = max(len(rules), round(share * valid.num_rows))
        rows, keys, row_rules = [], [], []
        for serial in range(n_bad):
            rule = rules[serial % len(rules)]
            row, source = maker.make(name, rule, serial)
            earliest = source + 1 if rule == "duplicate_id" else 0
            rows.append(row)
            row_rules.append(rule)
            keys.append(rng.integers(earliest, valid.num_rows + 1) - 0.5)  # before valid row k
        bad = pa.Table.from_pylist(rows, schema=valid.schema)
        order = np.argsort(
            np.concatenate([np.arange(valid.num_rows, dtype=float), keys]), kind="stable"
        )
        out[name] = pa.concat_tables([valid, bad]).take(order)
        position = np.empty(len(order), dtype=np.int64)
        position[order] = np.arange(len(order))
        for i, rule in enumerate(row_rules):
            expected.append((name, int(position[valid.num_rows + i]) + 1, rule))
    return out, expected
