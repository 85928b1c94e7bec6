"""Learned FISTA (inertial forward-backward) with a built-in Lyapunov guarantee.

Layer ``k`` computes ``x_{k+1} = S_{τ_k λ_k}(x_k − τ_k Aᵀ(Ax_k − y) + β_k (x_k − x_{k−1}))`` with
``τ_k = (c/L)·sigmoid(a_k)``, ``β_k = (1 − Lτ_k/2)·sigmoid(b_k)`` and ``λ_k = softplus(l_k)``,
so ``0 ≤ β_k ≤ 1 − Lτ_k/2`` holds for any raw parameters. Under that condition the energy

    Φ_k(x_{k+1}, x_k) = F_k(x_{k+1}) + β_k/(2τ_k) ‖x_{k+1} − x_k‖²,   F_k = ½‖Ax − y‖² + λ_k‖x‖₁,

satisfies ``Φ_k(x_{k+1}, x_k) ≤ Φ_k(x_k, x_{k−1}) − (1/τ_k − L/2 − β_k/τ_k)‖x_{k+1} − x_k‖²``
(prox inequality, descent lemma and Young's inequality), which :func:`lyapunov_energy` checks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from geolearn.learned._checks import check_data, check_step_bound, layer_values, lipschitz_constant
from geolearn.learned.constraints import bounded, bounded_inverse, positive, positive_inverse
from geolearn.learned.maps import IterationMap
from geolearn.operators import LinearOperator
from geolearn.solvers import soft_threshold

__all__ = ["LearnedFISTA", "LyapunovReport", "lyapunov_energy"]


class LearnedFISTA(IterationMap):
    """Inertial forward-backward with learned ``τ_k``, ``β_k``, ``λ_k`` (module docstring).

    The state is the pair ``(x_k, x_{k−1})`` stacked on dimension 1: ``(B, 2, *domain_shape)``.

    Parameters
    ----------
    A : LinearOperator
        Any operator.
    n_layers : int
        Number of layers.
    lam : float
        Initial LASSO weight ``λ_k``.
    step_init : float, optional
        Initial ``τ_k`` in ``(0, c/L]``; default ``0.99·min(c, 1)/L``.
    inertia_init : float
        Initial ``β_k`` as a fraction in ``(0, 1]`` of its bound ``1 − Lτ_k/2``.
    step_bound : float
        ``c`` in ``τ_k ≤ c/L``, ``0 < c ≤ 2``.
    lipschitz : float, optional
        ``L = ‖A‖₂²``; estimated when omitted.
    """

    def __init__(
        self,
        A: LinearOperator,
        n_layers: int,
        *,
        lam: float = 0.1,
        step_init: float | Sequence[float] | None = None,
        inertia_init: float | Sequence[float] = 0.5,
        step_bound: float = 1.0,
        lipschitz: float | None = None,
        corrections: nn.Module | Sequence[nn.Module] | None = None,
    ) -> None:
        super().__init__(A, n_layers, corrections=corrections)
        self.step_bound = check_step_bound(step_bound)
        self.lipschitz = lipschitz_constant(A, lipschitz)
        K = self.n_layers
        if step_init is None:
            step_init = 0.99 * min(self.step_bound, 1.0) / self.lipschitz
        if not lam > 0:
            raise ValueError(f"lam must be positive, got {lam}")
        dt = A.dtype
        self.raw_step = nn.Parameter(
            bounded_inverse(layer_values(step_init, K, "step_init"), self.step_bound / self.lipschitz).to(dt)
        )
        self.raw_inertia = nn.Parameter(
            bounded_inverse(layer_values(inertia_init, K, "inertia_init"), 1.0).to(dt)
        )
        self.raw_lam = nn.Parameter(positive_inverse(layer_values(lam, K, "lam")).to(dt))

    @property
    def steps(self) -> torch.Tensor:
        """``τ_k ∈ (0, c/L]``, shape ``(K,)``."""
        return bounded(self.raw_step, self.step_bound / self.lipschitz)

    @property
    def inertias(self) -> torch.Tensor:
        """``β_k ∈ [0, 1 − Lτ_k/2]``, shape ``(K,)`` (empty interval clipped at 0 when c = 2)."""
        return torch.clamp(1.0 - 0.5 * self.lipschitz * self.steps, min=0.0) * torch.sigmoid(self.raw_inertia)

    @property
    def lams(self) -> torch.Tensor:
        """``λ_k ≥ 0``, shape ``(K,)``."""
        return positive(self.raw_lam)

    @property
    def state_shape(self) -> tuple[int, ...]:
        return (2, *self.A.domain_shape)

    def output(self, state: torch.Tensor) -> torch.Tensor:
        return state[:, 0]

    def step(self, state: torch.Tensor, y: torch.Tensor, k: int) -> torch.Tensor:
        k = self.check_layer(k)
        x, x_prev = state[:, 0], state[:, 1]
        tau = self.steps[k]
        z = x - tau * self.residual(x, y) + self.inertias[k] * (x - x_prev)
        x_new = self.correct(soft_threshold(z, tau * self.lams[k]), k)
        return torch.stack([x_new, x], dim=1)


@dataclass
class LyapunovReport:
    """Per-step energies of :func:`lyapunov_energy`.

    Attributes
    ----------
    before, after : Tensor ``(K, B)``
        ``Φ_k(x_k, x_{k−1})`` and ``Φ_k(x_{k+1}, x_k)`` for each step ``k`` and sample.
    decreasing : bool
        Whether ``after ≤ before`` for every step and sample (up to ``tol`` relative).
    max_increase : float
        Largest ``(after − before)/max(|before|, tiny)`` observed (≤ 0 when decreasing).
    """

    before: torch.Tensor
    after: torch.Tensor
    decreasing: bool
    max_increase: float


@torch.no_grad()
def lyapunov_energy(model: LearnedFISTA, y: torch.Tensor, *, tol: float = 1e-10) -> LyapunovReport:
    """Evaluate the Lyapunov energy of ``model`` along its trajectory for data ``y``.

    For each step ``k`` the energy uses that step's parameters (module docstring); it is
    guaranteed to decrease when the corrections are absent.

    Parameters
    ----------
    model : LearnedFISTA
    y : Tensor ``(B, *range_shape)``
    tol : float
        Relative slack allowed for rounding.
    """
    y, _ = check_data(model.A, y)
    A = model.A
    state = model.init_state(y)
    before, after = [], []

    def energy(x: torch.Tensor, x_prev: torch.Tensor, k: int) -> torch.Tensor:
        fit = 0.5 * (A.apply(x) - y).flatten(1).pow(2).sum(1)
        reg = model.lams[k] * x.flatten(1).abs().sum(1)
        inertia = model.inertias[k] / (2 * model.steps[k]) * (x - x_prev).flatten(1).pow(2).sum(1)
        return fit + reg + inertia

    for k in range(model.n_layers):
        before.append(energy(state[:, 0], state[:, 1], k))
        state = model.step(state, y, k)
        after.append(energy(state[:, 0], state[:, 1], k))
    b, a = torch.stack(before), torch.stack(after)
    rel = (a - b) / b.abs().clamp_min(torch.finfo(b.dtype).tiny)
    worst = float(rel.max())
    return LyapunovReport(before=b, after=a, decreasing=worst <= tol, max_increase=worst)
