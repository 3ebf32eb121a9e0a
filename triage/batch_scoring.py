"""`triage score`: every case of a dataset scored with the champion, as of its opening or a given moment.

The same feature code, model and routing rules as the HTTP service; only the history comes from
the exported files instead of the service database.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from triage.data_contracts import validate_dataset
from triage.features import build_case_features
from triage.features.chunks import case_chunks, joined
from triage.features.facts import route_facts
from triage.features.history import History
from triage.memory import release_memory
from triage.models.registry import configure_mlflow, load_native
from triage.output import write_frame
from triage.routing import RouteInput, RoutingRules, current_routing
from triage.settings import Settings


def scoring_points(cases: pd.DataFrame, as_of: pd.Timestamp | None) -> pd.DataFrame:
    """Each case as of its opening, or every case as of ``as_of`` (cases opened later are left out)."""
    if as_of is None:
        return cases.assign(as_of=cases["opened_at"]).reset_index(drop=True)
    return cases[cases["opened_at"] <= as_of].assign(as_of=as_of).reset_index(drop=True)


def score_cases(
    points: pd.DataFrame,
    tables: dict[str, pd.DataFrame],
    model,
    routing: RoutingRules,
    features: pd.DataFrame | None = None,
    engine: str = "pandas",
) -> pd.DataFrame:
    """One row per case: probability, band and route; ``features`` may be passed when already built.

    A large city is scored a chunk of households at a time (:mod:`triage.features.chunks`): each
    chunk's History serves its features and route facts, and only one lives at a time.
    ``engine="spark"`` builds the features and applies the model on Spark (same values); the
    route facts are always read from pandas histories.
    """
    points = points.reset_index(drop=True)
    if engine == "spark" and features is None:
        from triage.features.spark import case_probabilities

        # Facts first: their histories are freed before the Spark JVM takes its heap.
        facts = joined(
            case_chunks(points, tables),
            lambda rows, part: _route_facts(points.iloc[rows], History(part), routing),
            len(points),
        )
        release_memory()
        probability = case_probabilities(points, tables, model)
        return _routed(points, probability, facts, model, routing)

    def score_chunk(rows: np.ndarray, part: dict[str, pd.DataFrame]) -> pd.DataFrame:
        chunk = points.iloc[rows]
        history = History(part, model.text_model_ if features is None else None)
        chunk_features = (
            features.iloc[rows] if features is not None else build_case_features(chunk, history)
        )
        probability = model.predict_proba(chunk_features[model.feature_names_])[:, 1]
        return _routed(chunk, probability, _route_facts(chunk, history, routing), model, routing)

    return joined(case_chunks(points, tables), score_chunk, len(points))


def _route_facts(points: pd.DataFrame, history: History, routing: RoutingRules) -> pd.DataFrame:
    no_one_named = pd.DataFrame(
        {"row": pd.Series(dtype="int64"), "person_id": pd.Series(dtype="string")}
    )
    return route_facts(points, no_one_named, history, routing.weapon_words)


def _routed(
    points: pd.DataFrame, probability: np.ndarray, facts: pd.DataFrame, model, routing: RoutingRules
) -> pd.DataFrame:
    bands = model.bands(probability)
    routes = [
        routing.route(RouteInput(band=str(band), dispute_type=str(dispute), facts=row))
        for band, dispute, row in zip(bands, points["dispute_type"], facts.to_dict("records"))
    ]
    return pd.DataFrame(
        {
            "case_id": points["case_id"].astype(str).to_numpy(),
            "as_of": points["as_of"].reset_index(drop=True),
            "escalation_probability": probability,
            "band": bands,
            "teams": [";".join(r.teams) for r in routes],
            "priority": [r.priority for r in routes],
            "respond_within_hours": np.array([r.respond_within_hours for r in routes]),
            "rules": [";".join(r.rules) for r in routes],
        }
    )


def score_dataset(
    dataset: Path,
    out: Path,
    *,
    settings: Settings,
    as_of: pd.Timestamp | None = None,
    model_uri: str | None = None,
    engine: str = "pandas",
) -> dict:
    """Validate a dataset, score every (valid) case with the champion and write the scores.

    With ``engine="spark"`` and a folder ``out`` (no suffix), the executors write the features and
    scores there (:func:`_score_on_executors`).
    """
    tables = validate_dataset(
        dataset
    ).valid  # first: a missing dataset is told before a model loads
    configure_mlflow(settings)
    model = load_native(
        model_uri or f"models:/{settings.escalation_model_name}@{settings.champion_alias}"
    )
    routing = current_routing(settings.routing_file, set(settings.domain.teams))
    points = scoring_points(tables["cases"], as_of)
    if engine == "spark" and not Path(out).suffix:
        return _score_on_executors(points, tables, model, Path(out))
    scores = score_cases(points, tables, model, routing, engine=engine)
    write_frame(scores, out)
    return {"cases": len(scores), "out": str(out), "bands": scores["band"].value_counts().to_dict()}


def _score_on_executors(
    points: pd.DataFrame, tables: dict[str, pd.DataFrame], model, out: Path
) -> dict:
    """Features and scores (probability and band) written by the Spark executors as Parquet
    folders under ``out``, for a city whose frames the driver should not hold (docs/spark.md).

    The pandas tables are released once staged, before Spark runs; routes need the pandas
    history of the whole city, so they are not computed.
    """
    from pyspark.sql import functions as F

    from triage.features.spark import spark_session, staged_beside, write_case_scores

    cases = len(points)
    with staged_beside(out, points, tables) as staging:
        written = write_case_scores(staging, model, out)
    bands = spark_session().read.parquet(str(written["scores"])).groupBy("band").agg(F.count("*"))
    return {
        "cases": cases,
        "out": str(out),
        "features": str(written["features"]),
        "scores": str(written["scores"]),
        "bands": {band: count for band, count in bands.collect()},
    }
