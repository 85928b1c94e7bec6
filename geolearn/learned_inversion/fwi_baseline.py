"""The classical baseline learned FWI is compared with: normalised gradient descent with a line search."""

from __future__ import annotations

import torch

from geolearn.errors import ConfigError
from geolearn.learned_inversion.metrics import CostCounter
from geolearn.wave import Geometry, WaveModeling, fwi_objective

__all__ = ["armijo_step", "gd_fwi"]


def gd_fwi(
    v0: torch.Tensor,
    geometry: Geometry,
    observed: torch.Tensor,
    n_gradients: int,
    *,
    step: float = 50.0,
    max_trials: int = 6,
    counter: CostCounter | None = None,
    memory: str = "full",
) -> torch.Tensor:
    """Classical FWI baseline: normalised gradient descent with a backtracking (Armijo) line search.

    ``v ← v − α g / max|g|`` with ``α`` (m/s) starting at twice the last accepted step (first:
    ``step``) and halved until the misfit decreases sufficiently (each trial one forward
    modelling, counted in ``counter.forward``). Per model of the batch.

    Parameters
    ----------
    v0 : Tensor ``(B, nx, nz)`` in m/s.
    observed : Tensor ``(B, n_shots, n_rec, nt)``.
    n_gradients : int
        Gradient evaluations (iterations).

    Returns
    -------
    Tensor ``(B, nx, nz)``.
    """
    if n_gradients < 1 or not step > 0:
        raise ConfigError(f"need n_gradients >= 1 and step > 0 m/s, got {n_gradients}, {step}")
    counter = counter if counter is not None else CostCounter()
    F = WaveModeling(geometry.model, geometry)
    out = []
    for b in range(v0.shape[0]):
        v, d, alpha = v0[b].detach().clone(), observed[b], float(step)
        for _ in range(n_gradients):
            f, g = fwi_objective(v, geometry, d, memory=memory)
            counter.add_gradient(1, geometry.n_shots)
            v, _, alpha = armijo_step(v, float(f), g, d, F, alpha, max_trials=max_trials, counter=counter)
        out.append(v)
    return torch.stack(out)


def armijo_step(
    v: torch.Tensor,
    objective: float,
    gradient: torch.Tensor,
    observed: torch.Tensor,
    modeling: WaveModeling,
    step: float,
    *,
    max_trials: int = 6,
    counter: CostCounter | None = None,
) -> tuple[torch.Tensor, float, float]:
    """One normalised gradient step with backtracking: the line search of :func:`gd_fwi`.

    Tries ``v − α g / max|g|`` with ``α = 2·step`` (m/s), halving ``α`` until
    ``½‖F(trial) − d‖² ≤ f + 10⁻⁴ α ⟨g, direction⟩``; each trial is one forward modelling.

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
    counter : CostCounter, optional
        Receives one forward per trial.

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
        if counter is not None:
            counter.add_forward(1, modeling.geometry.n_shots)
        if f_trial <= objective + 1e-4 * alpha * slope:
            return trial, f_trial, alpha
        alpha /= 2
    return v, objective, alpha
