"""How many threads each Devito kernel runs with: one user knob, a measured default.

The thread count is chosen per propagation and passed to the generated code at apply time
(Devito's ``nthreads`` argument), so no environment variable has to be set before torch or
Devito are imported, and changing it never recompiles anything.

Budget (the most threads a kernel may use), first match wins:

1. :func:`set_threads` ``(n)`` called in this process;
2. :func:`set_thread_share` ``(n)``: a Dask worker's share of the cores, ``cores // n_workers``
   (set by :class:`geolearn.parallel.ShotExecutor` in the workers it starts);
3. the ``GEOLEARN_THREADS`` environment variable;
4. otherwise ("auto") the cores this process may run on (CPU affinity and cgroup quota).

``OMP_NUM_THREADS`` is deliberately not read: tools set it to 1 in the processes they start to
keep BLAS pools small (Dask sets it in its workers *and* in the process that starts them),
which would silently serialise the wave kernels. It still sizes torch's own pool.

For a share and in "auto" mode the budget is then reduced by the cores that other processes
(other workers included) keep busy. OpenMP
threads wait for each other at the end of every time step, so one thread that shares its core
with another process stalls all of them: on the 2-core development machine with one core busy,
2 threads ran at 0.1 to 0.6 GPts/s and 1 thread at 1.1 GPts/s (with both cores free: 1.1 and
1.8). The other processes' load is measured from ``/proc/stat`` over the interval since the
previous propagation (this process's own CPU time subtracted); elsewhere than on Linux it is
taken as zero. An explicit budget (1 or 3) is used as given: in a Dask worker on the loaded
2-core machine, an explicit 2 threads made 16 gradients take 68 s instead of 6.

The grid size does not reduce the count: on both machines measured (``docs/wave.md``) even
grids of 3 000 to 50 000 points ran no slower on all cores than on one.

Sparse operations (source injection, receiver interpolation) run on one thread: they touch a
few thousand points per step, and single-threaded injection adds in a fixed order. Records for
1, 2 and 3 threads were bitwise equal run alone, and equal to float32 rounding inside the whole
test suite (another kernel variant compiled earlier in the process): exact resumption asks for
the same thread count (see :mod:`geolearn.io.state`).
"""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

from geolearn.errors import ConfigError

logger = logging.getLogger("geolearn.threads")

__all__ = [
    "THREADS_ENV",
    "ThreadBudget",
    "kernel_threads",
    "set_thread_share",
    "set_threads",
    "thread_budget",
    "usable_cores",
]

THREADS_ENV = "GEOLEARN_THREADS"
# Load is averaged over at least this long; shorter gaps between propagations reuse the last choice.
_MIN_WINDOW_S = 0.25
# Another process's load above this fraction of a core takes the core away (barriers stall on it).
_SHARED_CORE_TOLERANCE = 0.25

_explicit: int | None = None
_share: int | None = None


@dataclass(frozen=True)
class ThreadBudget:
    """The most threads a kernel may use, and where that number comes from.

    Attributes
    ----------
    threads : int
        Upper bound for every kernel.
    source : {"set_threads", "share", "GEOLEARN_THREADS", "auto"}
        Which setting decided it; ``"share"`` and ``"auto"`` adapt to other processes' load.
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
        Threads per kernel (>= 1), used as given; None returns to ``GEOLEARN_THREADS`` or the automatic choice.

    Raises
    ------
    ConfigError
        ``n`` is not a positive integer.
    """
    global _explicit
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ConfigError(f"set_threads(n) needs a positive integer number of threads or None, got {n!r}")
    _explicit = n


def set_thread_share(n: int | None) -> None:
    """Cap this process's automatic choice at ``n`` threads: its share of the machine's cores.

    What a Dask worker gets (``cores // n_workers``): its kernels use at most ``n`` threads, fewer
    while other processes (the other workers among them) keep cores busy. It takes precedence
    over ``GEOLEARN_THREADS``, which workers inherit from the process that starts them;
    :func:`set_threads` overrides it.

    Parameters
    ----------
    n : int or None
        Threads (>= 1); None removes the cap.

    Raises
    ------
    ConfigError
        ``n`` is not a positive integer.
    """
    global _share
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ConfigError(
            f"set_thread_share(n) needs a positive integer number of threads or None, got {n!r}"
        )
    _share = n


def thread_budget() -> ThreadBudget:
    """The current budget (see the module docstring for the order of precedence).

    Raises
    ------
    ConfigError
        ``GEOLEARN_THREADS`` is set to something other than a positive integer.
    """
    if _explicit is not None:
        return ThreadBudget(_explicit, "set_threads")
    if _share is not None:
        return ThreadBudget(_share, "share")
    value = os.environ.get(THREADS_ENV, "").strip()
    if value:
        if not value.isdigit() or int(value) < 1:
            raise ConfigError(f"{THREADS_ENV}={value!r} must be a positive integer number of threads")
        return ThreadBudget(int(value), THREADS_ENV)
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


def kernel_threads() -> int:
    """Threads for the next propagation: the budget, less the cores others use in "auto" mode."""
    budget = thread_budget()
    if budget.source not in ("auto", "share") or budget.threads == 1:
        return budget.threads
    taken = math.ceil(max(0.0, _LOAD.cores_busy() - _SHARED_CORE_TOLERANCE))
    return max(1, min(budget.threads, usable_cores() - taken))
