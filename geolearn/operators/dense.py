"""Explicit operators: dense matrices, the identity and diagonal (pointwise) scalings."""

from __future__ import annotations

import torch

from geolearn.errors import NonFiniteError, ShapeError
from geolearn.operators.base import LinearOperator

__all__ = ["Diagonal", "Identity", "MatrixOperator"]


def _as_float_tensor(value: object, name: str, dtype: torch.dtype | None) -> torch.Tensor:
    t = value if isinstance(value, torch.Tensor) else torch.as_tensor(value)
    if dtype is not None:
        t = t.to(dtype)
    elif not t.is_floating_point():
        t = t.to(torch.get_default_dtype())
    if not bool(torch.isfinite(t).all()):
        raise NonFiniteError(f"{name} contains NaN or Inf values; an operator's coefficients must be finite")
    return t


class MatrixOperator(LinearOperator):
    """A dense matrix ``M`` of shape ``(m, n)`` acting on vectors: ``x -> M x``.

    Parameters
    ----------
    matrix : torch.Tensor or array_like, shape (m, n)
        The matrix. Its dtype and device become the operator's (integer input becomes the
        default float dtype). It is stored by reference, detached from any autograd graph:
        gradients flow to the operator's *input*, not to the matrix.
    dtype : torch.dtype, optional
        Convert the matrix to this dtype.

    Notes
    -----
    Domain shape ``(n,)``, range shape ``(m,)``; any leading batch dimensions are allowed.

    Examples
    --------
    >>> import torch
    >>> A = MatrixOperator(torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]))
    >>> A(torch.tensor([1.0, 1.0]))
    tensor([ 3.,  7., 11.])
    """

    def __init__(self, matrix: torch.Tensor, *, dtype: torch.dtype | None = None) -> None:
        m = _as_float_tensor(matrix, "matrix", dtype).detach()
        if m.ndim != 2:
            raise ShapeError(f"MatrixOperator needs a 2-D matrix (m, n), got shape {tuple(m.shape)}")
        super().__init__(m.shape[1], m.shape[0], dtype=m.dtype, device=m.device)
        self.matrix = m

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.matrix.T

    def _adjoint(self, y: torch.Tensor) -> torch.Tensor:
        return y @ self.matrix

    def dense(self) -> torch.Tensor:
        return self.matrix.clone()


class Identity(LinearOperator):
    """The identity on tensors of shape ``shape`` (domain = range = ``shape``).

    Parameters
    ----------
    shape : int or tuple of int
        Shape of one input.
    dtype, device : optional
        As in :class:`LinearOperator`.
    """

    def __init__(
        self,
        shape: int | tuple[int, ...],
        *,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__(shape, shape, dtype=dtype, device=device)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.clone()

    _adjoint = _forward


class Diagonal(LinearOperator):
    """Pointwise multiplication ``x -> d * x`` by a fixed tensor ``d`` (self-adjoint).

    Parameters
    ----------
    diag : torch.Tensor or array_like
        The weights; its shape is the domain and range shape, its dtype and device the
        operator's (integer or boolean input becomes the default float dtype).
    dtype : torch.dtype, optional
        Convert the weights to this dtype.
    """

    def __init__(self, diag: torch.Tensor, *, dtype: torch.dtype | None = None) -> None:
        d = _as_float_tensor(diag, "diag", dtype).detach()
        if d.ndim == 0:
            raise ShapeError("Diagonal needs a tensor of weights with at least one dimension, got a scalar")
        super().__init__(tuple(d.shape), tuple(d.shape), dtype=d.dtype, device=d.device)
        self.diag = d

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.diag

    _adjoint = _forward
