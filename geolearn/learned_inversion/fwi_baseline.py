"""The classical baseline learned FWI is compared with: normalised gradient descent with a line search."""

from __future__ import annotations

import torch

from geolearn.errors import ConfigError
from geolearn.learned_inversion.metrics import CostCounter
from geolearn.wave import Geometry, WaveModeling, fwi_objective

__all__ = ["gd_fwi"]


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
            direction = -g / g.abs().max().clamp_min(torch.finfo(g.dtype).tiny)
            slope = float((g.double() * direction.double()).sum())
            alpha = 2 * alpha
            for _ in range(max_trials):
                trial = v + alpha * direction
                with torch.no_grad():
                    ft = 0.5 * float((F(trial) - d).double().pow(2).sum())
                counter.add_forward(1, geometry.n_shots)
                if ft <= float(f) + 1e-4 * alpha * slope:
                    v = trial
                    break
                alpha /= 2
        out.append(v)
    return torch.stack(out)
