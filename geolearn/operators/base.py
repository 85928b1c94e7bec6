"""The :class:`LinearOperator` core: a linear map on torch tensors with an exact adjoint.

A LinearOperator ``A`` maps tensors of shape ``domain_shape`` to tensors of shape
``range_shape``. Any number of leading batch dimensions is accepted: ``A(x)`` with ``x`` of
shape ``(*batch, *domain_shape)`` returns ``(*batch, *range_shape)``.

Gradients never trace an operator's internals. ``A(x)`` runs through a
:class:`torch.autograd.Function` whose backward is ``A.adjoint``, so an operator computed
outside torch (Devito, C, SciPy) is as differentiable as a dense matrix.

Every operator counts its own applications (pylops' habit), whoever applies it: a user, a
solver, a composite, autograd's backward. ``A.applications`` is ``{"forward": n, "adjoint": m}``,
counted per sample of a batch. An all-zero input is answered with zeros without running the
operator and is not counted: exact for a linear map, and the first layer of a scheme started
from ``x = 0`` then costs nothing (for a wave operator, no wave-equation solve). What the
applications cost in solves is in the cost ledger (:mod:`geolearn.ledger`).
"""

from __future__ import annotations

import copy
import functools
import math
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch

from geolearn.errors import ShapeError

if TYPE_CHECKING:
    import scipy.sparse.linalg

__all__ = ["LinearOperator"]

Shape = tuple[int, ...]


def _as_shape(shape: int | tuple[int, ...] | list[int] | torch.Size, name: str) -> Shape:
    if isinstance(shape, int):
        shape = (shape,)
    out = tuple(int(s) for s in shape)
    if not out or any(s <= 0 for s in out):
        raise ShapeError(f"{name} must be a non-empty tuple of positive sizes, got {shape!r}")
    return out


# (operator id, kind) pairs being applied in this thread: a subclass's method that calls its
# parent's (``super()._forward``) is one application, counted once.
_active = threading.local()


def _counted(method: Callable[..., torch.Tensor], kind: str) -> Callable[..., torch.Tensor]:
    """``method`` (``_forward`` or ``_adjoint``) with the zero-input shortcut and the application count."""
    out_shape = "range_shape" if kind == "forward" else "domain_shape"

    @functools.wraps(method)
    def apply(self: LinearOperator, x: torch.Tensor) -> torch.Tensor:
        running = _active.__dict__.setdefault("keys", set())
        key = (id(self), kind)
        if key in running:
            return method(self, x)
        # A check of the input (a device synchronisation on a GPU) is far cheaper than a
        # wave-equation solve, and exact: a linear map sends zero to zero.
        if not bool(x.any()):
            return x.new_zeros((x.shape[0], *getattr(self, out_shape)))
        self.applications[kind] += x.shape[0]
        running.add(key)
        try:
            return method(self, x)
        finally:
            running.discard(key)

    apply.counted = True  # type: ignore[attr-defined]
    return apply


