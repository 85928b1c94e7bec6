"""The variational objective ``J(x) = ½‖Ax − y‖² + λ R(x)`` with its parts reported separately."""

from __future__ import annotations

import math

import torch

from geolearn.errors import NonFiniteError, ShapeError
from geolearn.operators import LinearOperator
from geolearn.solvers.regularisers import L1, Regulariser

__all__ = ["Objective", "check_finite"]


def check_finite(t: torch.Tensor, name: str) -> None:
    """Raise ValueError naming ``name`` and the count of NaN/Inf entries if ``t`` is not finite."""
    finite = torch.isfinite(t)
    if not bool(finite.all()):
        n_nan, n_inf = int(torch.isnan(t).sum()), int(torch.isinf(t).sum())
        raise NonFiniteError(f"{name} contains {n_nan} NaN and {n_inf} Inf value(s); it must be finite")


class Objective:
    """``J(x) = ½‖Ax − y‖² + λ R(x)`` for one problem or a batch of independent problems.

    Parameters
    ----------
    A : LinearOperator
        Forward operator, domain ``A.domain_shape`` to range ``A.range_shape``.
    y : torch.Tensor
        Data, ``(*batch, *A.range_shape)``, finite, of ``A.dtype``. Leading axes are
        independent problems sharing ``A``.
    lam : float, default 0.0
        Regularisation weight ``λ >= 0``.
    regulariser : Regulariser, optional
        ``R``; default :class:`~geolearn.solvers.L1`.

    Notes
    -----
    ``data(x)``, ``regularisation(x)`` and ``__call__`` return one value per problem (shape
    ``batch_shape``) and are differentiable by autograd; :meth:`gradient` is the hand-derived
    gradient ``Aᵀ(Ax − y)`` of the data term.
    """

    def __init__(
        self, A: LinearOperator, y: torch.Tensor, lam: float = 0.0, regulariser: Regulariser | None = None
    ) -> None:
        if not isinstance(A, LinearOperator):
            raise TypeError(f"A must be a geolearn LinearOperator, got {type(A).__name__}")
        if not isinstance(y, torch.Tensor):
            raise TypeError(f"y must be a torch.Tensor, got {type(y).__name__}")
        nr = len(A.range_shape)
        if y.ndim < nr or tuple(y.shape[y.ndim - nr :]) != A.range_shape:
            raise ShapeError(
                f"y has shape {tuple(y.shape)}; the operator's range is {A.range_shape}, so y must be "
                f"(*batch, {', '.join(map(str, A.range_shape))})"
            )
        if y.dtype != A.dtype:
            raise TypeError(f"y has dtype {y.dtype} but the operator has dtype {A.dtype}")
        check_finite(y, "y")
        lam = float(lam)
        if not (lam >= 0 and math.isfinite(lam)):
            raise ValueError(f"lam must be finite and >= 0, got {lam}")
        if regulariser is not None and not isinstance(regulariser, Regulariser):
            raise TypeError(f"regulariser must be a geolearn Regulariser, got {type(regulariser).__name__}")
        self.A, self.y, self.lam = A, y, lam
        self.regulariser = regulariser if regulariser is not None else L1()
        self.batch_shape: tuple[int, ...] = tuple(y.shape[: y.ndim - nr])
        self.ndim = len(A.domain_shape)

    @property
    def x_shape(self) -> tuple[int, ...]:
        """Shape of a solution: ``(*batch_shape, *A.domain_shape)``."""
        return (*self.batch_shape, *self.A.domain_shape)

    def check_x(self, x: torch.Tensor, name: str = "x0") -> torch.Tensor:
        """Validate a starting point; a single ``domain_shape`` tensor is broadcast over the batch."""
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
        if tuple(x.shape) not in (self.x_shape, self.A.domain_shape):
            raise ShapeError(
                f"{name} has shape {tuple(x.shape)}; expected {self.x_shape} or {self.A.domain_shape}"
            )
        if x.dtype != self.A.dtype:
            raise TypeError(f"{name} has dtype {x.dtype} but the operator has dtype {self.A.dtype}")
        check_finite(x, name)
        return x.detach().expand(self.x_shape).clone()

    def _sum_range(self, r: torch.Tensor) -> torch.Tensor:
        return r.flatten(r.ndim - len(self.A.range_shape)).sum(-1)

    def data(self, x: torch.Tensor, Ax: torch.Tensor | None = None) -> torch.Tensor:
        """``½‖Ax − y‖²`` per problem; pass ``Ax`` when already computed."""
        r = (self.A(x) if Ax is None else Ax) - self.y
        return 0.5 * self._sum_range(r * r)

    def regularisation(self, x: torch.Tensor) -> torch.Tensor:
        """``λ R(x)`` per problem (``R(x)`` itself for an indicator: 0 or ``inf``)."""
        if self.regulariser.is_indicator:
            return self.regulariser.value(x, self.ndim)
        if self.lam == 0:
            return x.new_zeros(self.batch_shape)
        return self.lam * self.regulariser.value(x, self.ndim)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """``J(x)`` per problem."""
        return self.data(x) + self.regularisation(x)

    def gradient(self, x: torch.Tensor, Ax: torch.Tensor | None = None) -> torch.Tensor:
        """Gradient of the data term, ``Aᵀ(Ax − y)``."""
        return self.A.adjoint((self.A(x) if Ax is None else Ax) - self.y)

    def prox(self, v: torch.Tensor, step: float) -> torch.Tensor:
        """``prox_{step λ R}(v)`` (the projection for an indicator, whatever ``λ``)."""
        if self.lam == 0 and not self.regulariser.is_indicator:
            return v
        return self.regulariser.prox(v, step * self.lam, self.ndim)

    def norm(self, x: torch.Tensor) -> torch.Tensor:
        """Euclidean norm of each problem's block of ``x`` (shape ``batch_shape``)."""
        return torch.linalg.vector_norm(x.flatten(x.ndim - self.ndim), dim=-1)

    def fixed_point_residual(self, x: torch.Tensor, step: float) -> torch.Tensor:
        """``‖x − prox_{step λ R}(x − step ∇f(x))‖`` per problem; zero exactly at a minimiser."""
        return self.norm(x - self.prox(x - step * self.gradient(x), step))
