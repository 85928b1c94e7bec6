"""Regularisers ``R`` for ``J(x) = ½‖Ax − y‖² + λ R(x)``: a value and a prox.

Each regulariser acts on tensors ``(*batch, *domain_shape)``; ``ndim`` (the number of domain
axes) tells it which axes belong to one problem. ``value`` returns one number per problem
(shape ``batch``); ``prox(v, t, ndim)`` returns ``argmin_x t R(x) + ½‖x − v‖²``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from geolearn.solvers.prox import prox_elastic_net, prox_squared_l2, soft_threshold
from geolearn.solvers.tv import prox_tv, tv_norm

__all__ = ["L1", "Box", "ElasticNet", "NonNegative", "Regulariser", "SquaredL2", "TotalVariation"]


def _sum_domain(values: torch.Tensor, ndim: int) -> torch.Tensor:
    return values.flatten(values.ndim - ndim).sum(-1)


class Regulariser:
    """Base class: subclasses implement :meth:`value` and :meth:`prox`.

    ``is_indicator`` marks indicator functions of convex sets (value 0 or ``inf``): ``λ`` does
    not scale them, and they apply even with ``λ = 0``.
    """

    is_indicator = False

    def value(self, x: torch.Tensor, ndim: int) -> torch.Tensor:
        """``R(x)`` per problem: shape ``x.shape[:-ndim]``."""
        raise NotImplementedError

    def prox(self, v: torch.Tensor, t: float, ndim: int) -> torch.Tensor:
        """``prox_{t R}(v)``, same shape as ``v``."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class L1(Regulariser):
    """``R(x) = Σ w |x|`` (sparsity), with optional non-negative weights ``w`` broadcastable to the domain."""

    def __init__(self, weights: torch.Tensor | None = None) -> None:
        if weights is not None:
            weights = torch.as_tensor(weights)
            if bool(((weights < 0) | ~torch.isfinite(weights)).any()):
                raise ValueError("L1 weights must be finite and >= 0 everywhere")
        self.weights = weights

    def value(self, x: torch.Tensor, ndim: int) -> torch.Tensor:
        a = torch.abs(x) if self.weights is None else self.weights * torch.abs(x)
        return _sum_domain(a, ndim)

    def prox(self, v: torch.Tensor, t: float, ndim: int) -> torch.Tensor:
        return soft_threshold(v, t if self.weights is None else t * self.weights)


class SquaredL2(Regulariser):
    """``R(x) = ½‖x‖²`` (Tikhonov / ridge)."""

    def value(self, x: torch.Tensor, ndim: int) -> torch.Tensor:
        return 0.5 * _sum_domain(x * x, ndim)

    def prox(self, v: torch.Tensor, t: float, ndim: int) -> torch.Tensor:
        return prox_squared_l2(v, t)


class ElasticNet(Regulariser):
    """``R(x) = ‖x‖₁ + (mu/2)‖x‖²`` with ``mu >= 0``."""

    def __init__(self, mu: float) -> None:
        if not (mu >= 0 and math.isfinite(mu)):
            raise ValueError(f"ElasticNet mu must be finite and >= 0, got {mu}")
        self.mu = float(mu)

    def value(self, x: torch.Tensor, ndim: int) -> torch.Tensor:
        return _sum_domain(torch.abs(x) + 0.5 * self.mu * x * x, ndim)

    def prox(self, v: torch.Tensor, t: float, ndim: int) -> torch.Tensor:
        return prox_elastic_net(v, t, t * self.mu)

    def __repr__(self) -> str:
        return f"ElasticNet(mu={self.mu})"


class Box(Regulariser):
    """Indicator of ``{lower <= x <= upper}``: 0 inside, ``inf`` outside; its prox is the projection.

    ``λ`` does not scale an indicator: the constraint holds for any ``lam``, including 0.
    """

    is_indicator = True

    def __init__(self, lower: float | torch.Tensor | None = None, upper: float | torch.Tensor | None = None):
        lo = -math.inf if lower is None else lower
        hi = math.inf if upper is None else upper
        if bool((torch.as_tensor(lo) > torch.as_tensor(hi)).any()):
            raise ValueError(f"Box needs lower <= upper, got lower={lower}, upper={upper}")
        self.lower, self.upper = lo, hi

    def value(self, x: torch.Tensor, ndim: int) -> torch.Tensor:
        outside = (x < self.lower) | (x > self.upper)
        inf = torch.tensor(math.inf, dtype=x.dtype, device=x.device)
        return torch.where(_sum_domain(outside.to(x.dtype), ndim) > 0, inf, inf.new_zeros(()))

    def prox(self, v: torch.Tensor, t: float, ndim: int) -> torch.Tensor:
        return torch.clamp(
            v,
            min=torch.as_tensor(self.lower, dtype=v.dtype, device=v.device),
            max=torch.as_tensor(self.upper, dtype=v.dtype, device=v.device),
        )

    def __repr__(self) -> str:
        return f"Box(lower={self.lower}, upper={self.upper})"


class NonNegative(Box):
    """Indicator of ``{x >= 0}``."""

    def __init__(self) -> None:
        super().__init__(0.0, None)


class TotalVariation(Regulariser):
    """``R(x) = TV(x)`` over the domain axes (see :func:`~geolearn.solvers.prox_tv` for the inner solver).

    Parameters
    ----------
    spacing : float or sequence of float, default 1.0
        Grid spacing per domain axis.
    isotropic : bool, default True
        Isotropic or anisotropic TV.
    max_iter, tol : int, float
        Inner-solver settings of each prox evaluation.
    """

    def __init__(
        self,
        spacing: float | Sequence[float] = 1.0,
        *,
        isotropic: bool = True,
        max_iter: int = 200,
        tol: float = 1e-6,
    ) -> None:
        self.spacing, self.isotropic, self.max_iter, self.tol = spacing, isotropic, max_iter, tol

    def value(self, x: torch.Tensor, ndim: int) -> torch.Tensor:
        return tv_norm(x, ndim=ndim, spacing=self.spacing, isotropic=self.isotropic)

    def prox(self, v: torch.Tensor, t: float, ndim: int) -> torch.Tensor:
        return prox_tv(
            v,
            float(t),
            ndim=ndim,
            spacing=self.spacing,
            isotropic=self.isotropic,
            max_iter=self.max_iter,
            tol=self.tol,
        )

    def __repr__(self) -> str:
        return f"TotalVariation(spacing={self.spacing}, isotropic={self.isotropic})"