class _ApplyOperator(torch.autograd.Function):
    """Apply ``op`` (or its adjoint); backward applies the other one."""

    @staticmethod
    def forward(ctx: Any, op: LinearOperator, adjoint: bool, x: torch.Tensor) -> torch.Tensor:
        ctx.op = op
        ctx.adjoint = adjoint
        return op._adjoint(x) if adjoint else op._forward(x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[None, None, torch.Tensor]:
        # Calling apply again (not the raw method) keeps higher-order gradients available.
        return None, None, _ApplyOperator.apply(ctx.op, not ctx.adjoint, grad)


class LinearOperator:
    """Base class of every linear operator in geolearn.

    Subclasses implement :meth:`_forward` and :meth:`_adjoint`, each receiving a tensor
    with exactly one leading batch dimension, ``(B, *domain_shape)`` and
    ``(B, *range_shape)`` respectively, and returning ``(B, *range_shape)`` and
    ``(B, *domain_shape)``.

    Parameters
    ----------
    domain_shape, range_shape : tuple of int
        Shapes of a single input and a single output (without batch dimensions).
    dtype : torch.dtype, optional
        Floating dtype of inputs and outputs; defaults to ``torch.get_default_dtype()``
        (float32 unless changed).
    device : torch.device or str, optional
        Device of the outputs; defaults to CPU.

    Attributes
    ----------
    shape : tuple of int
        ``(prod(range_shape), prod(domain_shape))``, the shape of the equivalent matrix.
    applications : dict
        ``{"forward": n, "adjoint": m}``: the samples the operator and its adjoint were
        applied to (all-zero inputs excepted; see the module docstring). A copy made by
        :meth:`to` counts into the same dict.

    Examples
    --------
    >>> import torch
    >>> from geolearn.operators import MatrixOperator
    >>> A = MatrixOperator(torch.randn(3, 5))
    >>> A(torch.ones(5)).shape, A.T(torch.ones(3)).shape
    (torch.Size([3]), torch.Size([5]))
    >>> (A.T @ A).shape
    (5, 5)
    """

    def __init__(
        self,
        domain_shape: int | tuple[int, ...],
        range_shape: int | tuple[int, ...],
        *,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        self.domain_shape: Shape = _as_shape(domain_shape, "domain_shape")
        self.range_shape: Shape = _as_shape(range_shape, "range_shape")
        self.dtype: torch.dtype = dtype if dtype is not None else torch.get_default_dtype()
        if not self.dtype.is_floating_point:
            raise TypeError(f"operator dtype must be a floating dtype, got {self.dtype}")
        self.device: torch.device = torch.device(device if device is not None else "cpu")
        self.applications: dict[str, int] = {"forward": 0, "adjoint": 0}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # Every implementation of _forward/_adjoint counts itself and skips zero inputs,
        # also when a composite calls it directly instead of through apply().
        super().__init_subclass__(**kwargs)
        for name, kind in (("_forward", "forward"), ("_adjoint", "adjoint")):
            method = cls.__dict__.get(name)
            if callable(method) and not getattr(method, "counted", False):
                setattr(cls, name, _counted(method, kind))

    # ------------------------------------------------------------------ to implement
    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} does not implement _forward")

    def _adjoint(self, y: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} does not implement _adjoint")

    # ------------------------------------------------------------------ public API
    @property
    def shape(self) -> tuple[int, int]:
        return math.prod(self.range_shape), math.prod(self.domain_shape)

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the operator: ``(*batch, *domain_shape) -> (*batch, *range_shape)``."""
        return self._batched(x, adjoint=False)

    def adjoint(self, y: torch.Tensor) -> torch.Tensor:
        """Apply the adjoint: ``(*batch, *range_shape) -> (*batch, *domain_shape)``."""
        return self._batched(y, adjoint=True)

    __call__ = apply

    def __matmul__(self, other: LinearOperator | torch.Tensor) -> Any:
        if isinstance(other, LinearOperator):
            from geolearn.operators.composite import ProductOperator

            return ProductOperator(self, other)
        return self.apply(other)

    @property
    def T(self) -> LinearOperator:
        """The adjoint as an operator (a view; no copy)."""
        return AdjointOperator(self)

    H = T

    def normal(self) -> LinearOperator:
        """The normal operator ``AᵀA`` (domain to domain)."""
        from geolearn.operators.composite import NormalOperator

        return NormalOperator(self)

    def __add__(self, other: LinearOperator) -> LinearOperator:
        from geolearn.operators.composite import SumOperator

        return SumOperator(self, other)

    def __sub__(self, other: LinearOperator) -> LinearOperator:
        from geolearn.operators.composite import ScaledOperator, SumOperator

        return SumOperator(self, ScaledOperator(other, -1.0))

    def __mul__(self, scalar: float) -> LinearOperator:
        from geolearn.operators.composite import ScaledOperator

        return ScaledOperator(self, scalar)

    __rmul__ = __mul__

    def __neg__(self) -> LinearOperator:
        return self * -1.0

    def to(
        self, device: torch.device | str | None = None, dtype: torch.dtype | None = None
    ) -> LinearOperator:
        """Return a copy whose tensors (and child operators) live on ``device`` with ``dtype``."""
        new = copy.copy(self)
        target_dtype = dtype if dtype is not None else self.dtype
        target_device = torch.device(device) if device is not None else self.device
        for name, value in vars(self).items():
            setattr(new, name, _move(value, target_device, target_dtype))
        new.dtype, new.device = target_dtype, target_device
        return new

    def to_scipy(self) -> scipy.sparse.linalg.LinearOperator:
        """Wrap as a :class:`scipy.sparse.linalg.LinearOperator` on flat NumPy vectors."""
        from geolearn.operators.interop import to_scipy

        return to_scipy(self)

    def dense(self) -> torch.Tensor:
        """Materialise the ``shape[0] x shape[1]`` matrix (for small operators and tests)."""
        n = self.shape[1]
        basis = torch.eye(n, dtype=self.dtype, device=self.device).reshape(n, *self.domain_shape)
        with torch.no_grad():
            columns = self.apply(basis).reshape(n, self.shape[0])
        return columns.T.contiguous()

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(domain_shape={self.domain_shape}, "
            f"range_shape={self.range_shape}, dtype={self.dtype}, device={self.device})"
        )

    # ------------------------------------------------------------------ internals
    def _batched(self, x: torch.Tensor, adjoint: bool) -> torch.Tensor:
        in_shape, out_shape = (
            (self.range_shape, self.domain_shape) if adjoint else (self.domain_shape, self.range_shape)
        )
        what = "adjoint input" if adjoint else "input"
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{type(self).__name__} {what} must be a torch.Tensor, got {type(x).__name__}")
        nd = len(in_shape)
        if tuple(x.shape[x.ndim - nd :]) != in_shape or x.ndim < nd:
            raise ShapeError(
                f"{type(self).__name__} {what} has shape {tuple(x.shape)}; expected "
                f"(*batch, {', '.join(map(str, in_shape))})"
            )
        if x.dtype != self.dtype:
            raise TypeError(
                f"{type(self).__name__} has dtype {self.dtype} but its {what} has dtype {x.dtype}; "
                f"convert one of them (e.g. A.to(dtype={x.dtype}))"
            )
        batch = x.shape[: x.ndim - nd]
        flat = x.reshape(-1, *in_shape)
        out = _ApplyOperator.apply(self, adjoint, flat)
        return out.reshape(*batch, *out_shape)


class AdjointOperator(LinearOperator):
    """The adjoint ``Aᵀ`` of an operator, as a view; ``AdjointOperator(A).T`` is ``A``."""

    def __init__(self, op: LinearOperator) -> None:
        super().__init__(op.range_shape, op.domain_shape, dtype=op.dtype, device=op.device)
        self.op = op

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op._adjoint(x)

    def _adjoint(self, y: torch.Tensor) -> torch.Tensor:
        return self.op._forward(y)

    @property
    def T(self) -> LinearOperator:
        return self.op

    H = T


def _move(value: Any, device: torch.device, dtype: torch.dtype) -> Any:
    if isinstance(value, torch.Tensor):
        return value.to(device=device, dtype=dtype if value.is_floating_point() else value.dtype)
    if isinstance(value, LinearOperator):
        return value.to(device, dtype)
    if isinstance(value, (list, tuple)) and any(isinstance(v, LinearOperator) for v in value):
        return type(value)(_move(v, device, dtype) for v in value)
    return value
