"""The champion models in use, swapped atomically on reload.

A request takes :attr:`ChampionStore.current` once and scores with that pair to the end, so a
reload in the middle of a batch never mixes versions; a failed load leaves the old pair serving.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from triage.models.registry import Champions

log = logging.getLogger(__name__)


class NoChampions(RuntimeError):
    """No models are loaded yet (nothing promoted, or the registry was unreachable at start)."""


class ChampionStore:
    def __init__(self, loader: Callable[[], Champions], current: Champions | None = None):
        self._loader = loader
        self._current = current
        self._reload_lock = threading.Lock()
        self.last_error: str | None = None

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
            except Exception as exc:  # the registry or an artifact failed: keep serving the old pair
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("champion reload failed, keeping %s: %s",
                            self._current.versions if self._current else None, self.last_error)
                raise
            self._current, self.last_error = fresh, None
            log.info("champions in use: %s", fresh.versions)
            return fresh
