"""Running generated kernels: arguments prepared once, threads chosen per run, numbers kept.

:class:`KernelRun` is one propagation of a cached Devito operator. Devito's ``Operator.apply``
rebuilds and checks its argument list on every call (about 1.2 ms here, 10x the cost of one
time step of the benchmark grid); a run builds it once with ``Operator.arguments`` and then
calls the compiled function directly for one or many time ranges, which is what lets the
checkpointed gradient run the time axis in segments at no extra cost. The data of the
fields passed in may be refilled in place between ranges; their sizes must not change.

Each run records a :class:`PropagationStats` (grid points, steps, threads, seconds, GPts/s,
Devito's per-section times and the wave-equation solves it performed) in a
:class:`PerformanceLog`, adds its solves to the process's cost ledger (:mod:`geolearn.ledger`)
and logs it at DEBUG on ``geolearn.wave.execution``. Every propagation of the wave layer runs
through a :class:`KernelRun`, so the ledger sees every solve, wherever it is called from.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from geolearn import ledger
from geolearn.threads import kernel_threads

logger = logging.getLogger("geolearn.wave.execution")

__all__ = ["KernelRun", "KernelSummary", "PerformanceLog", "PropagationStats"]


@dataclass(frozen=True)
class PropagationStats:
    """Numbers of one propagation (one kernel over a range of time steps).

    Attributes
    ----------
    kernel : str
        Generated operator (``geolearn_forward``, ``geolearn_adjoint``, ``geolearn_born``).
    grid_points : int
        Points of the padded grid updated per time step.
    steps : int
        Time steps run.
    threads : int
        OpenMP threads of the stencil loops.
    seconds : float
        Wall time spent in the generated code.
    wavefields : int
        Wave equations advanced per time step: 1 for a forward or an adjoint, 2 for a Born
        modelling that propagates its background, 1 for one that reads a kept background.
    solves : float
        Wave-equation solves performed, ``wavefields * steps / record_steps`` (``record_steps``
        the steps of one sweep over the record's time axis): a sweep over part of the axis,
        such as a checkpointed gradient's recomputed segment, is the fraction it is.
    sections : dict
        Devito's timed sections (``section0`` ... in the order of the generated loop nests:
        stencil first, then injection, interpolation and storage passes) to seconds.
    """

    kernel: str
    grid_points: int
    steps: int
    threads: int
    seconds: float
    wavefields: int
    solves: float
    sections: dict[str, float] = field(default_factory=dict)

    @property
    def gpts(self) -> float:
        """Throughput in 10⁹ grid-point updates per second (0 for an empty run)."""
        return self.grid_points * self.steps / self.seconds / 1e9 if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class KernelSummary:
    """Totals of one kernel over the propagations of a :class:`PerformanceLog`."""

    kernel: str
    calls: int
    steps: int
    seconds: float
    gpts: float
    threads: tuple[int, ...]
    solves: float


class PerformanceLog:
    """The propagations an operator ran: every :class:`PropagationStats`, and totals per kernel.

    Every wave operator has one (``WaveModeling.performance``, ``BornOperator.performance``,
    ``ShotPropagator.performance``...); :func:`~geolearn.wave.fwi_objective` takes one as
    ``performance=``. Keeps the last ``max_records`` propagations; :attr:`solves` counts the
    wave-equation solves of all propagations added, including those no longer kept.

    Examples
    --------
    >>> F = WaveModeling(model, geometry); d = F(v)      # doctest: +SKIP
    >>> F.performance.last.gpts                          # doctest: +SKIP
    1.93
    >>> print(F.performance)                             # doctest: +SKIP
    """

    def __init__(self, max_records: int = 10_000) -> None:
        self.records: list[PropagationStats] = []
        self.max_records = max_records
        self.solves = 0.0

    def add(self, stats: PropagationStats) -> None:
        self.records.append(stats)
        self.solves += stats.solves
        del self.records[: -self.max_records]

    def clear(self) -> None:
        """Forget the propagations and the solve total."""
        self.records.clear()
        self.solves = 0.0

    @property
    def last(self) -> PropagationStats | None:
        """The most recent propagation, or None."""
        return self.records[-1] if self.records else None

    def summary(self) -> dict[str, KernelSummary]:
        """Totals per kernel: calls, steps, seconds, GPts/s and solves over its kept propagations."""
        out: dict[str, KernelSummary] = {}
        for name in dict.fromkeys(r.kernel for r in self.records):
            rs = [r for r in self.records if r.kernel == name]
            seconds = sum(r.seconds for r in rs)
            points = sum(r.grid_points * r.steps for r in rs)
            out[name] = KernelSummary(
                name, len(rs), sum(r.steps for r in rs), seconds,
                points / seconds / 1e9 if seconds > 0 else 0.0, tuple(sorted({r.threads for r in rs})),
                sum(r.solves for r in rs),
            )  # fmt: skip
        return out

    def __iter__(self) -> Iterator[PropagationStats]:
        return iter(self.records)

    def __len__(self) -> int:
        return len(self.records)

    def __repr__(self) -> str:
        rows = [
            f"{'kernel':<18} {'calls':>6} {'steps':>8} {'solves':>8} {'seconds':>9} {'GPts/s':>7} threads"
        ]
        for s in self.summary().values():
            rows.append(
                f"{s.kernel:<18} {s.calls:>6} {s.steps:>8} {s.solves:>8.4g} {s.seconds:>9.3f} {s.gpts:>7.3f} "
                f"{','.join(map(str, s.threads))}"
            )
        rows.append(f"{'total solves':<18} {self.solves:.6g}")
        return "\n".join(rows)


class KernelRun:
    """One propagation of ``op``: arguments built once, then :meth:`run` over time ranges.

    Parameters
    ----------
    op : devito.Operator
        The compiled operator.
    grid_points : int
        Points of the padded grid (for the numbers).
    log : PerformanceLog or None
        Where :meth:`finish` records the run.
    wavefields : int
        Wave equations the kernel advances per time step (see :class:`PropagationStats`).
    record_steps : int
        Time steps of one sweep over the record's time axis: the run's solves are
        ``wavefields * steps / record_steps``.
    time_m, time_M : int
        A first time range (Devito checks the arguments against it).
    **arguments
        Fields, constants and scalars as for ``op.apply``.
    """

    def __init__(
        self,
        op: Any,
        grid_points: int,
        log: PerformanceLog | None,
        wavefields: int,
        record_steps: int,
        time_m: int,
        time_M: int,
        **arguments: Any,
    ) -> None:
        if wavefields < 0 or record_steps < 1:
            raise ValueError(
                f"need wavefields >= 0 and record_steps >= 1, got {wavefields} and {record_steps}"
            )
        names = [p.name for p in op.parameters]
        self.threads = kernel_threads() if "nthreads" in names else 1  # plain C: one thread
        if "nthreads" in names:
            arguments["nthreads"] = self.threads
        if "nthreads_nonaffine" in names:  # a few points per step; one thread keeps injection deterministic
            arguments["nthreads_nonaffine"] = 1
        self.op, self.grid_points, self.log = op, grid_points, log
        self.wavefields, self.record_steps = wavefields, record_steps
        self._args = op.arguments(time_m=time_m, time_M=time_M, **arguments)
        self._values = [self._args[n] for n in names]
        self._time_slots = (names.index("time_m"), names.index("time_M"))
        self._timers = self._args["timers"]._obj if "timers" in names else None
        for section in self._sections():
            setattr(self._timers, section, 0.0)
        self.steps, self.seconds = 0, 0.0

    def _sections(self) -> list[str]:
        return [name for name, _ in self._timers._fields_] if self._timers is not None else []

    def run(self, time_m: int, time_M: int) -> None:
        """Run time steps ``time_m .. time_M`` (the kernel's own direction)."""
        self._values[self._time_slots[0]] = time_m
        self._values[self._time_slots[1]] = time_M
        start = time.perf_counter()
        status = self.op.cfunction(*self._values)
        self.seconds += time.perf_counter() - start
        if status != 0:
            raise RuntimeError(f"Devito operator {self.op.name} failed with status {status}")
        self.steps += max(0, time_M - time_m + 1)

    def finish(self) -> PropagationStats:
        """Record (performance log and cost ledger) and return the numbers of all ranges run so far."""
        stats = PropagationStats(
            self.op.name, self.grid_points, self.steps, self.threads, self.seconds, self.wavefields,
            self.wavefields * self.steps / self.record_steps,
            {s: float(getattr(self._timers, s)) for s in self._sections()},
        )  # fmt: skip
        ledger.record(stats.solves)
        if self.log is not None:
            self.log.add(stats)
        logger.debug(
            "%s: %d steps x %d points, %d threads, %.4f s, %.3f GPts/s, %.4g solves",
            stats.kernel, stats.steps, stats.grid_points, stats.threads, stats.seconds, stats.gpts, stats.solves,
        )  # fmt: skip
        return stats


def apply(
    op: Any, grid_points: int, log: PerformanceLog | None, wavefields: int, record_steps: int,
    time_m: int, time_M: int, **arguments: Any,
) -> PropagationStats:  # fmt: skip
    """Run ``op`` once over ``time_m .. time_M`` (a :class:`KernelRun` of one range)."""
    run = KernelRun(op, grid_points, log, wavefields, record_steps, time_m, time_M, **arguments)
    run.run(time_m, time_M)
    return run.finish()
