"""Restriction operators: masking (keep the shape, zero the rest) and subsampling (keep a subset)."""

from __future__ import annotations

import torch

from geolearn.errors import ShapeError
from geolearn.operators.base import LinearOperator, _as_shape

__all__ = ["Mask", "Subsampling"]


class Mask(LinearOperator):
    """Zero the entries where ``mask`` is False: ``x -> mask * x`` (self-adjoint, idempotent).

    Parameters
    ----------
    mask : torch.Tensor or array_like of bool
        Which entries to keep; its shape is the domain and range shape (e.g. ``(n_receivers, nt)``
        for trace decimation of a shot record). Its device becomes the operator's.
    dtype : torch.dtype, optional
        Operator dtype; defaults to ``torch.get_default_dtype()``.
    """

    def __init__(self, mask: torch.Tensor, *, dtype: torch.dtype | None = None) -> None:
        m = mask if isinstance(mask, torch.Tensor) else torch.as_tensor(mask)
        if m.dtype != torch.bool:
            raise TypeError(f"mask must be a boolean tensor, got dtype {m.dtype}")
        if m.ndim == 0:
            raise ShapeError("mask must have at least one dimension, got a scalar")
        super().__init__(tuple(m.shape), tuple(m.shape), dtype=dtype, device=m.device)
        self.mask = m

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.where(self.mask, x, torch.zeros((), dtype=x.dtype, device=x.device))

    _adjoint = _forward


class Subsampling(LinearOperator):
    """Pick entries by flat index: ``x (*shape) -> x.flatten()[indices] (m,)``.

    The adjoint scatters back (adding where an index repeats) and fills zeros elsewhere.

    Parameters
    ----------
    shape : int or tuple of int
        Domain shape.
    indices : torch.Tensor or array_like of int, shape (m,)
        Flat (C-order) indices into ``x``; use ``numpy.ravel_multi_index`` to build them from
        multi-indices. Each must satisfy ``0 <= i < prod(shape)``.
    dtype, device : optional
        As in :class:`LinearOperator`.
    """

    def __init__(
        self,
        shape: int | tuple[int, ...],
        indices: torch.Tensor,
        *,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        shape = _as_shape(shape, "shape")
        idx = torch.as_tensor(indices)
        if idx.is_floating_point() or idx.dtype == torch.bool or idx.ndim != 1 or idx.numel() == 0:
            raise ShapeError(
                f"indices must be a non-empty 1-D integer tensor of flat indices, got dtype {idx.dtype} "
                f"and shape {tuple(idx.shape)}"
            )
        size = int(torch.tensor(shape).prod())
        lo, hi = int(idx.min()), int(idx.max())
        if lo < 0 or hi >= size:
            bad = lo if lo < 0 else hi
            raise ShapeError(f"index {bad} is outside the domain of shape {shape} (valid: 0..{size - 1})")
        super().__init__(shape, idx.numel(), dtype=dtype, device=device)
        self.indices = idx.to(device=self.device, dtype=torch.long)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], -1)[:, self.indices]

    def _adjoint(self, y: torch.Tensor) -> torch.Tensor:
        out = torch.zeros(y.shape[0], self.shape[1], dtype=y.dtype, device=y.device)
        out.index_add_(1, self.indices, y)
        return out.reshape(y.shape[0], *self.domain_shape)
