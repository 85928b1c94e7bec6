"""Plug-and-play ISTA: the proximal step replaced by a (learned) denoiser."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from geolearn.errors import ConfigError
from geolearn.learned.maps import SteppedIterationMap
from geolearn.learned.physics import LipschitzEstimator, Physics

__all__ = ["PnPISTA"]


class PnPISTA(SteppedIterationMap):
    """``x_{k+1} = D_k(x_k − γ_k Aᵀ(A x_k − y))`` with denoiser(s) ``D_k`` and learned ``γ_k = t_k·scale``.

    With the ``"lipschitz"`` scale and ``t_k ≤ 1`` the gradient step is nonexpansive on any
    operator; composed with a firmly nonexpansive denoiser (:class:`DnCNN` with ``mode="firm"``)
    the map is averaged, so its fixed-point iteration (:class:`DEQ`) converges whenever a fixed
    point exists.

    Parameters
    ----------
    n_layers : int
    denoiser : nn.Module or sequence of nn.Module
        One denoiser shared by all layers or one per layer; maps ``(B, *A.domain_shape)`` to itself.
    step_init : float, optional
        Initial fractions ``t_k`` in ``(0, c]``; default ``0.99·min(c, 1)``.
    step_bound : float
        ``c`` in ``t_k ≤ c``, ``0 < c ≤ 2``.
    step_scale : {"lipschitz", "cauchy"}
        Unit of the steps (see :class:`IterationMap`).
    lipschitz_estimator : LipschitzEstimator, optional
        Estimator of ``‖A‖²`` for calls that give no ``lipschitz=``.
    corrections : nn.Module or sequence, optional
    dtype : torch.dtype
        Dtype of the step parameters (the denoiser keeps its own).
    """

    def __init__(
        self,
        n_layers: int,
        denoiser: nn.Module | Sequence[nn.Module],
        *,
        step_init: float | Sequence[float] | None = None,
        step_bound: float = 1.0,
        step_scale: str = "lipschitz",
        lipschitz_estimator: LipschitzEstimator | None = None,
        corrections: nn.Module | Sequence[nn.Module] | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__(
            n_layers, corrections=corrections, step_scale=step_scale, lipschitz_estimator=lipschitz_estimator
        )
        denoisers = [denoiser] if isinstance(denoiser, nn.Module) else list(denoiser)
        if len(denoisers) not in (1, self.n_layers):
            raise ConfigError(f"give one denoiser or one per layer ({self.n_layers}), got {len(denoisers)}")
        self.denoisers = nn.ModuleList(denoisers)
        self.init_steps(step_init, step_bound, dtype)

    def step(self, state: torch.Tensor, y: torch.Tensor, physics: Physics, k: int) -> torch.Tensor:
        k = self.check_layer(k)
        z = state - physics.step(self.steps[k], state) * physics.gradient(state, y)
        D = self.denoisers[k if len(self.denoisers) > 1 else 0]
        return self.correct(D(z), k)
