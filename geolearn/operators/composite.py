"""Operators built from other operators: sums, scalings, products, normal operators, stacks.

These are what ``A + B``, ``A - B``, ``c * A``, ``A @ B``, ``A.normal()``, :func:`vstack`,
:func:`hstack` and :func:`block` return. They call their children's ``_forward`` and
``_adjoint`` directly, so a composite is one autograd node whose backward is its adjoint.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from geolearn.errors import ShapeError
from geolearn.operators.base import LinearOperator

__all__ = [
    "HStack",
    "NormalOperator",
    "ProductOperator",
    "ScaledOperator",
    "SumOperator",
    "VStack",
    "block",
    "hstack",
    "vstack",
]


def _check_compatible(ops: Sequence[LinearOperator]) -> None:
    first = ops[0]
    for op in ops[1:]:
        if op.dtype != first.dtype:
            raise TypeError(f"cannot combine operators of dtypes {first.dtype} and {op.dtype}")


class SumOperator(LinearOperator):
    """``A + B`` for operators of identical domain and range shapes."""

    def __init__(self, a: LinearOperator, b: LinearOperator) -> None:
        if a.domain_shape != b.domain_shape or a.range_shape != b.range_shape:
            raise ShapeError(
                f"cannot add operators {a.domain_shape}->{a.range_shape} and "
                f"{b.domain_shape}->{b.range_shape}: shapes must match"
            )
        _check_compatible([a, b])
        super().__init__(a.domain_shape, a.range_shape, dtype=a.dtype, device=a.device)
        self.a, self.b = a, b

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.a._forward(x) + self.b._forward(x)

    def _adjoint(self, y: torch.Tensor) -> torch.Tensor:
        return self.a._adjoint(y) + self.b._adjoint(y)


class ScaledOperator(LinearOperator):
    """``c * A`` for a real scalar ``c``."""

    def __init__(self, op: LinearOperator, scalar: float) -> None:
        if isinstance(scalar, torch.Tensor):
            if scalar.numel() != 1:
                raise ShapeError(
                    f"an operator can be scaled by a scalar only, got shape {tuple(scalar.shape)}"
                )
            scalar = float(scalar)
        if not isinstance(scalar, (int, float)) or not math.isfinite(scalar):
            raise ValueError(f"operator scale must be a finite real number, got {scalar!r}")
        super().__init__(op.domain_shape, op.range_shape, dtype=op.dtype, device=op.device)
        self.op, self.scalar = op, float(scalar)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scalar * self.op._forward(x)

    def _adjoint(self, y: torch.Tensor) -> torch.Tensor:
        return self.scalar * self.op._adjoint(y)


class ProductOperator(LinearOperator):
    """``A @ B``: apply ``B`` then ``A``."""

    def __init__(self, a: LinearOperator, b: LinearOperator) -> None:
        if b.range_shape != a.domain_shape:
            raise ShapeError(
                f"cannot compose A @ B: B's range {b.range_shape} differs from A's domain {a.domain_shape}"
            )
        _check_compatible([a, b])
        super().__init__(b.domain_shape, a.range_shape, dtype=a.dtype, device=a.device)
        self.a, self.b = a, b

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.a._forward(self.b._forward(x))

    def _adjoint(self, y: torch.Tensor) -> torch.Tensor:
        return self.b._adjoint(self.a._adjoint(y))


class NormalOperator(LinearOperator):
    """``AᵀA``, self-adjoint on the domain of ``A``."""

    def __init__(self, op: LinearOperator) -> None:
        super().__init__(op.domain_shape, op.domain_shape, dtype=op.dtype, device=op.device)
        self.op = op

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op._adjoint(self.op._forward(x))

    _adjoint = _forward


class VStack(LinearOperator):
    """Stack operators sharing a domain: ``x -> concat(A_1 x, ..., A_n x)``.

    The range is flat: shape ``(sum_i prod(range_shape_i),)``.
    """

    def __init__(self, ops: Sequence[LinearOperator]) -> None:
        ops = list(ops)
        if not ops:
            raise ShapeError("vstack needs at least one operator")
        for op in ops[1:]:
            if op.domain_shape != ops[0].domain_shape:
                raise ShapeError(
                    f"vstack operators must share a domain shape; got {ops[0].domain_shape} and {op.domain_shape}"
                )
        _check_compatible(ops)
        sizes = [op.shape[0] for op in ops]
        super().__init__(ops[0].domain_shape, sum(sizes), dtype=ops[0].dtype, device=ops[0].device)
        self.ops, self.sizes = ops, sizes

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([op._forward(x).reshape(x.shape[0], -1) for op in self.ops], dim=1)

    def _adjoint(self, y: torch.Tensor) -> torch.Tensor:
        parts = torch.split(y, self.sizes, dim=1)
        out = None
        for op, part in zip(self.ops, parts):
            term = op._adjoint(part.reshape(y.shape[0], *op.range_shape))
            out = term if out is None else out + term
        return out


class HStack(LinearOperator):
    """Place operators sharing a range side by side: ``concat(x_1, ..., x_n) -> sum_i A_i x_i``.

    The domain is flat: shape ``(sum_i prod(domain_shape_i),)``.
    """

    def __init__(self, ops: Sequence[LinearOperator]) -> None:
        ops = list(ops)
        if not ops:
            raise ShapeError("hstack needs at least one operator")
        for op in ops[1:]:
            if op.range_shape != ops[0].range_shape:
                raise ShapeError(
                    f"hstack operators must share a range shape; got {ops[0].range_shape} and {op.range_shape}"
                )
        _check_compatible(ops)
        sizes = [op.shape[1] for op in ops]
        super().__init__(sum(sizes), ops[0].range_shape, dtype=ops[0].dtype, device=ops[0].device)
        self.ops, self.sizes = ops, sizes

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        parts = torch.split(x, self.sizes, dim=1)
        out = None
        for op, part in zip(self.ops, parts):
            term = op._forward(part.reshape(x.shape[0], *op.domain_shape))
            out = term if out is None else out + term
        return out

    def _adjoint(self, y: torch.Tensor) -> torch.Tensor:
        return torch.cat([op._adjoint(y).reshape(y.shape[0], -1) for op in self.ops], dim=1)


def vstack(ops: Sequence[LinearOperator]) -> LinearOperator:
    """Vertical stack ``[A_1; ...; A_n]`` of operators with a common domain (flat range)."""
    return VStack(ops)


def hstack(ops: Sequence[LinearOperator]) -> LinearOperator:
    """Horizontal stack ``[A_1, ..., A_n]`` of operators with a common range (flat domain)."""
    return HStack(ops)


def block(rows: Sequence[Sequence[LinearOperator]]) -> LinearOperator:
    """Block operator ``[[A_11, A_12, ...], [A_21, ...], ...]`` with flat domain and range.

    Every row must have the same number of blocks; blocks in one column must share a domain
    shape and blocks in one row a range shape.
    """
    rows = [list(r) for r in rows]
    if not rows or any(len(r) != len(rows[0]) for r in rows):
        raise ShapeError("block needs a non-empty rectangular list of rows of operators")
    return VStack([HStack(r) for r in rows])
