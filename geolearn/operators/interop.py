"""Interoperability: geolearn operators as SciPy operators, and SciPy or plain callables as geolearn operators."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import torch

from geolearn.errors import ShapeError
from geolearn.operators.base import LinearOperator, _as_shape

if TYPE_CHECKING:  # SciPy is imported only by the functions that need it: the core needs torch and numpy
    import scipy.sparse.linalg as spla

__all__ = ["CallableOperator", "from_callables", "from_scipy", "to_scipy"]

_NUMPY_DTYPES = {torch.float64: np.float64, torch.float32: np.float32}


def to_scipy(A: LinearOperator) -> spla.LinearOperator:
    """Wrap ``A`` as a :class:`scipy.sparse.linalg.LinearOperator` on flat NumPy vectors.

    ``matvec`` takes a vector of length ``prod(A.domain_shape)`` (C-order flattening of
    the domain) and returns one of length ``prod(A.range_shape)``; ``rmatvec`` applies
    ``Aᵀ``; ``matmat`` maps the columns of a 2-D array in one batched call. Inputs are
    converted to ``A.dtype`` (float64 or float32) and copied to ``A.device``; outputs come
    back on the CPU. Gradients are not tracked.

    Examples
    --------
    >>> import torch, scipy.sparse.linalg as spla
    >>> from geolearn.operators import MatrixOperator
    >>> A = MatrixOperator(torch.eye(3, dtype=torch.float64) * 2)
    >>> spla.lsqr(to_scipy(A), [2.0, 4.0, 6.0], atol=1e-12, btol=1e-12)[0].round(6)
    array([1., 2., 3.])
    """
    if A.dtype not in _NUMPY_DTYPES:
        raise TypeError(f"to_scipy supports float64 and float32 operators, got {A.dtype}")
    np_dtype = _NUMPY_DTYPES[A.dtype]
    m, n = A.shape

    def apply(v: np.ndarray, adjoint: bool) -> np.ndarray:
        in_shape = A.range_shape if adjoint else A.domain_shape
        size = m if adjoint else n
        arr = np.asarray(v)
        cols = arr.reshape(size, -1).T  # (k, size): one row per column of the input
        t = torch.from_numpy(np.ascontiguousarray(cols, dtype=np_dtype)).to(A.device)
        with torch.no_grad():
            out = (A.adjoint if adjoint else A.apply)(t.reshape(-1, *in_shape))
        out = out.reshape(cols.shape[0], -1).cpu().numpy().T
        return out.reshape(-1) if arr.ndim == 1 else out

    import scipy.sparse.linalg as spla

    return spla.LinearOperator(
        (m, n),
        matvec=lambda v: apply(v, False),
        rmatvec=lambda v: apply(v, True),
        matmat=lambda V: apply(V, False),
        rmatmat=lambda V: apply(V, True),
        dtype=np_dtype,
    )


class CallableOperator(LinearOperator):
    """A LinearOperator from a pair of functions; see :func:`from_callables`."""

    def __init__(
        self,
        forward: Callable[[torch.Tensor], torch.Tensor],
        adjoint: Callable[[torch.Tensor], torch.Tensor],
        domain_shape: int | tuple[int, ...],
        range_shape: int | tuple[int, ...],
        *,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
        batched: bool = False,
    ) -> None:
        super().__init__(domain_shape, range_shape, dtype=dtype, device=device)
        self.forward_fn, self.adjoint_fn, self.batched = forward, adjoint, batched

    def _call(self, fn: Callable, x: torch.Tensor, out_shape: tuple[int, ...], name: str) -> torch.Tensor:
        outs = [torch.as_tensor(fn(x))] if self.batched else [torch.as_tensor(fn(xi)) for xi in x]
        expected = (x.shape[0], *out_shape) if self.batched else out_shape
        for out in outs:
            if tuple(out.shape) != expected:
                raise ShapeError(
                    f"the {name} callable returned shape {tuple(out.shape)}; expected {expected} "
                    f"({'batched' if self.batched else 'one unbatched input'})"
                )
        out = outs[0] if self.batched else torch.stack(outs)
        return out.to(dtype=self.dtype, device=x.device)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._call(self.forward_fn, x, self.range_shape, "forward")

    def _adjoint(self, y: torch.Tensor) -> torch.Tensor:
        return self._call(self.adjoint_fn, y, self.domain_shape, "adjoint")


def from_callables(
    forward: Callable[[torch.Tensor], torch.Tensor],
    adjoint: Callable[[torch.Tensor], torch.Tensor],
    domain_shape: int | tuple[int, ...],
    range_shape: int | tuple[int, ...],
    *,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
    batched: bool = False,
) -> LinearOperator:
    """Make a LinearOperator from a forward function and its adjoint.

    Parameters
    ----------
    forward : callable
        Maps a tensor of shape ``domain_shape`` to one of shape ``range_shape`` (or, with
        ``batched=True``, ``(B, *domain_shape) -> (B, *range_shape)``).
    adjoint : callable
        The adjoint map, ``range_shape -> domain_shape`` (batched likewise). Check it with
        :func:`~geolearn.operators.dot_test`.
    domain_shape, range_shape : int or tuple of int
        Shapes of one input and one output.
    dtype, device : optional
        The operator's dtype (default ``torch.get_default_dtype()``) and device.
    batched : bool, default False
        Whether the callables accept a leading batch dimension; otherwise they are called once
        per batch element.

    Returns
    -------
    LinearOperator
        Differentiable: the backward of the forward map is ``adjoint``, so the callables
        themselves need not be traceable by autograd.

    Examples
    --------
    >>> import torch
    >>> A = from_callables(lambda x: torch.cumsum(x, 0), lambda y: torch.cumsum(y.flip(0), 0).flip(0), 4, 4)
    >>> A(torch.ones(4))
    tensor([1., 2., 3., 4.])
    """
    return CallableOperator(
        forward, adjoint, domain_shape, range_shape, dtype=dtype, device=device, batched=batched
    )


def from_scipy(
    op: spla.LinearOperator,
    *,
    domain_shape: int | tuple[int, ...] | None = None,
    range_shape: int | tuple[int, ...] | None = None,
    dtype: torch.dtype | None = None,
) -> LinearOperator:
    """Wrap a SciPy operator (``scipy.sparse.linalg.LinearOperator``, sparse or dense matrix).

    Parameters
    ----------
    op : scipy.sparse.linalg.LinearOperator or matrix, shape (m, n)
        Anything :func:`scipy.sparse.linalg.aslinearoperator` accepts; it must provide
        ``rmatvec``/``rmatmat`` (the adjoint).
    domain_shape, range_shape : int or tuple of int, optional
        Shapes to present; default ``(n,)`` and ``(m,)``. Their sizes must be ``n`` and ``m``.
    dtype : torch.dtype, optional
        Operator dtype (default ``torch.get_default_dtype()``). Computation runs in NumPy on
        the CPU; tensors on other devices are copied.
    """
    import scipy.sparse.linalg as spla

    op = spla.aslinearoperator(op)
    m, n = op.shape
    dshape = _as_shape(domain_shape if domain_shape is not None else n, "domain_shape")
    rshape = _as_shape(range_shape if range_shape is not None else m, "range_shape")
    if int(np.prod(dshape)) != n or int(np.prod(rshape)) != m:
        raise ShapeError(f"shapes {dshape} -> {rshape} do not fit a SciPy operator of shape {(m, n)}")

    def wrap(fn: Callable[[np.ndarray], np.ndarray], out_shape: tuple[int, ...]) -> Callable:
        def call(x: torch.Tensor) -> torch.Tensor:
            cols = x.detach().reshape(x.shape[0], -1).cpu().numpy().T
            out = np.asarray(fn(cols)).T
            return torch.from_numpy(np.ascontiguousarray(out)).reshape(x.shape[0], *out_shape)

        return call

    return CallableOperator(
        wrap(op.matmat, rshape), wrap(op.rmatmat, dshape), dshape, rshape, dtype=dtype, batched=True
    )
