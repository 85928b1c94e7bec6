"""Per-shot wave-equation work, run in-process or inside Dask workers.

Every function here takes a shot index, a :class:`~geolearn.imaging.problem.ShotProblem`
and plain arrays (velocity ``(nx, nz)`` m/s, records ``(n_shots, max_receivers, nt)``), builds
the wave layer's :class:`~geolearn.wave.ShotPropagator` for that one shot where it runs, and
returns NumPy arrays or dicts of them, ready for :func:`geolearn.parallel.tree_sum`.
:func:`executor` gives the :class:`~geolearn.parallel.ShotExecutor` the workflows share.

What each call costs is measured, not tabulated: the wave layer records every solve in the
cost ledger (:mod:`geolearn.ledger`; :func:`forward_shot` performs 1, :func:`migrate_shot` 2),
and the executor brings home the solves of shots run on Dask workers.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np
from tqdm.contrib.logging import logging_redirect_tqdm

from geolearn.imaging.problem import ShotProblem
from geolearn.parallel import ShotExecutor
from geolearn.wave import ShotPropagator

__all__ = [
    "executor",
    "forward_shot",
    "migrate_shot",
    "shot_propagator",
]


@contextlib.contextmanager
def executor(
    client: Any = None, *, n_workers: int | None = None, retries: int = 2, progress: bool = False
) -> Iterator[ShotExecutor]:
    """Yield a :class:`ShotExecutor` for ``client``; close it afterwards only if created here.

    With ``progress``, log records go through ``tqdm.write`` meanwhile
    (:func:`tqdm.contrib.logging.logging_redirect_tqdm`), so that log lines and progress bars
    never share a line.
    """
    with contextlib.ExitStack() as stack:
        if progress:
            stack.enter_context(logging_redirect_tqdm())
        if isinstance(client, ShotExecutor):
            yield client
            return
        ex = stack.enter_context(contextlib.closing(ShotExecutor(client, n_workers=n_workers, retries=retries,
                                                                 progress=progress)))  # fmt: skip
        yield ex


def shot_propagator(
    problem: ShotProblem, shot: int, velocity: np.ndarray, wavelet: np.ndarray | None = None
) -> ShotPropagator:
    """The wave layer's propagator for ``shot`` over a one-shot geometry built here."""
    model = problem.model()
    # The problem's float64 wavelets are the reference; the propagator casts them to its dtype.
    w = problem.wavelets[shot] if wavelet is None else np.asarray(wavelet)
    return ShotPropagator(model, problem.geometry(model, [shot]), velocity, 0, w if w.ndim == 1 else w[shot])


def forward_shot(
    shot: int, problem: ShotProblem, velocity: np.ndarray, wavelet: np.ndarray | None = None
) -> np.ndarray:
    """Nonlinear modelling of one shot: records ``(n_receivers, nt)`` (float64).

    ``wavelet`` overrides the problem's: ``(nt,)`` shared or ``(n_shots, nt)``.
    """
    return shot_propagator(problem, shot, velocity, wavelet).forward()[0].astype(np.float64)


def migrate_shot(
    shot: int,
    problem: ShotProblem,
    velocity: np.ndarray,
    data: np.ndarray,
    subtract_background: bool = False,
    illumination: bool = True,
) -> dict[str, Any]:
    """Adjoint Born (RTM) of one shot, with its source illumination.

    Parameters
    ----------
    data : ndarray, shape (n_shots, max_receivers, nt)
        Records; row ``shot`` is migrated.
    subtract_background : bool
        Migrate ``data - F(v0)`` instead of ``data``: removes the direct wave (and anything
        the migration velocity predicts) at no extra cost, since the background forward
        sweep is needed anyway.
    illumination : bool
        Also return the source illumination.

    Returns
    -------
    dict
        ``image``: ``Jᵀ d`` in the velocity parametrisation, ``(nx, nz)``; ``illumination``:
        ``Σ_t (∂²u/∂t²)²`` ``(nx, nz)`` (when asked); ``data_norm2``: ``‖d‖²`` of what was migrated.
    """
    prop = shot_propagator(problem, shot, velocity)
    d = np.asarray(data[shot, : prop.n_receivers])
    d0, snaps = prop.forward(save=1)
    residual = (d - d0) if subtract_background else d
    out: dict[str, Any] = {
        "image": prop.adjoint(residual, snaps),
        "data_norm2": float(np.sum(np.square(residual, dtype=np.float64))),
    }
    if illumination:
        out["illumination"] = prop.illumination(snaps)
    return out
