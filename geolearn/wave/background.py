"""Background wavefields kept between Born operator calls, within a memory budget.

A Born operator ``J(v0)`` needs the background wavefield of each shot: ``J`` as the source of
the scattered field, ``Jᵀ`` for the imaging condition. Propagating it on every call costs one
extra forward per shot and call; :class:`BackgroundCache` keeps the exact store
(:class:`~geolearn.wave.solver.Snapshots`, every step) of as many shots as the budget allows
and the others are propagated per call, as without a cache. Cached or not, ``J`` and ``Jᵀ``
use the same background, so they stay exact adjoints of each other (dot-tested per mode).

A time-subsampled background is not offered: ``Jᵀ`` would then image a subsampled sum, and
the ``J`` it is the adjoint of injects the scattering source only every k-th step, whose
records carry aliases of the band (the subsampled sum is accurate for a gradient, a single
number per grid point; a record is not).

Budgets: ``"auto"`` shares :data:`AUTO_FRACTION` of the machine's physical memory among all
``"auto"`` caches of the process; an integer is a number of bytes for this operator alone;
``None`` or 0 keeps nothing.

Memory comes back when :meth:`BackgroundCache.clear` is called or the operator goes out of
scope, at once: Devito's functions refer to themselves, so stores of at least
:data:`COLLECT_BYTES` are followed by a cycle collection rather than left to Python's collector.
"""

from __future__ import annotations

import gc
import logging
import os
import weakref

from geolearn.errors import ConfigError
from geolearn.wave.solver import Snapshots

logger = logging.getLogger("geolearn.wave.background")

__all__ = ["AUTO_FRACTION", "BackgroundCache"]

#: Share of physical memory that all ``cache="auto"`` Born operators together may hold.
AUTO_FRACTION = 0.25
_AUTO_USED = [0]  # bytes held by all "auto" caches
#: Dropped stores of at least this many bytes are returned at once (a cycle collection, see ``_drop``).
COLLECT_BYTES = 64 * 2**20


def _physical_memory() -> int:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return 8 * 2**30  # not POSIX: assume a small machine


def _drop(stores: dict[int, Snapshots], held: list[int], auto: bool) -> None:
    """Drop ``stores`` and their count; collect cycles when they held at least :data:`COLLECT_BYTES`.

    A Devito function refers to itself, so its buffer is freed only when Python's cycle
    collector runs, which may be many operators later: a loop building a new operator per step
    (a training sampler, stochastic LSRTM) held a new store per step until then, 10 GB at the
    realistic benchmark's size. One collection (about 0.2 s) frees them at once.
    """
    nbytes = held[0]
    stores.clear()
    if auto:
        _AUTO_USED[0] -= nbytes
    held[0] = 0
    if nbytes >= COLLECT_BYTES:
        gc.collect()


class BackgroundCache:
    """Per-shot exact background stores under a byte budget.

    Parameters
    ----------
    budget : "auto", int or None
        See the module docstring.

    Raises
    ------
    ConfigError
        A budget that is neither ``"auto"``, None nor a non-negative integer.
    """

    def __init__(self, budget: str | int | None) -> None:
        if budget == "auto":
            self.limit = None
        elif budget is None:
            self.limit = 0
        elif isinstance(budget, int) and not isinstance(budget, bool) and budget >= 0:
            self.limit = budget
        else:
            raise ConfigError(f"cache must be 'auto', None or a budget in bytes >= 0, got {budget!r}")
        self.budget = budget
        self._stores: dict[int, Snapshots] = {}
        self._held = [0]
        # An operator that goes out of scope returns its stores as clear() does.
        weakref.finalize(self, _drop, self._stores, self._held, self.limit is None)

    @property
    def nbytes(self) -> int:
        """Bytes held now."""
        return self._held[0]

    @property
    def shots(self) -> list[int]:
        """Shots whose background is kept."""
        return sorted(self._stores)

    def get(self, shot: int) -> Snapshots | None:
        return self._stores.get(shot)

    def admits(self, nbytes: int) -> bool:
        """Whether a store of ``nbytes`` fits the budget."""
        if self.limit is None:
            return _AUTO_USED[0] + nbytes <= AUTO_FRACTION * _physical_memory()
        return self._held[0] + nbytes <= self.limit

    def put(self, shot: int, store: Snapshots) -> None:
        self._stores[shot] = store
        self._held[0] += store.nbytes
        if self.limit is None:
            _AUTO_USED[0] += store.nbytes
        logger.debug("kept the background of shot %d (%.1f MiB)", shot, store.nbytes / 2**20)

    def clear(self) -> None:
        """Drop every kept background and return its memory (also done when the cache is freed)."""
        _drop(self._stores, self._held, self.limit is None)
