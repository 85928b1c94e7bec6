"""The operator a learned scheme is applied with, and the step scale derived from it at call time.

Learned schemes never store their operator: ``net(y, A)`` receives it, like deepinv's
``model(y, physics)``. What a network learns about step sizes is therefore stored as
*dimensionless* fractions ``t_k`` of a scale computed from the operator of the call:

- ``"lipschitz"``: ``γ_k = t_k / L`` with ``L = ‖A‖₂²`` (the Lipschitz constant of the gradient of
  ``½‖Ax − y‖²``). ``L`` is given by the caller (``lipschitz=``) or estimated by power iteration
  with a :class:`LipschitzEstimator` and remembered per operator object (a weak reference: the
  memo keeps no operator alive and is no part of the network's state). ``t_k ≤ 1`` keeps a
  gradient step nonexpansive on *any* operator.
- ``"cauchy"``: ``γ_k = t_k · s(y)`` with the per-sample exact line-search step of the first
  gradient step from zero, ``s = ‖Aᵀy‖² / ‖AAᵀy‖²`` (:func:`cauchy_steps`). It adapts to the
  part of the spectrum the data occupy (band, illumination), which ``1/L`` does not; it costs
  one ``A`` per sample per call (``Aᵀy`` is reused by the first layer). No nonexpansiveness.

Both scales make a scheme invariant to rescaling the problem (``A → αA``, ``y → αy`` gives the
same iterates), which is what lets a network trained on one operator run on another.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import torch

from geolearn.errors import ConfigError
from geolearn.operators import LinearOperator, operator_norm

__all__ = ["STEP_SCALES", "LipschitzEstimator", "Physics", "cauchy_steps"]

#: Step scales a scheme can be built with (``"none"``: its steps are not tied to an operator).
STEP_SCALES = ("lipschitz", "cauchy", "none")

_MEMO: weakref.WeakKeyDictionary[LinearOperator, dict[tuple, float]] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class LipschitzEstimator:
    """``L ≈ safety · ‖A‖₂²`` by :func:`~geolearn.operators.operator_norm`, remembered per operator.

    Parameters
    ----------
    max_iter, tol : int, float
        Power-iteration cap (two applications each) and relative stopping tolerance.
    safety : float
        Factor ``≥ 1``: power iteration approaches ``‖A‖`` from below, so a short estimate
        times ``safety`` keeps ``γ ≤ 1/L`` safe (e.g. 8 iterations and 1.1 for a Born operator).
    seed : int
        Seed of the start vector.
    """

    max_iter: int = 1000
    tol: float = 1e-7
    safety: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        if int(self.max_iter) < 1 or not self.tol > 0 or not self.safety >= 1:
            raise ConfigError(
                f"need max_iter >= 1, tol > 0 and safety >= 1; got max_iter={self.max_iter}, "
                f"tol={self.tol}, safety={self.safety}"
            )

    def __call__(self, A: LinearOperator) -> float:
        """``L`` for ``A``: estimated on the first call for this operator object, then remembered."""
        key = (int(self.max_iter), float(self.tol), float(self.safety), int(self.seed))
        known = _MEMO.setdefault(A, {})
        if key not in known:
            norm = operator_norm(A, tol=self.tol, max_iter=self.max_iter, seed=self.seed)
            if not norm > 0:
                raise ConfigError(f"the operator {A!r} has norm 0; no step can be scaled by 1/‖A‖²")
            known[key] = self.safety * norm**2
        return known[key]


def check_lipschitz(lipschitz: float) -> float:
    """A user-given ``L``: a positive finite float, or a ValueError naming the value."""
    value = float(lipschitz)
    if not value > 0 or value == float("inf"):
        raise ValueError(f"lipschitz must be a positive finite number (‖A‖₂²), got {lipschitz}")
    return value


def cauchy_steps(A: LinearOperator, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample exact line-search step ``‖Aᵀy‖² / ‖AAᵀy‖²`` of the first gradient step from zero.

    Parameters
    ----------
    A : LinearOperator
    y : Tensor ``(B, *A.range_shape)``

    Returns
    -------
    steps : Tensor ``(B,)``, in the units of ``1/‖A‖²`` (e.g. (m/s)² per (data unit)² for Born)
    adjoint_data : Tensor ``(B, *A.domain_shape)``, ``Aᵀy`` (differentiable in ``y``)
    """
    g = A.adjoint(y)
    with torch.no_grad():  # a scale, not a path for gradients
        Ag = A.apply(g)
        num = g.detach().double().flatten(1).pow(2).sum(1)
        den = Ag.double().flatten(1).pow(2).sum(1)
    if bool((den <= 0).any()):
        bad = [int(i) for i in torch.nonzero(den <= 0).flatten()]
        raise ConfigError(f"A Aᵀy is zero for sample(s) {bad}: the data carry nothing the operator can image")
    return (num / den).to(y.dtype), g


@dataclass(frozen=True)
class Physics:
    """The operator of one call and the step scale computed from it (see the module docstring).

    Attributes
    ----------
    A : LinearOperator
        The operator passed at call time.
    scale : Tensor ``(B,)`` or None
        Per-sample step unit: ``1/L`` (``"lipschitz"``) or ``s(y)`` (``"cauchy"``); ``None``
        for schemes whose steps are not scaled (LISTA family).
    lipschitz : float or None
        ``L`` when the scale is ``"lipschitz"``.
    adjoint_data : Tensor ``(B, *A.domain_shape)`` or None
        ``Aᵀy`` when it was computed for the scale; the first layer reuses it.
    """

    A: LinearOperator
    scale: torch.Tensor | None = None
    lipschitz: float | None = None
    adjoint_data: torch.Tensor | None = None

    def step(self, fraction: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """The step ``fraction · scale`` shaped to broadcast against ``like`` ``(B, ...)``."""
        if self.scale is None:
            raise ConfigError("this scheme was built with step_scale='none'; it has no scaled steps")
        return fraction * self.scale.reshape(-1, *([1] * (like.ndim - 1)))

    def gradient(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``Aᵀ(Ax − y)``, shape ``(B, *A.domain_shape)``; ``−Aᵀy`` is reused at a constant ``x = 0``."""
        if self.adjoint_data is not None and not x.requires_grad and not bool(x.any()):
            return -self.adjoint_data
        return self.A.adjoint(self.A.apply(x) - y)


def make_physics(
    A: LinearOperator,
    y: torch.Tensor,
    step_scale: str,
    estimator: LipschitzEstimator,
    lipschitz: float | None = None,
) -> Physics:
    """Build the :class:`Physics` of one call (``y`` already batched and checked)."""
    if lipschitz is not None and step_scale != "lipschitz":
        raise ConfigError(
            f"lipschitz= is used only with step_scale='lipschitz'; this scheme uses {step_scale!r}"
        )
    if step_scale == "none":
        return Physics(A)
    if step_scale == "cauchy":
        steps, g = cauchy_steps(A, y)
        return Physics(A, steps, None, g)
    L = check_lipschitz(lipschitz) if lipschitz is not None else estimator(A)
    return Physics(A, torch.full((y.shape[0],), 1.0 / L, dtype=y.dtype, device=y.device), L)
