"""Dynamic batching of single-case scoring: cases that arrive while a batch is scored go in the next one.

A single case costs ~9 ms of fixed work (reading its history, preparing the window indexes,
calling the models, storing the decision) and only ~1.5 ms more for each further case in the
same call; scored one by one in parallel threads, concurrent requests also fight over the GIL.
So each worker process scores single cases on one lane: the first request is scored at once, and
every request that arrives meanwhile is scored together with the others in the next call.  Each
case still gets its own decision, committed before any answer of its batch is sent, exactly as
if it had been scored alone (the cases are independent: none reads another).

Without more, the lane settles into two groups that never meet: the clients answered by one
batch send their next cases just after the next batch has started, so each batch holds half the
callers and pays the fixed work twice as often.  So after a batch the lane lingers (at most
``linger`` seconds: ``TRIAGE_LANE_LINGER_MS``, 10 ms by default) until as many cases wait as
were in play in the last round: those already waiting plus the callers it just answered.  Their
next requests reach the lane one HTTP handling (~1 ms each) after another, so 5 ms was often
too short for 6 callers.  A lone request on an idle lane never waits.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import sessionmaker

from triage.decisions.scoring import Scorer, score_and_store
from triage.decisions.scored import ScoredCase
from triage.decisions.types import ScoreRequest
from triage.models.registry import Champions


@dataclass
class _Waiting:
    request: ScoreRequest
    champions: Champions
    key_id: str | None
    answer: asyncio.Future


class ScoringLane:
    """One worker's queue of single cases, scored in batches of at most ``max_batch`` on one thread."""

    def __init__(self, sessions: sessionmaker, scorer: Scorer, max_batch: int, linger: float = 0.0):
        self.sessions, self.scorer, self.max_batch, self.linger = (
            sessions,
            scorer,
            max_batch,
            linger,
        )
        self._executor: ThreadPoolExecutor | None = None  # the lane's thread, started on first use
        self._waiting: list[_Waiting] = []
        self._drain: asyncio.Task | None = None
        self._arrival: asyncio.Event | None = None  # set when a case joins a lingering lane

    async def score(
        self, request: ScoreRequest, champions: Champions, key_id: str | None
    ) -> ScoredCase:
        """Score and store one case (with whatever else is waiting); raises what scoring it raised."""
        answer = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(request, champions, key_id, answer))
        if self._arrival is not None:
            self._arrival.set()
        if self._drain is None:
            self._drain = asyncio.create_task(self._score_waiting())
        return await answer

    def close(self) -> None:
        """Stop lingering and the lane's thread (at shutdown; a later request starts another)."""
        if self._drain is not None:
            self._drain.cancel()
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    async def _score_waiting(self) -> None:
        try:
            expected = 1
            while True:
                await self._linger(expected)
                if not self._waiting:
                    return
                batch = [
                    w for w in self._waiting[: self.max_batch] if not w.answer.done()
                ]  # done: caller left
                del self._waiting[: self.max_batch]
                for group in _same_models_and_key(batch):
                    await self._score_group(group)
                expected = min(self.max_batch, len(batch) + len(self._waiting))
        finally:
            self._drain = None

    async def _linger(self, expected: int) -> None:
        """Wait until ``expected`` cases wait, or ``linger`` seconds have passed."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.linger
        while len(self._waiting) < expected and (remaining := deadline - loop.time()) > 0:
            self._arrival = asyncio.Event()
            try:
                await asyncio.wait_for(self._arrival.wait(), remaining)
            except TimeoutError:
                return
            finally:
                self._arrival = None

    async def _score_group(self, group: list[_Waiting]) -> None:
        first = group[0]
        requests = [w.request for w in group]
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="scoring-lane")
        try:
            scored = await asyncio.get_running_loop().run_in_executor(
                self._executor, self._score_and_store, requests, first.champions, first.key_id
            )
        except SQLAlchemyError as exc:  # the database, not a case: each caller gets the error (503)
            _answer_all(group, exc)
        except Exception as exc:
            if len(group) == 1:
                _answer_all(group, exc)
            else:  # one case's fault must not fail the others: each alone
                for waiting in group:
                    await self._score_group([waiting])
        else:
            for waiting, case in zip(group, scored):
                if not waiting.answer.done():
                    waiting.answer.set_result(case)

    def _score_and_store(
        self, requests: list[ScoreRequest], champions: Champions, key_id: str | None
    ) -> list[ScoredCase]:
        with self.sessions() as session:
            return score_and_store(session, self.scorer, champions, requests, key_id)


def _same_models_and_key(batch: list[_Waiting]) -> list[list[_Waiting]]:
    """The batch split by champion pair (a reload may fall between requests) and key, in order."""
    groups: dict[tuple, list[_Waiting]] = {}
    for waiting in batch:
        groups.setdefault((id(waiting.champions), waiting.key_id), []).append(waiting)
    return list(groups.values())


def _answer_all(group: list[_Waiting], exc: BaseException) -> None:
    for waiting in group:
        if not waiting.answer.done():
            waiting.answer.set_exception(exc)
