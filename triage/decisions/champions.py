"""The champion models in use, swapped atomically on reload.

A request takes :attr:`ChampionStore.current` once and scores with that pair to the end, so a
reload in the middle of a batch never mixes versions; a failed load leaves the old pair serving.
A load that yields the wrong kind of model (an artifact swapped or mislabelled in the registry)
counts as a failed load: the service would otherwise answer with nonsense instead of an error.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from triage.models import EscalationModel, TierModel
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
                _check_kinds(fresh)
            except Exception as exc:  # the registry or an artifact failed: keep serving the old pair
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("champion reload failed, keeping %s: %s",
                            self._current.versions if self._current else None, self.last_error)
                raise
            self._current, self.last_error = fresh, None
            log.info("champions in use: %s", fresh.versions)
            return fresh


def _check_kinds(champions: Champions) -> None:
    for role, kind in (("escalation", EscalationModel), ("tier", TierModel)):
        model = getattr(champions, role)
        if not isinstance(model, kind):
            raise TypeError(f"the {role} champion {champions.versions.get(role)} is a "
                            f"{type(model).__name__}, not a {kind.__name__}")
