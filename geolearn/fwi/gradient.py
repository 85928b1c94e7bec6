"""The FWI misfit and its adjoint-state gradient, shot by shot, in-process or on Dask workers.

:func:`gradient_shot` and :func:`misfit_shot` are the per-shot tasks (built on the wave
layer's :class:`~geolearn.wave.ShotPropagator`); :func:`fwi_gradient` sums them over shots
through a :class:`~geolearn.parallel.ShotExecutor`. Their cost (a gradient 2 solves per
shot, a misfit 1) is recorded by the wave layer in the cost ledger (:mod:`geolearn.ledger`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from geolearn.fwi.misfits import misfit_and_residual
from geolearn.imaging.discretisation import as_velocity
from geolearn.imaging.problem import ShotProblem
from geolearn.imaging.shots import executor, forward_shot, shot_propagator

__all__ = ["fwi_gradient", "gradient_shot", "misfit_shot"]


def gradient_shot(
    shot: int,
    problem: ShotProblem,
    velocity: np.ndarray,
    observed: np.ndarray,
    misfit: str = "l2",
    wavelet: np.ndarray | None = None,
    illumination: bool = False,
) -> dict[str, Any]:
    """Misfit of one shot and its gradient w.r.t. velocity (adjoint state).

    Parameters
    ----------
    observed : ndarray, shape (n_shots, max_receivers, nt)
        Observed records (already band-limited for multiscale FWI).
    misfit : str
        A name from :data:`geolearn.fwi.misfits.MISFITS`; its adjoint source drives the
        adjoint sweep.
    wavelet : ndarray, optional
        Wavelet override, ``(nt,)`` or ``(n_shots, nt)``.
    illumination : bool
        Also return the source illumination (for preconditioning).

    Returns
    -------
    dict
        ``value`` (float), ``gradient`` ``(nx, nz)`` in misfit units per m/s, and
        ``illumination`` ``(nx, nz)`` when asked.
    """
    prop = shot_propagator(problem, shot, velocity, wavelet)
    d_obs = np.asarray(observed[shot, : prop.n_receivers], dtype=np.float64)
    g = prop.gradient(lambda d: misfit_and_residual(misfit, d, d_obs))
    out: dict[str, Any] = {"value": g.value, "gradient": g.gradient}
    if illumination:
        out["illumination"] = prop.illumination(g.snapshots)
    return out


def misfit_shot(
    shot: int, problem: ShotProblem, velocity: np.ndarray, observed: np.ndarray, misfit: str = "l2"
) -> float:
    """Misfit of one shot (forward modelling only, 1 solve)."""
    d = forward_shot(shot, problem, velocity)
    return misfit_and_residual(misfit, d, np.asarray(observed[shot, : d.shape[0]], dtype=np.float64))[0]


def fwi_gradient(
    problem: ShotProblem, velocity: np.ndarray | torch.Tensor, observed: np.ndarray, *, misfit: str = "l2",
    shots: list[int] | None = None, client: Any = None, n_workers: int | None = None, progress: bool = False,
) -> tuple[float, np.ndarray]:  # fmt: skip
    """FWI misfit and its gradient w.r.t. velocity, summed over shots (serial or on Dask).

    Parameters
    ----------
    problem : ShotProblem
    velocity : array or tensor, shape (nx, nz)
        m/s.
    observed : ndarray, shape (n_shots, max_receivers, nt)
    misfit : str
        See :data:`geolearn.fwi.MISFITS`.
    shots : list of int, optional
        Shots to use (default all).
    client, n_workers, progress
        See :func:`geolearn.imaging.model_survey`.

    Returns
    -------
    value : float
    gradient : ndarray, shape (nx, nz)
        Misfit units per m/s, float64; shot contributions summed in shot order.
    """
    v = as_velocity(velocity)
    shots = list(range(problem.n_shots)) if shots is None else shots
    with executor(client, n_workers=n_workers, progress=progress) as ex:
        out = ex.map_reduce(gradient_shot, shots, problem, v, np.asarray(observed), misfit, progress=progress,
                            desc="FWI gradient")  # fmt: skip
    return float(out["value"]), np.asarray(out["gradient"], dtype=np.float64)
