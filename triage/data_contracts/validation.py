"""Validate raw exchange tables: split every table into typed valid rows and quarantined rows.

Per table, in ``TABLE_ORDER`` (so a referenced table is settled before the tables that
point at it):

1. the GX suite's *text* expectations run on the values as written;
2. well-formed text is parsed (timestamps to UTC, Asia/Shanghai when no offset is given);
   text the regexes let through but that is no real value (``2024-02-30``) fails the same rule;
3. the suite's *value* expectations run on the parsed values (ranges, rules within a row);
4. rules across rows and tables run in pandas: a repeated id (the second occurrence is bad),
   a reference to no *valid* row (or stored row) of the referenced table, and a mediation
   event before its case was opened.

A row that breaks several rules is quarantined once, under the first rule of
:data:`triage.contract.RULES` it breaks; ``detail`` lists every rule and column.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from triage.contract import (
    FIRST_YEAR,
    LAST_YEAR,
    RULES,
    TABLE_ORDER,
    TABLES,
    TIMEZONE,
    TYPED_DTYPES,
    Table,
)
from triage.data_contracts.reading import DatasetUnreadable, as_text_frame, read_dataset
from triage.memory import release_memory
from triage.data_contracts.suites import (
    TEXT_STAGE,
    TIMESTAMP_OFFSET_REGEX,
    VALUE_STAGE,
    Breach,
    build_suite,
    unexpected_rows,
)

log = logging.getLogger(__name__)

RULE_RANK = {rule: rank for rank, rule in enumerate(RULES)}
QUARANTINE_COLUMNS = ("row_number", "rule", "detail")
_PARSE_RULE = {
    "timestamp": "bad_timestamp",
    "bool": "bad_bool",
    "int": "bad_int",
    "decimal": "bad_decimal",
}
_BOOL_TEXT = {"true": True, "1": True, "false": False, "0": False}
#: Rows whose time must not precede the time of the row they reference:
#: table -> (time column, reference column, referenced table, referenced time column).
_FOLLOWS_REFERENCE = {"mediation_events": ("at", "case_id", "cases", "opened_at")}


@dataclass
class ValidationResult:
    """Typed valid rows and quarantined rows per table, with counts and warnings.

    ``valid[table]`` has the columns of the contract with :data:`TYPED_DTYPES`;
    ``quarantine[table]`` holds ``row_number`` (1-based data row), ``rule``, ``detail`` and
    then the row as given.  ``summary`` is what ``validation.json`` holds.
    """

    valid: dict[str, pd.DataFrame] = field(default_factory=dict)
    quarantine: dict[str, pd.DataFrame] = field(default_factory=dict)
    summary: dict = field(default_factory=dict)

    def one_line_summary(self) -> str:
        s = self.summary
        rules = ", ".join(f"{rule} {count:,}" for rule, count in s["by_rule"].items())
        text = (
            f"{len(s['tables'])} tables, {s['rows_read']:,} rows read: {s['valid']:,} valid, "
            f"{s['quarantined']:,} quarantined"
        )
        if rules:
            text += f" ({rules})"
        if s["warnings"]:
            text += f"; {len(s['warnings'])} warning(s)"
        return text


def validate_dataset(folder: Path) -> ValidationResult:
    """Read and validate every table of the dataset in ``folder`` (raises DatasetUnreadable)."""
    result = validate_frames(read_dataset(folder))
    result.summary["dataset"] = str(folder)
    release_memory()  # the raw tables' and the parts' pages, before training or scoring needs them
    return result


def validate_frames(
    raw: Mapping[str, pd.DataFrame], stored: Mapping[str, pd.DataFrame] | None = None
) -> ValidationResult:
    """Validate raw frames of some or all tables.

    ``raw`` maps table names to frames of the values as written (strings; other scalars are
    turned into their text form).  ``stored`` maps table names to rows already accepted
    earlier (e.g. in the service database): a frame with at least the table's key column,
    and for ``cases`` optionally ``opened_at`` (a UTC timestamp) so that mediation events
    are checked against it.  References are resolved against the valid rows of ``raw``
    plus ``stored``; with ``stored=None`` only ``raw`` counts.
    """
    unknown = sorted(set(raw) - set(TABLES))
    if unknown:
        raise DatasetUnreadable(f"unknown table(s): {', '.join(unknown)}")
    stored = stored or {}
    result = ValidationResult()
    warnings: list[str] = []
    per_table = {}
    for table in (t for t in TABLE_ORDER if t in raw):
        valid, quarantine, rows_read = _validate_in_parts(
            TABLES[table], raw[table], result.valid, stored, warnings
        )
        result.valid[table], result.quarantine[table] = valid, quarantine
        per_table[table] = {
            "rows_read": rows_read,
            "valid": len(valid),
            "quarantined": len(quarantine),
            "by_rule": _count_rules(quarantine["rule"]),
        }
        log.info(
            "%s: %d rows read, %d valid, %d quarantined",
            table,
            rows_read,
            len(valid),
            len(quarantine),
        )
    result.summary = {
        "tables": per_table,
        "rows_read": sum(t["rows_read"] for t in per_table.values()),
        "valid": sum(t["valid"] for t in per_table.values()),
        "quarantined": sum(t["quarantined"] for t in per_table.values()),
        "by_rule": _count_rules(
            pd.concat([q["rule"] for q in result.quarantine.values()])
            if result.quarantine
            else pd.Series(dtype="str")
        ),
        "warnings": warnings,
    }
    return result


#: Rows of a table validated at a time: its copies (as text, parsed, typed) live one part at a
#: time, so a table of 14 million calls does not need five times its size.  Every rule but a
#: repeated id reads one row; repeated ids are found over the whole table first.
ROWS_PER_PART = 1_000_000


def _validate_in_parts(
    spec: Table,
    frame: pd.DataFrame,
    settled: Mapping[str, pd.DataFrame],
    stored: Mapping[str, pd.DataFrame],
    warnings: list[str],
) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """Valid and quarantined rows of one table (row numbers of the whole table), and rows read."""
    frame = frame.reset_index(drop=True)
    repeated = _repeated_ids(spec, frame)
    valid, quarantine = [], []
    for start in range(0, max(len(frame), 1), ROWS_PER_PART):
        given = as_text_frame(
            frame.iloc[start : start + ROWS_PER_PART].reset_index(drop=True), spec.name, start
        )
        text = _contract_columns(spec, given, warnings if start == 0 else [])
        part_valid, part_quarantine = _validate_table(
            spec, given, text, settled, stored, repeated[start : start + len(given)]
        )
        if len(part_valid) + len(part_quarantine) != len(given):
            raise RuntimeError(
                f"{spec.name}: {len(given)} rows read but {len(part_valid)} valid + "
                f"{len(part_quarantine)} quarantined"
            )
        part_quarantine["row_number"] += start
        valid.append(part_valid)
        quarantine.append(part_quarantine)
    return (
        pd.concat(valid, ignore_index=True),
        pd.concat(quarantine, ignore_index=True),
        len(frame),
    )


def _repeated_ids(spec: Table, frame: pd.DataFrame) -> np.ndarray:
    """Rows whose id an earlier row of the table already used (the first is kept)."""
    if spec.key not in frame.columns:
        return np.zeros(len(frame), dtype=bool)
    key = as_text_frame(frame[[spec.key]], spec.name)[spec.key]
    return (key.duplicated(keep="first") & key.notna()).to_numpy(dtype=bool)


def _contract_columns(spec: Table, given: pd.DataFrame, warnings: list[str]) -> pd.DataFrame:
    """The contract's columns in contract order; absent optional columns are null."""
    required_missing = [c.name for c in spec.columns if not c.nullable and c.name not in given]
    if required_missing:
        raise DatasetUnreadable(
            f"table {spec.name}: required column(s) missing: {', '.join(required_missing)}"
        )
    extra = [name for name in given.columns if name not in spec.column_names]
    if extra:
        warnings.append(f"{spec.name}: extra column(s) ignored: {', '.join(map(str, extra))}")
    optional_missing = [name for name in spec.column_names if name not in given]
    if optional_missing:
        warnings.append(
            f"{spec.name}: optional column(s) absent, taken as empty: {', '.join(optional_missing)}"
        )
    return pd.DataFrame(
        {
            name: given[name] if name in given else pd.Series(pd.NA, index=given.index, dtype="str")
            for name in spec.column_names
        }
    )


