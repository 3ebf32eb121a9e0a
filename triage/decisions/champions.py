"""The champion models in use, and the challenger scored in shadow beside them, swapped atomically
on reload.

A request takes :attr:`ChampionStore.current` once and scores with that pair (and its challenger)
to the end, so a reload in the middle of a batch never mixes versions; a failed load leaves the old
pair serving.
A load that yields the wrong kind of model (an artifact swapped or mislabelled in the registry)
counts as a failed load: the service would otherwise answer with nonsense instead of an error.

Under ``triage serve --workers N`` a reload reaches one worker.  It then writes the versions it
loaded to a marker file that every worker of the service shares (``home/champions.json``); each
worker looks at the marker's time stamp before a request takes its models (one ``stat``) and, when
another worker has reloaded, loads what the alias points at before it answers.  So once a reload
has answered, no worker scores with the old pair.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

from triage.models.registry import KINDS, Champions, check_kind

log = logging.getLogger(__name__)


class NoChampions(RuntimeError):
    """No models are loaded yet (nothing promoted, or the registry was unreachable at start)."""


class ChampionStore:
    def __init__(
        self,
        loader: Callable[[], Champions],
        current: Champions | None = None,
        marker: Path | None = None,
    ):
        self._loader = loader
        self._current = current
        self._reload_lock = threading.Lock()
        self.last_error: str | None = None
        self.marker = marker
        #: Called with the new pair after each load (a reload, or following another worker's).
        self.on_loaded: list[Callable[[Champions], None]] = []
        self._seen = self._stamp()

    @property
    def current(self) -> Champions:
        champions = self._current
        if champions is None:
            raise NoChampions(self.last_error or "no champion models are loaded")
        return champions

    @property
    def ready(self) -> bool:
        return self._current is not None

    def reload(self) -> Champions:
        """Load the champions behind the alias now and swap them in; on failure keep the old ones."""
        with self._reload_lock:
            try:
                fresh = self._loader()
                _check_kinds(fresh)
            # the registry or an artifact failed: keep serving the old pair
            except Exception as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning(
                    "champion reload failed, keeping %s: %s",
                    self._current.versions if self._current else None,
                    self.last_error,
                )
                raise
            self._current, self.last_error = fresh, None
            log.info("champions in use: %s", fresh.versions)
            self._announce(fresh.announced)
        self._loaded(fresh)
        return fresh

    def stale(self) -> bool:
        """Whether another worker reloaded since this one last looked (cheap: one ``stat``)."""
        return self.marker is not None and self._stamp() != self._seen

    def follow(self) -> None:
        """Load the champions another worker reloaded; on failure keep the old pair (and retry only
        at the next reload)."""
        with self._reload_lock:
            stamp = self._stamp()
            if stamp == self._seen:
                return
            self._seen = stamp
            try:
                announced = json.loads(self.marker.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                announced = None
            if self._current is not None and self._current.announced == announced:
                return
            try:
                fresh = self._loader()
                _check_kinds(fresh)
            except Exception as exc:  # noqa: BLE001 - the registry or an artifact failed: keep the old pair
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning(
                    "following a reload failed, keeping %s: %s",
                    self._current.versions if self._current else None,
                    self.last_error,
                )
                return
            self._current, self.last_error = fresh, None
            log.info("champions in use after another worker's reload: %s", fresh.versions)
        self._loaded(fresh)

    def _loaded(self, champions: Champions) -> None:
        for listener in self.on_loaded:
            listener(champions)

    def _stamp(self) -> int | None:
        try:
            return self.marker.stat().st_mtime_ns if self.marker is not None else None
        except FileNotFoundError:
            return None

    def _announce(self, versions: dict) -> None:
        """Write the marker atomically, then remember its stamp so that this worker does not follow itself."""
        if self.marker is None:
            return
        draft = self.marker.with_name(f".{self.marker.name}.{os.getpid()}")
        draft.write_text(json.dumps(versions), encoding="utf-8")
        os.replace(draft, self.marker)
        self._seen = self._stamp()


def _check_kinds(champions: Champions) -> None:
    for role in KINDS:
        check_kind(
            role, getattr(champions, role), f"the {role} champion {champions.versions.get(role)}"
        )
