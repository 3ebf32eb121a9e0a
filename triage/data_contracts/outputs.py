"""What ``triage validate`` leaves behind: counts, quarantined rows, the suites and a report.

The report names rows by number, rule and column only, never by value, so it carries no PII;
the quarantine CSVs hold the rows as given, for the people who fix the source data, with
one change: a cell a spreadsheet would run as a formula (``=cmd|' /C calc'!A0``, ``+``, ``-``,
``@``, a leading tab or carriage return) is written with a leading apostrophe, so opening the
file shows the text instead of executing it.  Plain numbers such as ``-3`` are left alone.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from triage.contract import RULES
from triage.data_contracts.suites import build_suite
from triage.data_contracts.validation import ValidationResult

REPORT_EXAMPLES_PER_TABLE = 20
#: What Excel, LibreOffice and Google Sheets read as the start of a formula (OWASP "CSV injection").
_FORMULA_START = re.compile(r"^[=+\-@\t\r]")
_PLAIN_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)$")


def write_validation_outputs(result: ValidationResult, out: Path) -> None:
    """Write ``validation.json``, ``quarantine/<table>.csv``, ``suites/<table>.json``, ``report.md``."""
    out = Path(out)
    (out / "quarantine").mkdir(parents=True, exist_ok=True)
    (out / "suites").mkdir(parents=True, exist_ok=True)
    (out / "validation.json").write_text(
        json.dumps(result.summary, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    for table, rows in result.quarantine.items():
        spreadsheet_safe(rows).to_csv(
            out / "quarantine" / f"{table}.csv", index=False, encoding="utf-8"
        )
        (out / "suites" / f"{table}.json").write_text(
            json.dumps(build_suite(table).to_json_dict(), ensure_ascii=False, indent=2),
            encoding="utf-8",
        )
    (out / "report.md").write_text(render_report(result), encoding="utf-8")


def render_report(result: ValidationResult) -> str:
    """A Markdown page: totals, counts per table and rule, warnings, the first bad rows."""
    s = result.summary
    lines = ["# Data validation report", ""]
    if "dataset" in s:
        lines += [f"Dataset: `{s['dataset']}`", ""]
    lines += [
        f"**{result.one_line_summary()}**",
        "",
        "| table | rows read | valid | quarantined | by rule |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for table, counts in s["tables"].items():
        by_rule = ", ".join(f"{rule} {n:,}" for rule, n in counts["by_rule"].items()) or "–"
        lines.append(
            f"| {table} | {counts['rows_read']:,} | {counts['valid']:,} | "
            f"{counts['quarantined']:,} | {by_rule} |"
        )
    lines += ["", "## Warnings", ""]
    lines += [f"- {warning}" for warning in s["warnings"]] or ["None."]
    lines += [
        "",
        "## Rules",
        "",
        "A row is quarantined under the first rule it breaks, in this order.",
        "",
    ]
    lines += [f"{rank}. `{rule}`: {text}" for rank, (rule, text) in enumerate(RULES.items(), 1)]
    for table, rows in result.quarantine.items():
        if rows.empty:
            continue
        lines += [
            "",
            f"## Quarantined rows of {table}",
            "",
            f"The first {min(len(rows), REPORT_EXAMPLES_PER_TABLE)} of {len(rows):,}; "
            f"all are in `quarantine/{table}.csv`.",
            "",
            "| row | rule | detail |",
            "| ---: | --- | --- |",
        ]
        for row in rows.head(REPORT_EXAMPLES_PER_TABLE).itertuples():
            lines.append(f"| {row.row_number} | {row.rule} | {row.detail} |")
    return "\n".join(lines) + "\n"


def spreadsheet_safe(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows with every formula-like cell and column name prefixed by an apostrophe."""
    safe = rows.rename(columns=lambda name: _neutralised(str(name)))
    for name in safe.columns:
        if safe[name].dtype != object and not pd.api.types.is_string_dtype(safe[name].dtype):
            continue
        values = safe[name]
        risky = values.str.contains(_FORMULA_START, na=False) & ~values.str.fullmatch(
            _PLAIN_NUMBER, na=False
        )
        if risky.any():
            safe[name] = values.where(~risky, "'" + values)
    return safe


def _neutralised(cell: str) -> str:
    return "'" + cell if _FORMULA_START.match(cell) and not _PLAIN_NUMBER.match(cell) else cell
