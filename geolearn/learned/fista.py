"""Learned FISTA (inertial forward-backward) with a built-in Lyapunov guarantee.

Layer ``k`` computes ``x_{k+1} = S_{θ_k}(x_k − τ_k Aᵀ(Ax_k − y) + β_k (x_k − x_{k−1}))`` with
``τ_k = t_k/L``, ``t_k = c·sigmoid(a_k)``, ``β_k = (1 − t_k/2)·sigmoid(b_k)`` and thresholds
``θ_k = softplus(l_k)`` in image units; ``L = ‖A‖₂²`` comes from the operator of the call. So
``0 ≤ β_k ≤ 1 − Lτ_k/2`` holds for any raw parameters and any operator. Under that condition,
with ``λ_k = θ_k/τ_k``, the energy

    Φ_k(x_{k+1}, x_k) = F_k(x_{k+1}) + β_k/(2τ_k) ‖x_{k+1} − x_k‖²,   F_k = ½‖Ax − y‖² + λ_k‖x‖₁,

satisfies ``Φ_k(x_{k+1}, x_k) ≤ Φ_k(x_k, x_{k−1}) − (1/τ_k − L/2 − β_k/τ_k)‖x_{k+1} − x_k‖²``
(prox inequality, descent lemma and Young's inequality), which :func:`lyapunov_energy` checks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from geolearn.learned._checks import check_data, initial_thresholds, layer_values
from geolearn.learned.constraints import bounded_inverse, positive, positive_inverse
from geolearn.learned.maps import SteppedIterationMap
from geolearn.learned.physics import LipschitzEstimator, Physics
from geolearn.operators import LinearOperator
from geolearn.solvers import soft_threshold

__all__ = ["LearnedFISTA", "LyapunovReport", "lyapunov_energy"]


class LearnedFISTA(SteppedIterationMap):
    """Inertial forward-backward with learned ``t_k``, ``β_k``, ``θ_k`` (module docstring).

    The state is the pair ``(x_k, x_{k−1})`` stacked on dimension 1: ``(B, 2, *domain_shape)``.
    The step unit is always ``1/‖A‖²`` of the call's operator: the inertia bound and the
    Lyapunov guarantee are stated in it.

    Parameters
    ----------
    n_layers : int
        Number of layers.
    threshold_init : float or sequence, optional
        Initial thresholds ``θ_k`` in image units.
    lam, lipschitz : float, optional
        Instead of ``threshold_init``: LASSO weight λ and ``‖A‖²`` of the training operator,
        giving ``θ_k = t_k λ / L`` (used for this initialisation only).
    step_init : float, optional
        Initial fractions ``t_k`` in ``(0, c]``; default ``0.99·min(c, 1)``.
    inertia_init : float
        Initial ``β_k`` as a fraction in ``(0, 1]`` of its bound ``1 − t_k/2``.
    step_bound : float
        ``c`` in ``t_k ≤ c``, ``0 < c ≤ 2``.
    step_scale : {"lipschitz"}
        The only unit the inertia bound and the Lyapunov guarantee allow.
    lipschitz_estimator : LipschitzEstimator, optional
        Estimator of ``‖A‖²`` for calls that give no ``lipschitz=``.
    corrections : nn.Module or sequence, optional
    dtype : torch.dtype
    """

    step_scales = ("lipschitz",)

    def __init__(
        self,
        n_layers: int,
        *,
        threshold_init: float | Sequence[float] | None = None,
        lam: float | None = None,
        lipschitz: float | None = None,
        step_init: float | Sequence[float] | None = None,
        inertia_init: float | Sequence[float] = 0.5,
        step_bound: float = 1.0,
        step_scale: str = "lipschitz",
        lipschitz_estimator: LipschitzEstimator | None = None,
        corrections: nn.Module | Sequence[nn.Module] | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__(
            n_layers, corrections=corrections, step_scale=step_scale, lipschitz_estimator=lipschitz_estimator
        )
        K = self.n_layers
        steps = self.init_steps(step_init, step_bound, dtype)
        thresholds = initial_thresholds(steps, threshold_init, lam, lipschitz)
        self.raw_inertia = nn.Parameter(
            bounded_inverse(layer_values(inertia_init, K, "inertia_init"), 1.0).to(dtype)
        )
        self.raw_threshold = nn.Parameter(positive_inverse(thresholds).to(dtype))

    @property
    def inertias(self) -> torch.Tensor:
        """``β_k ∈ [0, 1 − t_k/2]``, shape ``(K,)`` (empty interval clipped at 0 when c = 2)."""
        return torch.clamp(1.0 - 0.5 * self.steps, min=0.0) * torch.sigmoid(self.raw_inertia)

    @property
    def thresholds(self) -> torch.Tensor:
        """``θ_k ≥ 0`` in image units, shape ``(K,)``."""
        return positive(self.raw_threshold)

    def state_shape(self, A: LinearOperator) -> tuple[int, ...]:
        return (2, *A.domain_shape)

    def output(self, state: torch.Tensor) -> torch.Tensor:
        return state[:, 0]

    def step(self, state: torch.Tensor, y: torch.Tensor, physics: Physics, k: int) -> torch.Tensor:
        k = self.check_layer(k)
        x, x_prev = state[:, 0], state[:, 1]
        z = x - physics.step(self.steps[k], x) * physics.gradient(x, y) + self.inertias[k] * (x - x_prev)
        x_new = self.correct(soft_threshold(z, self.thresholds[k]), k)
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
def lyapunov_energy(
    model: LearnedFISTA,
    y: torch.Tensor,
    A: LinearOperator,
    *,
    lipschitz: float | None = None,
    tol: float = 1e-10,
) -> LyapunovReport:
    """Evaluate the Lyapunov energy of ``model`` along its trajectory for data ``y`` and operator ``A``.

    For each step ``k`` the energy uses that step's parameters (module docstring); it is
    guaranteed to decrease when the corrections are absent.

    Parameters
    ----------
    model : LearnedFISTA
    y : Tensor ``(B, *A.range_shape)``
    A : LinearOperator
    lipschitz : float, optional
        ``‖A‖₂²`` (estimated by the model's estimator when omitted).
    tol : float
        Relative slack allowed for rounding.
    """
    y, _ = check_data(A, y)
    physics = model.physics(y, A, lipschitz=lipschitz)
    L = physics.lipschitz
    state = model.init_state(y, physics)
    before, after = [], []

    def energy(x: torch.Tensor, x_prev: torch.Tensor, k: int) -> torch.Tensor:
        tau = model.steps[k] / L
        fit = 0.5 * (A.apply(x) - y).flatten(1).pow(2).sum(1)
        reg = model.thresholds[k] / tau * x.flatten(1).abs().sum(1)
        inertia = model.inertias[k] / (2 * tau) * (x - x_prev).flatten(1).pow(2).sum(1)
        return fit + reg + inertia

    for k in range(model.n_layers):
        before.append(energy(state[:, 0], state[:, 1], k))
        state = model.step(state, y, physics, k)
        after.append(energy(state[:, 0], state[:, 1], k))
    b, a = torch.stack(before), torch.stack(after)
    rel = (a - b) / b.abs().clamp_min(torch.finfo(b.dtype).tiny)
    worst = float(rel.max())
    return LyapunovReport(before=b, after=a, decreasing=worst <= tol, max_increase=worst)
