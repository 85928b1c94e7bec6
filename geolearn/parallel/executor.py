"""Shot-parallel execution: a serial loop by default, Dask distributed on request.

A seismic survey is a list of independent shots; modelling, migration and gradients are
sums or stacks of per-shot work. :class:`ShotExecutor` runs ``fn(shot, *args, **kwargs)``
for every shot index and returns the per-shot results in shot order (:meth:`ShotExecutor.map`)
or their reduction (:meth:`ShotExecutor.map_reduce`, e.g. the summed misfit and gradient).

Where shots run is chosen by ``client``:

- ``None`` or ``"serial"``: an in-process loop, in the given shot order (the default).
- ``"local"``: a :class:`distributed.LocalCluster` with ``n_workers`` worker *processes*, each
  running one shot at a time with ``cores // n_workers`` threads for its wave kernels
  (``worker_threads``), so the workers together use the cores without oversubscribing them.
- ``"tcp://host:8786"`` (any other string): connect to a running scheduler.
- a :class:`distributed.Client`, or any deployed cluster object (``LocalCluster``,
  ``dask_jobqueue.SLURMCluster``...): use it; geolearn never closes what it did not create.

What travels to the workers: the shot index, ``args``/``kwargs`` (plain data, file paths;
NumPy arrays and torch tensors among them are scattered once per call rather than copied into
every task) and the function, pickled by reference or by value. Devito objects are refused:
they hold compiled code and are rebuilt inside the worker from plain data.

Fault tolerance, two mechanisms:

- a task whose worker process dies (killed, out of memory) is rescheduled on another worker
  by the scheduler, up to ``allowed_failures`` times (clusters created here; for an external
  scheduler its ``distributed.scheduler.allowed-failures`` setting applies);
- a task that *raises* is retried ``retries`` times (Dask's ``retries=``; the serial loop
  honours the same number), then the exception reaches the caller and the remaining shots
  are cancelled.

Cost: the wave-equation solves a shot performs on a worker are added to the calling process's
cost ledger (:mod:`geolearn.ledger`) when its result arrives, so ``count_solves()`` around a map
call counts the same solves serial and on Dask (:mod:`geolearn.parallel.tasks`).

Reproducibility: with ``ordered=True`` (default) results are folded in the order of the
given shot indices, exactly like the serial loop, so parallel and serial reductions agree
bitwise whenever each per-shot result does. ``ordered=False`` folds in arrival order (no
buffering; sums then agree with the serial ones only to floating-point rounding).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from geolearn.parallel.reduce import StreamingFold, tree_sum
from geolearn.parallel.tasks import prepare_arguments, run_distributed, run_serial

__all__ = ["ShotExecutor", "map_shots"]

log = logging.getLogger("geolearn.parallel")

DEFAULT_WORKER_ENV: dict[str, str | None] = {"MALLOC_TRIM_THRESHOLD_": None}
"""Pre-spawn environment changes for LocalCluster workers (see :class:`ShotExecutor`)."""


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


class ShotExecutor:
    """Run per-shot work serially or on Dask distributed.

    Parameters
    ----------
    client : None, str, distributed.Client, distributed cluster or ShotExecutor, default None
        ``None``/``"serial"`` runs in-process; ``"local"`` starts a LocalCluster with
        ``n_workers`` processes; another string is a scheduler address; a Client or a
        cluster object is used as given (see the module docstring).
    n_workers : int, optional
        Worker processes of a ``"local"`` cluster (ignored otherwise); default one per core
        (:func:`geolearn.threads.usable_cores`), each with one thread: many single-threaded shots
        beat fewer multi-threaded ones (16 gradients: 8.4x the serial loop with 16 x 1 on a
        16-core machine, 3.0x with 2 x 8; ``docs/parallel.md``). Fewer, wider workers when a
        shot's wavefield store does not fit ``n_workers`` times in memory.
    worker_threads : int, optional
        Most threads of each worker's wave kernels (:func:`geolearn.threads.set_thread_share` in
        every worker, restarted ones included, by a :class:`~geolearn.parallel.threads.WorkerThreads`
        plugin; fewer while other processes keep cores busy). Default for a ``"local"`` cluster
        ``max(1, cores // n_workers)`` (``cores`` from :func:`geolearn.threads.usable_cores`); for
        other clusters none is set unless given (workers then follow their own
        ``GEOLEARN_THREADS`` or the automatic choice).
    retries : int, default 2
        Automatic retries of a shot whose function raises.
    allowed_failures : int, default 3
        Worker deaths a shot may survive on a ``"local"`` cluster before it fails with
        :class:`distributed.KilledWorker`.
    progress : bool, default True
        Show a tqdm bar per map call (can be overridden per call).
    dashboard : bool, default False
        Serve the Dask dashboard of a ``"local"`` cluster on a free port.
    worker_env : mapping, optional
        Environment variables set before a ``"local"`` cluster's worker processes start
        (``None`` as a value removes one of Dask's defaults). Default
        :data:`DEFAULT_WORKER_ENV`: Dask's ``MALLOC_TRIM_THRESHOLD_`` is removed because it
        disables glibc's adaptive mmap threshold, which made NumPy time stepping ~10x slower
        in workers (measured in ``benchmarks/parallel_bench.py``); its ``OMP_NUM_THREADS=1``
        (and MKL, OpenBLAS) stay: they size torch's and BLAS's pools, not the wave kernels.

    Examples
    --------
    >>> import numpy as np
    >>> def shot_energy(shot, scale):
    ...     return float(scale * shot**2)
    >>> with ShotExecutor(progress=False) as ex:
    ...     ex.map_reduce(shot_energy, range(4), 0.5)
    7.0
    """

    def __init__(
        self,
        client: Any = None,
        *,
        n_workers: int | None = None,
        worker_threads: int | None = None,
        retries: int = 2,
        allowed_failures: int = 3,
        progress: bool = True,
        dashboard: bool = False,
        worker_env: Mapping[str, str | None] | None = None,
    ) -> None:
        self.retries = _check_int("retries", retries, 0)
        self.progress = bool(progress)
        self._client: Any = None
        self._owned: list[Any] = []  # created here, closed by close(), newest first
        if client is None or (isinstance(client, str) and client.lower() in ("serial", "none", "")):
            return
        import dask  # deferred: serial runs need no scheduler machinery
        import distributed

        from geolearn.parallel.threads import WorkerThreads

        if isinstance(client, ShotExecutor):
            self._client = client._client
        elif isinstance(client, distributed.Client):
            self._client = client
        elif isinstance(client, str) and client.lower() == "local":
            from geolearn.threads import usable_cores  # the wave package imports scipy

            cores = usable_cores()
            n_workers = cores if n_workers is None else _check_int("n_workers", n_workers, 1)
            allowed_failures = _check_int("allowed_failures", allowed_failures, 0)
            threads = (
                max(1, cores // n_workers)
                if worker_threads is None
                else _check_int("worker_threads", worker_threads, 1)
            )
            env = dict(DEFAULT_WORKER_ENV if worker_env is None else worker_env)
            # The pre-spawn environment is read when each nanny starts and reused when it restarts a worker.
            with dask.config.set({f"distributed.nanny.pre-spawn-environ.{k}": v for k, v in env.items()}):
                cluster = distributed.LocalCluster(
                    n_workers=n_workers,
                    processes=True,
                    threads_per_worker=1,
                    dashboard_address=":0" if dashboard else None,
                    scheduler_kwargs={"allowed_failures": allowed_failures},
                )
            self._owned.append(cluster)
            self._client = distributed.Client(cluster, set_as_default=False)
            self._owned.insert(0, self._client)
            self._client.register_plugin(WorkerThreads(threads))
            log.info(
                "started LocalCluster with %d worker processes (%d threads each) at %s",
                n_workers, threads, cluster.scheduler_address,
            )  # fmt: skip
        elif isinstance(client, str):
            self._client = distributed.Client(client, set_as_default=False)
            self._owned.append(self._client)
            log.info("connected to Dask scheduler %s", client)
        elif isinstance(client, distributed.deploy.Cluster):
            self._client = distributed.Client(client, set_as_default=False)
            self._owned.append(self._client)
        else:
            raise TypeError(
                "client must be None, 'serial', 'local', a scheduler address string, a distributed.Client, "
                f"a Dask cluster or a ShotExecutor; got {type(client).__name__}"
            )
        if worker_threads is not None and not (isinstance(client, str) and client.lower() == "local"):
            self._client.register_plugin(WorkerThreads(_check_int("worker_threads", worker_threads, 1)))

    # -- introspection -----------------------------------------------------------------------
    @property
    def parallel(self) -> bool:
        """True when shots run on Dask workers."""
        return self._client is not None

    @property
    def client(self) -> Any:
        """The :class:`distributed.Client`, or None when serial."""
        return self._client

    @property
    def n_workers(self) -> int:
        """Number of workers currently connected (1 when serial)."""
        if self._client is None:
            return 1
        return len(self._client.scheduler_info(n_workers=-1)["workers"])

    # -- data movement -----------------------------------------------------------------------
    def scatter(self, data: Any) -> Any:
        """Send ``data`` to every worker once and return a handle to pass as an argument.

        Parameters
        ----------
        data : Any
            Typically a large array shared by all shots (a velocity model, ``(nx, nz)``).

        Returns
        -------
        distributed.Future or Any
            A future that resolves to ``data`` inside tasks; ``data`` itself when serial.
        """
        if self._client is None:
            return data
        return self._client.scatter(data, broadcast=True, hash=False)

    def iter_shots(
        self,
        fn: Callable[..., Any],
        shots: Sequence[Any],
        *args: Any,
        progress: bool | None = None,
        desc: str = "shots",
        **kwargs: Any,
    ) -> Iterator[tuple[int, Any]]:
        """Yield ``(position, fn(shots[position], *args, **kwargs))`` as shots complete.

        Serial execution yields in shot order; Dask yields in completion order. ``position``
        indexes ``shots`` (shot indices may repeat or be arbitrary labels). The wave-equation
        solves of shots run in worker processes are added to this process's cost ledger
        (:mod:`geolearn.parallel.tasks`), so :func:`geolearn.ledger.count_solves` counts every shot.
        """
        shots = list(shots)
        show = self.progress if progress is None else progress
        if self._client is None:
            runs = run_serial(fn, shots, args, kwargs, self.retries)
        else:
            args, kwargs = prepare_arguments(args, kwargs, self.scatter)
            runs = run_distributed(self._client, fn, shots, args, kwargs, self.retries)
        with tqdm(total=len(shots), desc=desc, unit="shot", disable=not show, leave=False) as bar:
            for pos, result in runs:
                bar.update(1)
                yield pos, result

    def map(
        self,
        fn: Callable[..., Any],
        shots: Sequence[Any],
        *args: Any,
        progress: bool | None = None,
        desc: str = "shots",
        **kwargs: Any,
    ) -> list[Any]:
        """Return ``[fn(shot, *args, **kwargs) for shot in shots]``, computed per the executor."""
        shots = list(shots)
        results: list[Any] = [None] * len(shots)
        for pos, result in self.iter_shots(fn, shots, *args, progress=progress, desc=desc, **kwargs):
            results[pos] = result
        return results

    def map_reduce(
        self,
        fn: Callable[..., Any],
        shots: Sequence[Any],
        *args: Any,
        reduce: Callable[[Any, Any], Any] = tree_sum,
        ordered: bool = True,
        progress: bool | None = None,
        desc: str = "shots",
        **kwargs: Any,
    ) -> Any:
        """Reduce per-shot results as they arrive.

        Parameters
        ----------
        fn : callable ``fn(shot, *args, **kwargs) -> result``
            Per-shot work; must be picklable for Dask (a module-level function).
        shots : sequence
            Shot indices (or other small labels), at least one.
        *args, **kwargs
            Passed to every call; arrays are scattered once (see :meth:`scatter`).
        reduce : callable ``(acc, result) -> acc``, default :func:`tree_sum`
            Binary reduction; the default sums numbers, arrays and tensors inside
            tuples/lists/dicts, e.g. ``(misfit, gradient)`` pairs.
        ordered : bool, default True
            Fold in the order of ``shots`` (bitwise equal to the serial loop) rather than in
            arrival order (no buffering; equal to rounding).
        progress : bool, optional
            Override the executor's progress setting.
        desc : str
            Progress-bar label.

        Returns
        -------
        Any
            The reduction of all per-shot results.
        """
        shots = list(shots)
        if not shots:
            raise ValueError("map_reduce needs at least one shot; got an empty shot list")
        fold = StreamingFold(reduce, ordered=ordered)
        fold.expect(list(range(len(shots))))
        for pos, result in self.iter_shots(fn, shots, *args, progress=progress, desc=desc, **kwargs):
            fold.add(pos, result)
        return fold.result()

    # -- lifetime ----------------------------------------------------------------------------
    def close(self) -> None:
        """Close the client and cluster this executor created (never a caller's)."""
        for obj in self._owned:
            with contextlib.suppress(Exception):
                obj.close()
        self._owned.clear()
        self._client = None

    def __enter__(self) -> ShotExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        where = "serial" if self._client is None else f"dask {self._client.scheduler.address}"
        return f"ShotExecutor({where}, retries={self.retries}, pid={os.getpid()})"


def map_shots(
    fn: Callable[..., Any],
    shot_indices: Sequence[Any],
    *args: Any,
    client: Any = None,
    n_workers: int | None = None,
    retries: int = 2,
    reduce: Callable[[Any, Any], Any] | str | None = None,
    ordered: bool = True,
    progress: bool = True,
    **kwargs: Any,
) -> Any:
    """Run ``fn(shot, *args, **kwargs)`` for every shot, serially or on Dask.

    Parameters
    ----------
    fn : callable
        Per-shot function (module level, so that workers can unpickle it).
    shot_indices : sequence
        Shots to run.
    *args, **kwargs
        Extra arguments of ``fn``: plain data, file paths, scattered handles.
    client : None, str, Client, cluster or ShotExecutor, default None
        Where to run (see :class:`ShotExecutor`). A ``"local"`` cluster created here is shut
        down on return; reuse a :class:`ShotExecutor` across iterations instead.
    n_workers : int, optional
        See :class:`ShotExecutor` (default one per core).
    retries : int
        See :class:`ShotExecutor`.
    reduce : None, "sum" or callable, default None
        ``None`` returns the list of results in shot order; ``"sum"`` uses :func:`tree_sum`;
        a callable ``(acc, result) -> acc`` is a custom reduction.
    ordered : bool, default True
        See :meth:`ShotExecutor.map_reduce`.
    progress : bool, default True
        Show a tqdm progress bar.

    Returns
    -------
    list or Any
        Per-shot results (``reduce=None``) or their reduction.
    """
    if isinstance(reduce, str):
        if reduce != "sum":
            raise ValueError(f"reduce must be None, 'sum' or a callable, got {reduce!r}")
        reduce = tree_sum
    owns = not isinstance(client, ShotExecutor)
    executor = (
        ShotExecutor(client, n_workers=n_workers, retries=retries, progress=progress) if owns else client
    )
    try:
        if reduce is None:
            return executor.map(fn, shot_indices, *args, progress=progress, **kwargs)
        return executor.map_reduce(
            fn, shot_indices, *args, reduce=reduce, ordered=ordered, progress=progress, **kwargs
        )
    finally:
        if owns:
            executor.close()
