"""What a training run keeps for monitoring, and how ``triage monitor`` finds it again.

Each ``triage train`` logs, beside the escalation model, ``monitoring/reference.parquet``: a sample
of the held-out window's feature rows (the latest labelled months the model was judged on), each
with its out-of-sample score and its household's district and area type, plus
``monitoring/reference.json`` with that window's AUC and calibration and the share of rows the data
contract quarantined per table.  The champion's run id leads ``triage monitor`` to both.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd

REFERENCE_DIR = "monitoring"
REFERENCE_FRAME = "reference.parquet"
REFERENCE_FACTS = "reference.json"
#: Household attributes compared as a population mix (not model features).
POPULATION_COLUMNS = ("district", "area_type")


def quarantine_shares(validation_summary: dict) -> dict[str, float]:
    """Share of each table's rows the data contract quarantined."""
    return {
        table: t["quarantined"] / t["rows_read"] if t["rows_read"] else 0.0
        for table, t in validation_summary["tables"].items()
    }


def reference_frame(
    X: pd.DataFrame, scores: np.ndarray, population: pd.DataFrame, *, rows: int, seed: int = 0
) -> pd.DataFrame:
    """A reproducible sample of at most ``rows`` feature rows with their score and population columns."""
    frame = pd.concat(
        [X.reset_index(drop=True), population[list(POPULATION_COLUMNS)].reset_index(drop=True)],
        axis=1,
    ).assign(score=np.asarray(scores, dtype=float))
    if len(frame) > rows:
        frame = frame.sample(n=rows, random_state=seed).sort_index()
    return frame.reset_index(drop=True)


def log_reference(frame: pd.DataFrame, facts: dict) -> None:
    """Log the reference sample and its facts as artifacts of the active MLflow run."""
    with tempfile.TemporaryDirectory() as tmp:
        frame.to_parquet(Path(tmp) / REFERENCE_FRAME, index=False)
        (Path(tmp) / REFERENCE_FACTS).write_text(
            json.dumps(facts, indent=2, ensure_ascii=False), encoding="utf-8"
        )
        mlflow.log_artifacts(tmp, REFERENCE_DIR)


def load_reference(run_id: str) -> tuple[pd.DataFrame, dict]:
    """The reference sample and facts a training run logged (raises when the run predates them)."""
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(
            mlflow.artifacts.download_artifacts(
                run_id=run_id, artifact_path=REFERENCE_DIR, dst_path=tmp
            )
        )
        return (
            pd.read_parquet(local / REFERENCE_FRAME),
            json.loads((local / REFERENCE_FACTS).read_text(encoding="utf-8")),
        )
