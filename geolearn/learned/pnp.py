"""Plug-and-play ISTA: the proximal step replaced by a (learned) denoiser."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from geolearn.errors import ConfigError
from geolearn.learned._checks import check_step_bound, layer_values, lipschitz_constant
from geolearn.learned.constraints import bounded, bounded_inverse
from geolearn.learned.maps import IterationMap
from geolearn.operators import LinearOperator

__all__ = ["PnPISTA"]


class PnPISTA(IterationMap):
    """``x_{k+1} = D_k(x_k − γ_k Aᵀ(A x_k − y))`` with denoiser(s) ``D_k`` and learned steps.

    With ``γ_k ≤ 1/L`` the gradient step is firmly nonexpansive-averaged; composed with a
    firmly nonexpansive denoiser (:class:`DnCNN` with ``mode="firm"``) the map is averaged, so
    its fixed-point iteration (:class:`DEQ`) converges whenever a fixed point exists.

    Parameters
    ----------
    A : LinearOperator
        Any operator; the denoiser must map ``(B, *A.domain_shape)`` to itself.
    n_layers : int
    denoiser : nn.Module or sequence of nn.Module
        One denoiser shared by all layers or one per layer.
    step_init : float, optional
        Initial steps in ``(0, c/L]``; default ``0.99·min(c, 1)/L``.
    step_bound : float
        ``c`` in ``γ_k ≤ c/L``, ``0 < c ≤ 2``.
    lipschitz : float, optional
        ``L = ‖A‖₂²``; estimated when omitted.
    """

    def __init__(
        self,
        A: LinearOperator,
        n_layers: int,
        denoiser: nn.Module | Sequence[nn.Module],
        *,
        step_init: float | Sequence[float] | None = None,
        step_bound: float = 1.0,
        lipschitz: float | None = None,
        corrections: nn.Module | Sequence[nn.Module] | None = None,
    ) -> None:
        super().__init__(A, n_layers, corrections=corrections)
        denoisers = [denoiser] if isinstance(denoiser, nn.Module) else list(denoiser)
        if len(denoisers) not in (1, self.n_layers):
            raise ConfigError(f"give one denoiser or one per layer ({self.n_layers}), got {len(denoisers)}")
        self.denoisers = nn.ModuleList(denoisers)
        self.step_bound = check_step_bound(step_bound)
        self.lipschitz = lipschitz_constant(A, lipschitz)
        if step_init is None:
            step_init = 0.99 * min(self.step_bound, 1.0) / self.lipschitz
        steps = layer_values(step_init, self.n_layers, "step_init")
        self.raw_step = nn.Parameter(bounded_inverse(steps, self.step_bound / self.lipschitz).to(A.dtype))

    @property
    def steps(self) -> torch.Tensor:
        """``γ_k ∈ (0, c/L]``, shape ``(K,)``."""
        return bounded(self.raw_step, self.step_bound / self.lipschitz)

    def step(self, state: torch.Tensor, y: torch.Tensor, k: int) -> torch.Tensor:
        k = self.check_layer(k)
        z = state - self.steps[k] * self.residual(state, y)
        D = self.denoisers[k if len(self.denoisers) > 1 else 0]
        return self.correct(D(z), k)
