"""Peak resident-memory growth of one call, for the benchmarks (Linux, needs psutil: ``pip install geolearn[bench]``).

Devito allocates wavefields outside the torch allocator and the Python heap, so neither the torch
profiler nor tracemalloc sees them; the process's resident set does. Run the measured call in a
fresh process after a smaller warm-up call (compilation, imports), so freed pages from an earlier
call of the same size cannot hide the allocation.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any


def peak_rss_increase(fn: Callable[[], Any], *, interval_s: float = 0.002) -> int:
    """Run ``fn()`` and return the peak increase of the resident set size over its start, in bytes.

    RSS is sampled every ``interval_s`` seconds by a background thread while ``fn`` runs.
    """
    import psutil

    proc = psutil.Process()
    base = proc.memory_info().rss
    peak = [base]
    done = threading.Event()

    def poll() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], proc.memory_info().rss)
            time.sleep(interval_s)

    thread = threading.Thread(target=poll)
    thread.start()
    try:
        fn()
    finally:
        done.set()
        thread.join()
    return max(peak[0], proc.memory_info().rss) - base
