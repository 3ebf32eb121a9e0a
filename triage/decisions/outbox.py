"""The outbox of re-scores: the work new rows cause, committed with them and done until none is left.

New rows (an ingest, each chunk of ``triage load``) and the re-scores they call for commit
together: the rows' transaction also writes one ``pending_rescores`` row per open case of the
households concerned (:func:`queue`); news for a case already waiting merges into its row, so a
case is never queued twice.  A drain (:func:`drain`) scores pending cases and, in one
transaction per batch, deletes their rows and stores the new decisions.  A crash anywhere leaves
either the pending row or the decision, never neither and never both.  Nothing is drained while no
champion is loaded: the rows wait for the next drain, which the service runs at start-up and
whenever champions are loaded (:class:`OutboxWorker`), and ``triage load`` at its end.

Several drainers may run at once (service workers, an ingest, ``triage load``): a drainer scores
the rows it read, then claims each by deleting it *as it read it* (the same ``queued_at``).  A
row another drainer took meanwhile, or that news changed, is not claimed, and its score is
dropped: each pending row becomes exactly one decision.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timezone

from sqlalchemy import Engine, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from triage.db.service_models import PendingRescore
from triage.decisions.champions import ChampionStore
from triage.decisions.rescoring import (
    Target,
    max_listed,
    in_chunks,
    latest_decisions,
    open_at,
    score_targets,
    store_rescores,
)
from triage.decisions.types import Rescored

log = logging.getLogger(__name__)

_PENDING = PendingRescore.__table__
_INSERTS = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}


def queue(session: Session, targets: list[Target], key_id: str | None) -> set[str]:
    """Queue a re-score of each target's case in the session's transaction; returns the case ids.

    A case already waiting keeps one row: the later moment (and its trigger), the lines of both.
    Written as an upsert, so that a drainer deleting the row meanwhile cannot make it vanish.
    """
    if not targets:
        return set()
    by_case = {t.decision.case_id: t for t in targets}
    waiting = {
        row.case_id: row
        for chunk in in_chunks(sorted(by_case))
        for row in session.execute(
            select(
                _PENDING.c.case_id, _PENDING.c.as_of, _PENDING.c.trigger, _PENDING.c.changes
            ).where(_PENDING.c.case_id.in_(chunk))
        )
    }
    now = datetime.now(timezone.utc)
    rows = []
    for case_id, target in sorted(by_case.items()):
        as_of, trigger, changes = target.as_of, target.trigger, list(target.lines)
        held = waiting.get(case_id)
        if held is not None:
            if held.as_of > as_of:
                as_of, trigger = held.as_of, held.trigger
            changes = list(held.changes) + [line for line in changes if line not in held.changes]
        rows.append(
            dict(
                case_id=case_id,
                queued_at=now,
                as_of=as_of,
                trigger=trigger,
                changes=changes,
                key_id=key_id,
            )
        )
    insert = _INSERTS[session.get_bind().dialect.name](_PENDING)
    session.execute(
        insert.on_conflict_do_update(
            index_elements=["case_id"],
            set_={name: insert.excluded[name] for name in rows[0] if name != "case_id"},
        ),
        rows,
    )
    return set(by_case)


def waiting_reason(champions: ChampionStore | None, waiting: int) -> str:
    """Why ``waiting`` queued re-scores were not done: no champion is loaded."""
    why = f" ({champions.last_error})" if champions is not None and champions.last_error else ""
    return (
        f"{waiting} open cases wait for re-scoring: no champion models are loaded{why}; "
        "they are re-scored once champions are loaded"
    )


def drain_queued(
    engine: Engine, scorer, champions: ChampionStore | None, cases: set[str]
) -> tuple[list[Rescored], str | None]:
    """Re-score ``cases`` just queued and committed: the re-scores, and why they wait, if they do
    (no champion loaded, or the database failed: they stay pending for the next drain)."""
    if not cases:
        return [], None
    if champions is None or not champions.ready:
        return [], waiting_reason(champions, len(cases))
    try:
        return drain(engine, scorer, champions, cases=cases), None
    except SQLAlchemyError as exc:
        return [], (
            f"{len(cases)} open cases wait for re-scoring: the database failed "
            f"({type(exc).__name__})"
        )


def pending_count(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(_PENDING))


def drain(
    engine: Engine,
    scorer,
    champions: ChampionStore,
    *,
    cases: Iterable[str] | None = None,
    stop: threading.Event | None = None,
) -> list[Rescored]:
    """Re-score pending cases (only ``cases``, when given) until none is left; returns the re-scores
    this drain stored.  Does nothing while no champion is loaded."""
    done: list[Rescored] = []
    pieces = [None] if cases is None else list(in_chunks(sorted(set(cases))))
    for piece in pieces:
        missed: set[tuple] = set()
        while champions.ready and not (stop is not None and stop.is_set()):
            stored, unclaimed = _drain_batch(engine, scorer, champions, piece, missed)
            if stored is None:
                break
            done += stored
            missed |= unclaimed
    return done


def _drain_batch(
    engine: Engine, scorer, champions: ChampionStore, piece: list[str] | None, missed: set[tuple]
) -> tuple[list[Rescored] | None, set[tuple]]:
    """One batch: read, score, claim and store.  ``(None, …)`` once nothing is pending (or a row
    could not be claimed twice over, which would otherwise loop)."""
    pair = champions.current
    query = select(_PENDING).order_by(_PENDING.c.queued_at, _PENDING.c.case_id)
    if piece is not None:
        query = query.where(_PENDING.c.case_id.in_(piece))
    with Session(engine) as session:
        pending = session.execute(query.limit(scorer.settings.max_batch_cases)).all()
        if not pending:
            return None, set()
        if any((row.case_id, row.queued_at) in missed for row in pending):
            log.error("pending re-scores could not be claimed twice; left for the next drain")
            return None, set()
        latest = latest_decisions(session, cases=[row.case_id for row in pending])
        moments = {
            row.case_id: max(row.as_of, latest[row.case_id].as_of)
            for row in pending
            if row.case_id in latest
        }
        still_open = open_at(session, moments, moments)
    targets = [
        (row.key_id, Target(latest[row.case_id], moments[row.case_id], row.trigger, row.changes))
        for row in pending
        if row.case_id in still_open
    ]
    scored = dict(
        zip(
            (t.decision.case_id for _, t in targets),
            score_targets(scorer, pair, [t for _, t in targets]),
        )
    )
    with Session(engine) as session:
        claimed = {
            row.case_id
            for row in pending
            if session.execute(
                delete(_PENDING).where(
                    _PENDING.c.case_id == row.case_id, _PENDING.c.queued_at == row.queued_at
                )
            ).rowcount
        }
        by_key: dict[str | None, list[Target]] = defaultdict(list)
        for key_id, target in targets:
            if target.decision.case_id in claimed:
                by_key[key_id].append(target)
        stored: list[Rescored] = []
        for key_id, mine in by_key.items():
            stored += store_rescores(
                session,
                mine,
                [scored[t.decision.case_id] for t in mine],
                key_id,
                max_listed(scorer),
                pair.feature_lists,
            )
        session.commit()
    unclaimed = {(row.case_id, row.queued_at) for row in pending if row.case_id not in claimed}
    return stored, unclaimed


class OutboxWorker:
    """Drains the outbox in a thread of its own when kicked: at start-up and when champions are loaded.

    Kicks while it drains make it drain once more at the end, so none is lost; a failed drain is
    logged and its rows wait for the next kick.
    """

    def __init__(self, engine: Engine, scorer, champions: ChampionStore):
        self.engine, self.scorer, self.champions = engine, scorer, champions
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._again = False
        self._stop = threading.Event()

    def kick(self) -> None:
        with self._lock:
            if self._stop.is_set():
                return
            if self._thread is not None:
                self._again = True
                return
            self._thread = threading.Thread(target=self._run, name="outbox", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                done = drain(self.engine, self.scorer, self.champions, stop=self._stop)
                if done:
                    log.info("re-scored %d pending cases", len(done))
            except Exception as exc:  # noqa: BLE001 - the rows stay pending for the next kick
                log.warning("draining pending re-scores failed: %s", type(exc).__name__)
            with self._lock:
                if not self._again or self._stop.is_set():
                    self._thread = None
                    return
                self._again = False

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the drain under way, if any; whether it has ended."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True

    def stop(self) -> None:
        """Stop after the batch under way (its rows stay pending or are stored, never half)."""
        self._stop.set()
        self.wait()
