"""Threads inside Dask workers: a worker plugin that gives each worker its share of the cores.

:class:`~geolearn.parallel.ShotExecutor` registers it on the clusters it starts (with
``cores // n_workers`` threads each) and on any client when given ``worker_threads``.
A plugin rather than an environment variable, because Dask's nanny writes its workers'
pre-spawn environment into the process that starts them as well, and because a worker
restarted after a crash gets the plugin again.
"""

from __future__ import annotations

from typing import Any

from distributed import WorkerPlugin

__all__ = ["WorkerThreads"]


class WorkerThreads(WorkerPlugin):
    """Calls :func:`geolearn.threads.set_thread_share` ``(threads)`` in every worker it reaches.

    Each worker's wave kernels then use at most ``threads`` threads, fewer while the machine's
    other processes keep cores busy (an explicit count would not adapt: on the loaded 2-core
    machine one worker with an explicit 2 threads took 68 s for 16 gradients, 11x the serial loop).

    Parameters
    ----------
    threads : int
        Most threads per wave kernel in each worker.
    """

    name = "geolearn-worker-threads"

    def __init__(self, threads: int) -> None:
        self.threads = threads

    def setup(self, worker: Any) -> None:
        from geolearn.threads import set_thread_share  # imported in the worker

        set_thread_share(self.threads)
