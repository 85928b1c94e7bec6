"""Unrolled ISTA with learned, constrained per-layer step sizes and thresholds."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from geolearn.learned._checks import check_step_bound, layer_values, lipschitz_constant
from geolearn.learned.constraints import (
    bounded,
    bounded_inverse,
    decreasing,
    decreasing_inverse,
    positive,
    positive_inverse,
)
from geolearn.learned.maps import IterationMap
from geolearn.operators import LinearOperator
from geolearn.solvers import soft_threshold

__all__ = ["UnrolledISTA"]


class UnrolledISTA(IterationMap):
    """``x_{k+1} = S_{θ_k}(x_k − γ_k Aᵀ(A x_k − y))`` with learned ``γ_k``, ``θ_k``.

    Constraints hold by parameterisation for any raw parameter value:
    ``γ_k = (c/L)·sigmoid(ρ_k) ∈ (0, c/L]`` and ``θ_k = softplus(σ_k) ≥ 0``; with
    ``decreasing_thresholds=True``, ``θ_{k} = θ_{k−1}·sigmoid(σ_k)`` is nonincreasing in ``k``.

    Parameters
    ----------
    A : LinearOperator
        Any operator; ``x`` has shape ``(B, *A.domain_shape)``, ``y`` ``(B, *A.range_shape)``.
    n_layers : int
        Number of layers ``K``.
    lam : float
        Regularisation weight λ of the LASSO ``½‖Ax − y‖² + λ‖x‖₁`` used for the initial thresholds
        ``θ_k = γ_k λ`` (ISTA's soft-threshold level), unless ``threshold_init`` is given.
    step_init : float or sequence, optional
        Initial steps in ``(0, c/L]``; default ``0.99·min(c, 1)/L`` (just below the bound so
        its gradient does not vanish). ``1/L`` with ``c = 1`` reproduces ISTA exactly.
    threshold_init : float or sequence, optional
        Initial thresholds (positive; nonincreasing when ``decreasing_thresholds``).
    step_bound : float
        ``c`` in ``γ_k ≤ c/L``; ``0 < c ≤ 2`` (c ≤ 1 keeps each layer nonexpansive).
    decreasing_thresholds : bool
        Parameterise thresholds as a nonincreasing sequence.
    lipschitz : float, optional
        ``L = ‖A‖₂²``; estimated with :func:`geolearn.operators.operator_norm` when omitted.
    corrections : nn.Module or sequence, optional
        Per-layer residual corrections (see :class:`IterationMap`).

    Examples
    --------
    >>> import torch
    >>> from geolearn.operators import MatrixOperator
    >>> A = MatrixOperator(torch.randn(20, 40, dtype=torch.float64) / 20**0.5)
    >>> net = UnrolledISTA(A, 8, lam=0.05)
    >>> net(torch.randn(4, 20, dtype=torch.float64)).shape
    torch.Size([4, 40])
    """

    def __init__(
        self,
        A: LinearOperator,
        n_layers: int,
        *,
        lam: float = 0.1,
        step_init: float | Sequence[float] | None = None,
        threshold_init: float | Sequence[float] | None = None,
        step_bound: float = 1.0,
        decreasing_thresholds: bool = False,
        lipschitz: float | None = None,
        corrections: nn.Module | Sequence[nn.Module] | None = None,
    ) -> None:
        super().__init__(A, n_layers, corrections=corrections)
        self.step_bound = check_step_bound(step_bound)
        self.lipschitz = lipschitz_constant(A, lipschitz)
        self.decreasing_thresholds = bool(decreasing_thresholds)
        K, upper = self.n_layers, self.step_bound / self.lipschitz
        if step_init is None:
            step_init = 0.99 * min(self.step_bound, 1.0) / self.lipschitz
        steps = layer_values(step_init, K, "step_init")
        if threshold_init is None:
            if not lam > 0:
                raise ValueError(f"lam must be positive, got {lam}")
            threshold_init = steps * lam
        thresholds = layer_values(threshold_init, K, "threshold_init")
        self.raw_step = nn.Parameter(bounded_inverse(steps, upper).to(A.dtype))
        inverse = decreasing_inverse if self.decreasing_thresholds else positive_inverse
        self.raw_threshold = nn.Parameter(inverse(thresholds).to(A.dtype))

    @property
    def steps(self) -> torch.Tensor:
        """Step sizes ``γ_k``, shape ``(K,)``, in ``(0, c/L]``."""
        return bounded(self.raw_step, self.step_bound / self.lipschitz)

    @property
    def thresholds(self) -> torch.Tensor:
        """Thresholds ``θ_k ≥ 0``, shape ``(K,)``."""
        return decreasing(self.raw_threshold) if self.decreasing_thresholds else positive(self.raw_threshold)

    def step(self, state: torch.Tensor, y: torch.Tensor, k: int) -> torch.Tensor:
        k = self.check_layer(k)
        z = state - self.steps[k] * self.residual(state, y)
        return self.correct(soft_threshold(z, self.thresholds[k]), k)
