"""The cost ledger: wave-equation solves actually performed, one running total per process.

Unit: **one solve = one wave equation advanced over the record's time axis.** A forward
modelling of one shot is 1 solve; a Born modelling that propagates its background and its
scattered field in one sweep is 2; a Born modelling that reads a kept background is 1; an
adjoint (RTM) sweep is 1; a checkpointed gradient's recomputed segments count as the fractions
of a forward they are. Interpolation and injection are not solves.

Only the wave layer's kernel runner (:class:`geolearn.wave.execution.KernelRun`) records
the solves it runs, and :class:`geolearn.parallel.ShotExecutor` records, in the calling
process, what its tasks ran in other processes (Dask workers). Everything else reads:

- :func:`solves_performed`: the process total since it started;
- :func:`count_solves`: the solves performed while a ``with`` block ran;
- :func:`measured`: a call's result and the solves it performed (what an executor ships home).

The total is kept exactly (a :class:`fractions.Fraction` of the recorded floats), so what a
block counts does not depend on how much the process had counted before it: a resumed run
adds up to the same history as an uninterrupted one.

The total is per process and shared by its threads: a block counts every solve recorded while
it is open, including those of other threads of the same process that run at the same time.
Blocks may nest; each sees what ran inside it.

Examples
--------
>>> from geolearn import ledger
>>> with ledger.count_solves() as cost:                     # doctest: +SKIP
...     records = F(v)                                       # 1 solve per shot
>>> cost.solves                                              # doctest: +SKIP
4.0
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Callable, Iterator
from fractions import Fraction
from typing import Any, TypeVar

__all__ = ["SolveCount", "count_solves", "measured", "record", "solves_performed"]

T = TypeVar("T")

_lock = threading.Lock()
_total = Fraction(0)


def record(solves: float) -> None:
    """Add ``solves`` (>= 0, possibly fractional) to this process's total.

    Called by the wave layer's kernel runner for every propagation, and by the shot executor
    for solves its tasks performed in other processes; nothing else should call it.
    """
    global _total
    if not (solves >= 0 and math.isfinite(solves)):  # also refuses NaN
        raise ValueError(f"solves must be a finite number >= 0, got {solves!r}")
    with _lock:
        _total += Fraction(float(solves))


def _exact_total() -> Fraction:
    with _lock:
        return _total


def solves_performed() -> float:
    """Wave-equation solves performed by (or recorded for) this process so far."""
    return float(_exact_total())


class SolveCount:
    """The solves performed while a :func:`count_solves` block is (or was) open.

    :attr:`solves` reads the running count inside the block and the final count after it.
    """

    def __init__(self) -> None:
        self._start = _exact_total()
        self._end: Fraction | None = None

    @property
    def solves(self) -> float:
        """Solves recorded since the block opened (until it closed)."""
        end = _exact_total() if self._end is None else self._end
        return float(end - self._start)

    def close(self) -> None:
        """Freeze the count (called when the block exits)."""
        if self._end is None:
            self._end = _exact_total()

    def __repr__(self) -> str:
        return f"SolveCount(solves={self.solves:g})"


@contextlib.contextmanager
def count_solves() -> Iterator[SolveCount]:
    """Count the solves performed while the block runs (other threads of the process included).

    Yields
    ------
    SolveCount
        ``.solves`` is the count so far inside the block and the final count after it,
        also when the block raised.
    """
    count = SolveCount()
    try:
        yield count
    finally:
        count.close()


def measured(fn: Callable[..., T], *args: Any, **kwargs: Any) -> tuple[T, float]:
    """``(fn(*args, **kwargs), solves it performed)``; the solves stay recorded here as well.

    A shot executor runs this in a worker process and records the returned count in the
    caller's process (:func:`record`).
    """
    with count_solves() as cost:
        result = fn(*args, **kwargs)
    return result, cost.solves
