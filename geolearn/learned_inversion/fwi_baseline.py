"""The classical baseline learned FWI is compared with: normalised gradient descent with a line search."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from geolearn import ledger
from geolearn.errors import ConfigError, ShapeError
from geolearn.wave import Geometry, WaveModeling, fwi_objective

__all__ = ["GradientDescentRun", "armijo_step", "check_fwi_inputs", "gd_fwi", "grid_depths"]


def grid_depths(geometry: Geometry) -> torch.Tensor:
    """Depths (m) of the grid rows of ``geometry.model``, ``(nz,)`` float64."""
    model = geometry.model
    nz = model.shape[-1]
    return model.origin[-1] + model.spacing[-1] * torch.arange(nz, dtype=torch.float64)


def check_fwi_inputs(v0: torch.Tensor, observed: torch.Tensor, geometry: Geometry) -> None:
    """Raise :class:`~geolearn.errors.ShapeError` unless ``v0`` is ``(B, nx, nz)`` of the grid and
    ``observed`` ``(B, *geometry.record_shape)``: before any wave-equation solve."""
    shape = tuple(geometry.model.shape)
    if v0.ndim != 3 or tuple(v0.shape[1:]) != shape:
        raise ShapeError(f"v0 must be (B, {', '.join(map(str, shape))}), got {tuple(v0.shape)}")
    if tuple(observed.shape) != (v0.shape[0], *geometry.record_shape):
        raise ShapeError(
            f"observed must be ({v0.shape[0]}, {', '.join(map(str, geometry.record_shape))}), got {tuple(observed.shape)}"
        )


@dataclass
class GradientDescentRun:
    """Result of :func:`gd_fwi`.

    Attributes
    ----------
    velocity : Tensor ``(B, nx, nz)``, m/s.
    gradients : int
        Adjoint-state gradients computed, all models together (``B · n_gradients``).
    solves : float
        Wave-equation solves performed, all models together, measured with the cost ledger
        (:func:`geolearn.ledger.count_solves`): 2 per shot and gradient (``memory="full"``;
        3 checkpointed) plus 1 per shot and line-search trial.
    """

    velocity: torch.Tensor
    gradients: int
    solves: float


def gd_fwi(
    v0: torch.Tensor,
    geometry: Geometry,
    observed: torch.Tensor,
    n_gradients: int,
    *,
    step: float = 50.0,
    max_trials: int = 6,
    memory: str = "full",
) -> GradientDescentRun:
    """Classical FWI baseline: normalised gradient descent with a backtracking (Armijo) line search.

    ``v ← v − α g / max|g|`` with ``α`` (m/s) starting at twice the last accepted step (first:
    ``step``) and halved until the misfit decreases sufficiently (:func:`armijo_step`, each trial
    one forward modelling). Per model of the batch. Learned FWI is compared with it at equal
    numbers of gradients; the solves (:attr:`GradientDescentRun.solves`) add the line searches.

    Parameters
    ----------
    v0 : Tensor ``(B, nx, nz)`` in m/s.
    observed : Tensor ``(B, n_shots, n_rec, nt)``.
    n_gradients : int
        Gradient evaluations (iterations) per model.
    step, max_trials
        First ``α`` (m/s) and trials per line search.
    memory : str
        Wavefield storage of the gradients (:class:`~geolearn.wave.WaveModeling`).

    Returns
    -------
    GradientDescentRun
    """
    if n_gradients < 1 or not step > 0:
        raise ConfigError(f"need n_gradients >= 1 and step > 0 m/s, got {n_gradients}, {step}")
    check_fwi_inputs(v0, observed, geometry)
    F = WaveModeling(geometry.model, geometry)
    out = []
    with ledger.count_solves() as cost:
        for b in range(v0.shape[0]):
            v, d, alpha = v0[b].detach().clone(), observed[b], float(step)
            for _ in range(n_gradients):
                f, g = fwi_objective(v, geometry, d, memory=memory)
                v, _, alpha = armijo_step(v, float(f), g, d, F, alpha, max_trials=max_trials)
            out.append(v)
    return GradientDescentRun(torch.stack(out), v0.shape[0] * n_gradients, cost.solves)


def armijo_step(
    v: torch.Tensor,
    objective: float,
    gradient: torch.Tensor,
    observed: torch.Tensor,
    modeling: WaveModeling,
    step: float,
    *,
    max_trials: int = 6,
) -> tuple[torch.Tensor, float, float]:
    """One normalised gradient step with backtracking: the line search of :func:`gd_fwi`.

    Tries ``v − α g / max|g|`` with ``α = 2·step`` (m/s), halving ``α`` until
    ``½‖F(trial) − d‖² ≤ f + 10⁻⁴ α ⟨g, direction⟩``; each trial is one forward modelling (one
    solve per shot in the cost ledger, :mod:`geolearn.ledger`).

    Parameters
    ----------
    v, gradient : Tensor ``(nx, nz)``
        Model (m/s) and the gradient of ``f = ½‖F(v) − d‖²`` at it.
    objective : float
        ``f`` at ``v``.
    observed : Tensor ``(n_shots, n_rec, nt)``
    modeling : WaveModeling
        ``F`` of the acquisition.
    step : float
        The last accepted ``α`` (m/s); the search starts at twice it.
    max_trials : int
        Trials before giving up (the model then stays where it is).

    Returns
    -------
    (model, objective, step)
        The accepted trial, its ``f`` and its ``α``; or ``v``, ``f`` and the last ``α`` tried when
        no trial decreased ``f`` enough.
    """
    if not step > 0 or max_trials < 1:
        raise ConfigError(f"need step > 0 m/s and max_trials >= 1, got {step}, {max_trials}")
    direction = -gradient / gradient.abs().max().clamp_min(torch.finfo(gradient.dtype).tiny)
    slope = float((gradient.double() * direction.double()).sum())
    alpha = 2 * float(step)
    for _ in range(max_trials):
        trial = v + alpha * direction
        with torch.no_grad():
            f_trial = 0.5 * float((modeling(trial) - observed).double().pow(2).sum())
        if f_trial <= objective + 1e-4 * alpha * slope:
            return trial, f_trial, alpha
        alpha /= 2
    return v, objective, alpha
