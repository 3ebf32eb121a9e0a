"""Stored decisions: every score is written here, in the caller's transaction, before its
response leaves the service, and read back with its reviews.  The challenger's score of a
decision, when there is one, goes to its own table in the same transaction.

A decision is stored as its compact record (``ScoredCase.record``) with its model versions'
feature lists; reading it rebuilds the labelled answer (``scored.answer``), and the ``top`` of a
view is applied then, so the score call and a later ``GET`` show the same thing.
"""

from __future__ import annotations

from datetime import datetime, timezone
from functools import cache

from sqlalchemy import insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from triage.db.service_models import Decision, ModelFeatureList, ShadowScore
from triage.decisions.reviews import effective_route, review_out
from triage.decisions.scored import ScoredCase, answer
from triage.decisions.types import StoredScore
from triage.features import feature_labels
from triage.features.registry import features_of

#: Exchange tables whose raw values only analysts read back: police incidents, screenings and the
#: person registers (alcohol, prior conviction, mental-health registry).  A scorer still gets every
#: factor's contribution, so it can show why, but it cannot use scoring to look a household up.
SENSITIVE_SOURCES = frozenset({"incidents", "screenings", "persons"})

_INSERT = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}


def _wrap(teams: list[str]) -> str:
    return ";" + ";".join(teams) + ";"


def remember_feature_lists(session: Session, feature_lists: dict[str, list[str]]) -> None:
    """Keep each model version's feature list once (a version's list never changes).  A look-up by
    key comes first: writing the lists' JSON on every decision cost more than the look-up."""
    kept = session.scalars(
        select(ModelFeatureList.version).where(ModelFeatureList.version.in_(feature_lists))
    ).all()
    missing = [{"version": v, "names": n} for v, n in feature_lists.items() if v not in kept]
    if missing:
        dialect = session.get_bind().dialect.name
        session.execute(_INSERT[dialect](ModelFeatureList).on_conflict_do_nothing(), missing)


def feature_lists(
    session: Session, versions: set[str], known: dict[str, list[str]] | None = None
) -> dict[str, list[str]]:
    """The feature lists of ``versions``: those in ``known`` (the champions') as given, the others
    as stored."""
    known = known or {}
    missing = versions - known.keys()
    if not missing:
        return known
    rows = session.execute(
        select(ModelFeatureList.version, ModelFeatureList.names).where(
            ModelFeatureList.version.in_(missing)
        )
    )
    return {**known, **dict(rows.tuples().all())}


def store(
    session: Session,
    scored: list[ScoredCase],
    key_id: str | None,
    feature_lists_used: dict[str, list[str]],
) -> None:
    """Insert one decision per case in the session's transaction; the caller commits before responding.

    One INSERT for the whole batch (``insert(Decision)`` with a list of rows): adding 1,000 ORM
    objects cost more than scoring them.  Columns not named here take their defaults.
    """
    remember_feature_lists(session, feature_lists_used)
    now = datetime.now(timezone.utc)
    session.execute(
        insert(Decision),
        [
            dict(
                score_id=s.score_id,
                case_id=s.case_id,
                household_id=s.request.case.household_id,
                dispute_type=s.request.case.dispute_type,
                as_of=s.as_of,
                created_at=now,
                probability=s.escalation.probability,
                band=s.band,
                priority=s.route.priority,
                teams=_wrap(s.route.teams),
                escalation_version=s.models["escalation"],
                tier_version=s.models["tier"],
                request=s.request.model_dump(mode="json"),
                response=s.record(),
                respond_within_hours=s.route.respond_within_hours,
                key_id=key_id,
            )
            for s in scored
        ],
    )
    shadows = [s for s in scored if s.shadow is not None]
    if shadows:
        store_shadows(session, shadows)


def store_shadows(session: Session, scored: list[ScoredCase]) -> None:
    """The challenger's scores of stored decisions, one row each, in the same transaction."""
    session.execute(
        insert(ShadowScore),
        [
            dict(
                score_id=s.score_id,
                escalation_version=s.shadow.models["escalation"],
                tier_version=s.shadow.models["tier"],
                probability=s.shadow.probability,
                band=s.shadow.band,
                priority=s.shadow.route.priority,
                teams=_wrap(s.shadow.route.teams),
                tiers=s.shadow.tiers,
            )
            for s in scored
        ],
    )


def answers(
    scored: list[ScoredCase],
    lists: dict[str, list[str]],
    top: int | None = None,
    for_scorer: bool = False,
) -> list[dict]:
    """The labelled answers of decisions, as a key of that role sees them; ``lists``: the feature
    lists of their model versions (the champions' for a new score, :func:`feature_lists` for a
    stored one)."""
    hidden = sensitive_features() if for_scorer else frozenset()
    labels = feature_labels()
    return [answer(s, lists, labels, top, hidden) for s in scored]


def read_back(
    session: Session, records: list[dict], top: int | None, for_scorer: bool
) -> list[dict]:
    """The labelled answers of stored decision records."""
    scored = [ScoredCase.from_record(r) for r in records]
    lists = feature_lists(session, {v for s in scored for v in s.models.values()})
    return answers(scored, lists, top, for_scorer)


def get(session: Session, score_id: str, top: int | None) -> StoredScore | None:
    decision = session.get(Decision, score_id)
    if decision is None:
        return None
    (shown,) = read_back(session, [decision.response], top, for_scorer=False)
    return StoredScore(
        **shown,
        created_at=decision.created_at,
        request=decision.request,
        reviews=[review_out(r) for r in decision.reviews],
        trigger=decision.trigger,
        previous_score_id=decision.previous_score_id,
        band_rise=decision.band_rise,
        changes=decision.changes or [],
        effective_route=effective_route(decision),
        pending_review=any(r.status == "pending" for r in decision.reviews),
    )


@cache
def sensitive_features() -> frozenset[str]:
    return frozenset(
        f.name
        for entity in ("case", "person")
        for f in features_of(entity)
        if f.source in SENSITIVE_SOURCES
    )
