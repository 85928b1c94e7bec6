"""Shot tasks: what travels to the workers, how they run (serial loop or Dask), retries, and their cost.

:class:`~geolearn.parallel.ShotExecutor` chooses where shots run; this module runs them there:

- :func:`prepare_arguments` refuses Devito objects and keyword names that Dask's ``submit``
  would take for itself, and scatters large arrays once instead of copying them into every task;
- :func:`run_serial` loops in shot order in this process, retrying a shot that raises;
- :func:`run_distributed` submits one Dask task per shot (Dask retries a shot that raises and
  reschedules one whose worker died) and yields results as they complete.

Cost: every shot task on Dask runs inside :func:`measured_task`, which returns the wave-equation
solves the task performed in its worker (:func:`geolearn.ledger.measured`) with the result, and
:func:`run_distributed` adds them to the calling process's ledger, so ``count_solves()`` around
an executor call counts the shots wherever they ran. A task that ran in the calling process
itself (a serial loop, or a Dask cluster of threads in this process) recorded its solves here
already and is not added twice. Solves of failed attempts in another process (a task that
raised, a worker that died) never come back and are not counted; those of the serial loop are.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch

from geolearn import ledger

__all__ = ["SUBMIT_KEYWORDS", "measured_task", "prepare_arguments", "run_distributed", "run_serial"]

log = logging.getLogger("geolearn.parallel")

#: Keyword names that Client.submit() would take for itself instead of passing them to the shot function.
SUBMIT_KEYWORDS = frozenset(
    {"key", "workers", "resources", "retries", "priority", "fifo_timeout", "allow_other_workers", "actor",
     "actors", "pure"}
)  # fmt: skip

#: Arrays smaller than this (bytes) are cheaper to copy into each task than to scatter.
SCATTER_MIN_BYTES = 64 * 1024


def _is_devito_object(obj: Any) -> bool:
    return type(obj).__module__.split(".", 1)[0] == "devito"


def _nbytes(value: Any) -> int:
    if isinstance(value, np.ndarray):
        return value.nbytes
    if isinstance(value, torch.Tensor):
        return value.element_size() * value.nelement()
    return 0


def prepare_arguments(
    args: tuple[Any, ...], kwargs: dict[str, Any], scatter: Callable[[Any], Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Check the shot function's arguments and scatter the large arrays among them.

    Raises
    ------
    TypeError
        A Devito object among the arguments, or a keyword that Dask's ``submit`` would take.
    """

    def one(name: str, value: Any) -> Any:
        if _is_devito_object(value):
            raise TypeError(
                f"argument {name} is a Devito {type(value).__name__}; shot tasks carry plain data "
                "(arrays, numbers, file paths) and build Devito objects inside the worker"
            )
        return scatter(value) if _nbytes(value) >= SCATTER_MIN_BYTES else value

    clashing = sorted(set(kwargs) & SUBMIT_KEYWORDS)
    if clashing:
        raise TypeError(
            f"keyword arguments {clashing} of the shot function clash with Dask's submit() options; "
            "pass them positionally or rename them"
        )
    return (
        tuple(one(f"args[{i}]", a) for i, a in enumerate(args)),
        {k: one(k, v) for k, v in kwargs.items()},
    )


def measured_task(fn: Callable[..., Any], shot: Any, *args: Any, **kwargs: Any) -> tuple[Any, float, int]:
    """``(fn(shot, *args, **kwargs), solves it performed, id of the process it ran in)``."""
    result, solves = ledger.measured(fn, shot, *args, **kwargs)
    return result, solves, os.getpid()


def run_serial(
    fn: Callable[..., Any], shots: Sequence[Any], args: tuple, kwargs: dict, retries: int
) -> Iterator[tuple[int, Any]]:
    """Yield ``(position, fn(shot, *args, **kwargs))`` in shot order, retrying a raising shot ``retries`` times."""
    for pos, shot in enumerate(shots):
        for attempt in range(retries + 1):
            try:
                result = fn(shot, *args, **kwargs)
                break
            except Exception as exc:
                if attempt == retries:
                    raise
                log.warning("shot %r failed (%s: %s); retry %d of %d", shot, type(exc).__name__, exc,
                            attempt + 1, retries)  # fmt: skip
        yield pos, result


def run_distributed(
    client: Any, fn: Callable[..., Any], shots: Sequence[Any], args: tuple, kwargs: dict, retries: int
) -> Iterator[tuple[int, Any]]:
    """Yield ``(position, result)`` as the Dask tasks of ``shots`` complete (arguments already prepared).

    The solves of each task that ran in another process are recorded in this process's ledger
    when its result arrives. Tasks not yet done when the caller stops iterating are cancelled.
    """
    import distributed

    name = getattr(fn, "__name__", "shot")
    futures = [
        client.submit(measured_task, fn, shot, *args, key=f"{name}-{uuid.uuid4().hex}", retries=retries,
                      pure=False, **kwargs)
        for shot in shots
    ]  # fmt: skip
    position = {f.key: pos for pos, f in enumerate(futures)}
    here = os.getpid()
    try:
        for future, (result, solves, pid) in distributed.as_completed(
            futures, loop=client.loop, with_results=True
        ):
            if pid != here:
                ledger.record(solves)
            yield position[future.key], result
            future.release()  # frees worker memory as soon as the result is folded
    finally:
        pending = [f for f in futures if not f.done()]
        if pending:
            client.cancel(pending)
