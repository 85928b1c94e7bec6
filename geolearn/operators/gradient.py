"""Forward finite-difference gradient on a regular grid (for smoothness and total variation)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from geolearn.errors import ShapeError
from geolearn.operators.base import LinearOperator, _as_shape

__all__ = ["Gradient"]


class Gradient(LinearOperator):
    """Forward differences along every axis: ``x (*shape) -> (ndim, *shape)``.

    Component ``d`` of the output is

        (D_d x)[..., i, ...] = (x[..., i + 1, ...] - x[..., i, ...]) / spacing[d]   for i < n_d - 1
        (D_d x)[..., n_d - 1, ...] = 0

    i.e. a homogeneous Neumann boundary: the last difference along each axis is zero. This is
    the discretisation of Chambolle (2004) used for total variation; the adjoint is minus the
    matching backward-difference divergence, and ``‖D‖₂² ≤ 4 Σ_d 1/spacing[d]²``.

    Parameters
    ----------
    shape : int or tuple of int
        Grid shape, e.g. ``(nx, nz)`` (depth last). Each size must be at least 2.
    spacing : float or sequence of float, default 1.0
        Grid spacing per axis (metres for a model grid); one value is used for all axes.
    dtype, device : optional
        As in :class:`LinearOperator`.

    Examples
    --------
    >>> import torch
    >>> D = Gradient(4, dtype=torch.float64)
    >>> D(torch.tensor([0.0, 1.0, 3.0, 6.0], dtype=torch.float64))
    tensor([[1., 2., 3., 0.]], dtype=torch.float64)
    """

    def __init__(
        self,
        shape: int | tuple[int, ...],
        *,
        spacing: float | Sequence[float] = 1.0,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        shape = _as_shape(shape, "shape")
        if any(n < 2 for n in shape):
            raise ShapeError(f"Gradient needs at least 2 points along every axis, got shape {shape}")
        spacing = (
            [float(spacing)] * len(shape)
            if isinstance(spacing, (int, float))
            else [float(s) for s in spacing]
        )
        if len(spacing) != len(shape) or not all(s > 0 and s != float("inf") for s in spacing):
            raise ValueError(
                f"spacing must be one positive finite number or one per axis ({len(shape)}), got {spacing}"
            )
        super().__init__(shape, (len(shape), *shape), dtype=dtype, device=device)
        self.spacing = tuple(spacing)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        parts = []
        for d, h in enumerate(self.spacing):
            axis = d + 1  # skip the batch axis
            diff = torch.diff(x, dim=axis) / h
            zero = torch.zeros_like(x.narrow(axis, 0, 1))
            parts.append(torch.cat([diff, zero], dim=axis))
        return torch.stack(parts, dim=1)

    def _adjoint(self, y: torch.Tensor) -> torch.Tensor:
        out = torch.zeros(y.shape[:1] + y.shape[2:], dtype=y.dtype, device=y.device)
        for d, h in enumerate(self.spacing):
            axis = d + 1
            n = self.domain_shape[d]
            # Only the first n - 1 entries of a component are differences; the last is the boundary.
            g = y[:, d].narrow(axis, 0, n - 1) / h
            out.narrow(axis, 0, n - 1).sub_(g)
            out.narrow(axis, 1, n - 1).add_(g)
        return out
