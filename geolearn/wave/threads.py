"""How many threads each Devito kernel runs with: one user knob, a measured default.

The thread count is chosen per propagation and passed to the generated code at apply time
(Devito's ``nthreads`` argument), so no environment variable has to be set before torch or
Devito are imported, and changing it never recompiles anything.

Budget (the most threads a kernel may use), first match wins:

1. :func:`set_threads` ``(n)`` called in this process;
2. the ``GEOLEARN_THREADS`` environment variable;
3. ``OMP_NUM_THREADS`` (the usual OpenMP knob; Dask workers started by
   :class:`geolearn.parallel.ShotExecutor` get ``cores / n_workers`` through it);
4. otherwise ("auto") the cores this process may run on (CPU affinity and cgroup quota).

Per kernel the budget is then reduced, for reasons measured in ``docs/wave.md``:

- small grids get fewer threads, at least :data:`MIN_POINTS_PER_THREAD` grid points each:
  below that the fork/join of each time step costs more than the work it shares;
- in "auto" mode only, cores kept busy by other processes are left to them. OpenMP threads
  wait for each other at the end of every time step, so one thread that shares its core
  with another process stalls all of them: on the 2-core development machine with one core
  busy, 2 threads ran at 0.1 GPts/s and 1 thread at 1.06 GPts/s. The other processes'
  load is measured from ``/proc/stat`` over the interval since the previous propagation
  (this process's own CPU time subtracted); elsewhere than on Linux it is taken as zero.

Sparse operations (source injection, receiver interpolation) run on one thread: they touch a
few thousand points per step, and single-threaded injection makes the results bitwise
independent of the thread count.
"""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

from geolearn.errors import ConfigError

logger = logging.getLogger("geolearn.wave.threads")

__all__ = [
    "MIN_POINTS_PER_THREAD",
    "THREADS_ENV",
    "ThreadBudget",
    "kernel_threads",
    "set_threads",
    "thread_budget",
    "usable_cores",
]

THREADS_ENV = "GEOLEARN_THREADS"
#: Fewest grid points per thread worth a thread (measured, see ``docs/wave.md``).
MIN_POINTS_PER_THREAD = 20_000
# Load is averaged over at least this long; shorter gaps between propagations reuse the last choice.
_MIN_WINDOW_S = 0.25
# Another process's load above this fraction of a core takes the core away (barriers stall on it).
_SHARED_CORE_TOLERANCE = 0.25

_explicit: int | None = None


@dataclass(frozen=True)
class ThreadBudget:
    """The most threads a kernel may use, and where that number comes from.

    Attributes
    ----------
    threads : int
        Upper bound for every kernel.
    source : {"set_threads", "GEOLEARN_THREADS", "OMP_NUM_THREADS", "auto"}
        Which setting decided it; only ``"auto"`` adapts to other processes' load.
    """

    threads: int
    source: str


def usable_cores() -> int:
    """Cores this process may run on: its CPU affinity, capped by a cgroup v2 CPU quota."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()
        if quota != "max":
            cores = min(cores, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return cores


def set_threads(n: int | None) -> None:
    """Set the thread budget of geolearn's wave kernels for this process.

    Parameters
    ----------
    n : int or None
        Threads per kernel (>= 1), used as given (grids too small for them get fewer);
        None returns to the environment (``GEOLEARN_THREADS``, ``OMP_NUM_THREADS``) or the
        automatic choice.

    Raises
    ------
    ConfigError
        ``n`` is not a positive integer.
    """
    global _explicit
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ConfigError(f"set_threads(n) needs a positive integer number of threads or None, got {n!r}")
    _explicit = n


def thread_budget() -> ThreadBudget:
    """The current budget (see the module docstring for the order of precedence).

    Raises
    ------
    ConfigError
        ``GEOLEARN_THREADS`` or ``OMP_NUM_THREADS`` is set to something other than a positive integer.
    """
    if _explicit is not None:
        return ThreadBudget(_explicit, "set_threads")
    for name in (THREADS_ENV, "OMP_NUM_THREADS"):
        value = os.environ.get(name, "").strip()
        if value:
            first = value.split(",")[0].strip()  # OMP_NUM_THREADS may list nested levels
            if not first.isdigit() or int(first) < 1:
                raise ConfigError(f"{name}={value!r} must be a positive integer number of threads")
            return ThreadBudget(int(first), name)
    return ThreadBudget(usable_cores(), "auto")


class _OtherLoad:
    """CPU time used by other processes on our cores, from ``/proc/stat`` (Linux)."""

    def __init__(self) -> None:
        self._tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self._last = self._sample()
        self._cores_busy = 0.0

    def _sample(self) -> tuple[float, float, float] | None:
        try:
            cpus = {f"cpu{i}" for i in os.sched_getaffinity(0)}
            busy = 0
            with open("/proc/stat") as stat:
                for line in stat:
                    fields = line.split()
                    if fields and fields[0] in cpus:
                        ticks = [int(x) for x in fields[1:9]]  # up to steal; guest time is inside user
                        busy += sum(ticks) - ticks[3] - ticks[4]  # minus idle and iowait
        except (OSError, AttributeError, ValueError):
            return None
        own = sum(os.times()[:2])  # this process, all threads
        return time.monotonic(), busy / self._tick, own

    def cores_busy(self) -> float:
        """Average number of our cores other processes kept busy since the last measurement."""
        now = self._sample()
        if now is None or self._last is None:
            return 0.0
        wall = now[0] - self._last[0]
        if wall >= _MIN_WINDOW_S:
            others = (now[1] - self._last[1]) - (now[2] - self._last[2])
            self._cores_busy = max(0.0, others / wall)
            self._last = now
        return self._cores_busy


_LOAD = _OtherLoad()


def kernel_threads(n_points: int) -> int:
    """Threads for one propagation over ``n_points`` grid points (padded grid, one time step)."""
    budget = thread_budget()
    n = min(budget.threads, max(1, n_points // MIN_POINTS_PER_THREAD))
    if budget.source == "auto" and n > 1:
        taken = math.ceil(max(0.0, _LOAD.cores_busy() - _SHARED_CORE_TOLERANCE))
        n = max(1, min(n, usable_cores() - taken))
    return n
