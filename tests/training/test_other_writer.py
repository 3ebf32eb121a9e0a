"""Training on a dataset from another writer than `triage generate`, with no code change."""

import json
import random

import pandas as pd
import pytest
from typer.testing import CliRunner

from tests.factories import random_tables
from triage.cli import app
from triage.contract import TABLES

pytestmark = pytest.mark.slow


def export_in_another_style(tables: dict[str, pd.DataFrame], folder) -> None:
    """Local times without offset, upper-case booleans, shuffled columns, an extra column; cases as Parquet."""
    shuffle = random.Random(3)
    folder.mkdir()
    for name, frame in tables.items():
        out = frame.copy()
        for column in TABLES[name].columns:
            if column.type == "timestamp":
                local = (
                    out[column.name].dt.tz_convert("Asia/Shanghai").dt.strftime("%Y-%m-%d %H:%M:%S")
                )
                out[column.name] = local.where(out[column.name].notna(), None)
            elif column.type == "bool":
                out[column.name] = out[column.name].map(
                    {True: "TRUE", False: "FALSE"}, na_action="ignore"
                )
        out["exported_by"] = "county-platform-v2"
        columns = list(out.columns)
        shuffle.shuffle(columns)
        out = out[columns].astype("string")
        if name == "cases":
            out.to_parquet(folder / "cases.parquet", index=False)
        else:
            out.to_csv(
                folder / f"{name}.csv", index=False, encoding="utf-8-sig", lineterminator="\r\n"
            )


def test_train_accepts_any_conforming_export(tmp_path, isolated_settings):
    dataset = tmp_path / "export"
    export_in_another_style(random_tables(800, seed=4), dataset)
    result = CliRunner().invoke(app, ["train", str(dataset), "--promote", "never"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["escalation"]["model"]["rows"] > 0 and "oracle" not in summary["escalation"]
    assert 0.0 <= summary["tier"]["model"]["macro_f1"] <= 1.0
    assert summary["versions"] == {"escalation": "triage-escalation/1", "tier": "triage-tier/1"}