def _validate_table(
    spec: Table,
    given: pd.DataFrame,
    text: pd.DataFrame,
    settled: Mapping[str, pd.DataFrame],
    stored: Mapping[str, pd.DataFrame],
    repeated: np.ndarray,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    suite = build_suite(spec.name)
    breaches = unexpected_rows(suite, TEXT_STAGE, text)
    values, parse_breaches = _parse(spec, _blank_malformed(text, breaches))
    breaches += parse_breaches
    breaches += unexpected_rows(suite, VALUE_STAGE, values)
    if repeated.any():
        breaches.append(Breach("duplicate_id", (spec.key,), np.flatnonzero(repeated)))
    breaches += _unknown_references(spec, text, settled, stored)
    breaches += _before_referenced_time(spec, values, settled, stored)

    verdict = _verdicts(breaches)
    bad = np.zeros(len(text), dtype=bool)
    bad[verdict.index.to_numpy()] = True
    valid = _typed(spec, values.loc[~bad]).reset_index(drop=True)
    quarantine = given.loc[bad].copy()
    quarantine.insert(0, "detail", verdict["detail"].reindex(quarantine.index))
    quarantine.insert(0, "rule", verdict["rule"].reindex(quarantine.index))
    quarantine.insert(0, "row_number", quarantine.index + 1)
    return valid, quarantine.reset_index(drop=True)


def _blank_malformed(text: pd.DataFrame, breaches: list[Breach]) -> pd.DataFrame:
    """Text with the cells that failed a format rule emptied, so that they are not parsed."""
    cleaned = text.copy()
    for breach in breaches:
        if len(breach.columns) == 1 and breach.rule != "missing_required":
            column = breach.columns[0]
            cleaned.loc[breach.rows, column] = pd.NA
    return cleaned


def _parse(spec: Table, text: pd.DataFrame) -> tuple[pd.DataFrame, list[Breach]]:
    """Parsed values for the value checks; ints stay floats so huge numbers fail as ranges."""
    values, breaches = {}, []
    for column in spec.columns:
        raw = text[column.name]
        if column.type == "timestamp":
            parsed = _parse_timestamps(raw)
            parsed = parsed.where(parsed.dt.year.between(FIRST_YEAR, LAST_YEAR))
        elif column.type == "bool":
            parsed = raw.str.lower().map(_BOOL_TEXT).astype("boolean")
        elif column.type in ("int", "decimal"):
            # numpy float64: GX compares ranges vectorised only on numpy dtypes
            parsed = pd.to_numeric(raw, errors="coerce").astype("float64")
        else:
            parsed = raw.astype("string")
        if column.type in _PARSE_RULE:
            unparsed = np.flatnonzero((parsed.isna() & raw.notna()).to_numpy())
            if unparsed.size:
                breaches.append(Breach(_PARSE_RULE[column.type], (column.name,), unparsed))
        values[column.name] = parsed
    return pd.DataFrame(values, index=text.index), breaches


def _parse_timestamps(raw: pd.Series) -> pd.Series:
    """ISO 8601 to UTC; a value without an offset is local time in Asia/Shanghai."""
    has_offset = raw.str.contains(TIMESTAMP_OFFSET_REGEX, regex=True).fillna(False).astype(bool)
    parsed = pd.Series(pd.NaT, index=raw.index, dtype=TYPED_DTYPES["timestamp"])
    if has_offset.any():
        parsed[has_offset] = pd.to_datetime(
            raw[has_offset], format="ISO8601", utc=True, errors="coerce"
        ).astype(TYPED_DTYPES["timestamp"])
    local = ~has_offset & raw.notna()
    if local.any():
        naive = pd.to_datetime(raw[local], format="ISO8601", errors="coerce")
        # China kept summer time in 1986-1991: a skipped local hour moves forward, a repeated
        # one is read as standard time, so that no well-written value is refused
        standard_time = np.zeros(len(naive), dtype=bool)
        parsed[local] = (
            naive.dt.tz_localize(TIMEZONE, ambiguous=standard_time, nonexistent="shift_forward")
            .dt.tz_convert("UTC")
            .astype(TYPED_DTYPES["timestamp"])
        )
    return parsed


def _referenced_rows(
    table: str, settled: Mapping[str, pd.DataFrame], stored: Mapping[str, pd.DataFrame]
) -> list[pd.DataFrame]:
    return [frames[table] for frames in (settled, stored) if table in frames]


def _unknown_references(
    spec: Table,
    text: pd.DataFrame,
    settled: Mapping[str, pd.DataFrame],
    stored: Mapping[str, pd.DataFrame],
) -> list[Breach]:
    breaches = []
    for column in (c for c in spec.columns if c.references):
        table, key = column.references.split(".")
        known = pa.chunked_array(
            [
                pa.array(rows[key].astype("str").dropna(), type=pa.string())
                for rows in _referenced_rows(table, settled, stored)
            ],
            type=pa.string(),
        )
        values = text[column.name]
        # pyarrow's hash lookup: pandas' isin on string arrays loops in Python over ``known``
        found = pc.is_in(
            pa.array(values, type=pa.string(), from_pandas=True), value_set=known.combine_chunks()
        ).to_numpy(zero_copy_only=False)
        unknown = np.flatnonzero(values.notna().to_numpy() & ~found)
        if unknown.size:
            breaches.append(Breach("unknown_reference", (column.name,), unknown))
    return breaches


def _before_referenced_time(
    spec: Table,
    values: pd.DataFrame,
    settled: Mapping[str, pd.DataFrame],
    stored: Mapping[str, pd.DataFrame],
) -> list[Breach]:
    if spec.name not in _FOLLOWS_REFERENCE:
        return []
    time_column, reference, table, referenced_time = _FOLLOWS_REFERENCE[spec.name]
    key = TABLES[table].key
    known = [
        rows[[key, referenced_time]]
        for rows in _referenced_rows(table, settled, stored)
        if referenced_time in rows
    ]
    if not known:
        return []
    # rows of this batch come after stored ones, so they win when an id is in both
    times = pd.concat(known).drop_duplicates(key, keep="last").set_index(key)[referenced_time]
    if times.empty:  # every referenced row was quarantined: mapping onto no times cannot be typed
        return []
    earliest = values[reference].map(times)
    early = np.flatnonzero((values[time_column] < earliest).fillna(False).to_numpy(dtype=bool))
    return (
        [Breach("time_order", (time_column, f"{table}.{referenced_time}"), early)]
        if early.size
        else []
    )


def _verdicts(breaches: list[Breach]) -> pd.DataFrame:
    """Per bad row: the first rule it breaks and a detail naming every rule and column."""
    if not breaches:
        return pd.DataFrame(
            {"rule": pd.Series(dtype="str"), "detail": pd.Series(dtype="str")},
            index=pd.Index([], dtype="int64"),
        )
    long = pd.concat(
        [
            pd.DataFrame(
                {
                    "row": b.rows,
                    "rank": RULE_RANK[b.rule],
                    "rule": b.rule,
                    "columns": ", ".join(b.columns),
                }
            )
            for b in breaches
        ]
    ).drop_duplicates()
    per_rule = (
        long.groupby(["row", "rank", "rule"], sort=True)["columns"]
        .agg(lambda names: ", ".join(dict.fromkeys(", ".join(names).split(", "))))
        .reset_index()
    )
    per_rule["label"] = per_rule["rule"] + " (" + per_rule["columns"] + ")"
    grouped = per_rule.groupby("row", sort=True)
    return pd.DataFrame(
        {"rule": grouped["rule"].first(), "detail": grouped["label"].agg("; ".join)}
    )


def _typed(spec: Table, values: pd.DataFrame) -> pd.DataFrame:
    return values.astype({c.name: TYPED_DTYPES[c.type] for c in spec.columns})


def _count_rules(rules: pd.Series) -> dict[str, int]:
    counts = rules.value_counts()
    return {rule: int(counts[rule]) for rule in RULES if rule in counts}
