"""Unrolled ISTA with learned, constrained per-layer step fractions and thresholds."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from geolearn.learned._checks import initial_thresholds
from geolearn.learned.constraints import (
    decreasing,
    decreasing_inverse,
    positive,
    positive_inverse,
)
from geolearn.learned.maps import SteppedIterationMap
from geolearn.learned.physics import LipschitzEstimator, Physics
from geolearn.solvers import soft_threshold

__all__ = ["UnrolledISTA"]


class UnrolledISTA(SteppedIterationMap):
    """``x_{k+1} = S_{θ_k}(x_k − γ_k Aᵀ(A x_k − y))`` with learned ``γ_k = t_k·scale(A, y)`` and ``θ_k``.

    Constraints hold by parameterisation for any raw parameter value: the step fractions
    ``t_k = c·sigmoid(ρ_k) ∈ (0, c]`` and ``θ_k = softplus(σ_k) ≥ 0``; with
    ``decreasing_thresholds=True``, ``θ_{k} = θ_{k−1}·sigmoid(σ_k)`` is nonincreasing in ``k``.
    The step unit is computed from the operator of each call (:mod:`geolearn.learned.physics`);
    thresholds are in the units of the image, so neither depends on the training operator.

    Parameters
    ----------
    n_layers : int
        Number of layers ``K``.
    threshold_init : float or sequence, optional
        Initial thresholds ``θ_k`` in image units (positive; nonincreasing when ``decreasing_thresholds``).
    lam, lipschitz : float, optional
        Instead of ``threshold_init``: LASSO weight λ and ``L = ‖A‖₂²`` of the operator the
        network will be trained on, giving ISTA's thresholds ``θ_k = t_k λ / L``. ``lipschitz``
        is used for this initialisation only; calls take their own.
    step_init : float or sequence, optional
        Initial fractions ``t_k`` in ``(0, c]``; default ``0.99·min(c, 1)`` (just below the bound so
        its gradient does not vanish). ``t_k = 1`` with the ``"lipschitz"`` scale reproduces ISTA.
    step_bound : float
        ``c`` in ``t_k ≤ c``; ``0 < c ≤ 2`` (with the ``"lipschitz"`` scale c ≤ 1 keeps layers nonexpansive).
    decreasing_thresholds : bool
        Parameterise thresholds as a nonincreasing sequence.
    step_scale : {"lipschitz", "cauchy"}
        Unit of the steps (see :class:`IterationMap`).
    lipschitz_estimator : LipschitzEstimator, optional
        Estimator of ``‖A‖²`` for calls that give no ``lipschitz=``.
    corrections : nn.Module or sequence, optional
        Per-layer residual corrections (see :class:`IterationMap`).
    dtype : torch.dtype
        Parameter dtype (the dtype of the operators it will be applied with).

    Examples
    --------
    >>> import torch
    >>> from geolearn.operators import MatrixOperator
    >>> A = MatrixOperator(torch.randn(20, 40, dtype=torch.float64) / 20**0.5)
    >>> net = UnrolledISTA(8, threshold_init=0.01, dtype=torch.float64)
    >>> net(torch.randn(4, 20, dtype=torch.float64), A).shape
    torch.Size([4, 40])
    """

    def __init__(
        self,
        n_layers: int,
        *,
        threshold_init: float | Sequence[float] | None = None,
        lam: float | None = None,
        lipschitz: float | None = None,
        step_init: float | Sequence[float] | None = None,
        step_bound: float = 1.0,
        decreasing_thresholds: bool = False,
        step_scale: str = "lipschitz",
        lipschitz_estimator: LipschitzEstimator | None = None,
        corrections: nn.Module | Sequence[nn.Module] | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__(
            n_layers, corrections=corrections, step_scale=step_scale, lipschitz_estimator=lipschitz_estimator
        )
        self.decreasing_thresholds = bool(decreasing_thresholds)
        steps = self.init_steps(step_init, step_bound, dtype)
        thresholds = initial_thresholds(steps, threshold_init, lam, lipschitz)
        inverse = decreasing_inverse if self.decreasing_thresholds else positive_inverse
        self.raw_threshold = nn.Parameter(inverse(thresholds).to(dtype))

    @property
    def thresholds(self) -> torch.Tensor:
        """Thresholds ``θ_k ≥ 0`` in image units, shape ``(K,)``."""
        return decreasing(self.raw_threshold) if self.decreasing_thresholds else positive(self.raw_threshold)

    def step(self, state: torch.Tensor, y: torch.Tensor, physics: Physics, k: int) -> torch.Tensor:
        k = self.check_layer(k)
        z = state - physics.step(self.steps[k], state) * physics.gradient(state, y)
        return self.correct(soft_threshold(z, self.thresholds[k]), k)
