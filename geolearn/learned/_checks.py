"""Input validation shared by the learned schemes (private)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from geolearn.errors import ConfigError, NonFiniteError, ShapeError, StabilityError
from geolearn.operators import LinearOperator, operator_norm


def check_n_layers(n_layers: int) -> int:
    """Return ``n_layers`` as int; raise :class:`ConfigError` unless it is a positive integer."""
    if isinstance(n_layers, bool) or not isinstance(n_layers, int) or n_layers < 1:
        raise ConfigError(f"n_layers must be a positive integer, got {n_layers!r}")
    return n_layers


def check_operator(A: object) -> LinearOperator:
    if not isinstance(A, LinearOperator):
        raise TypeError(f"A must be a geolearn LinearOperator, got {type(A).__name__}")
    return A


def check_data(A: LinearOperator, y: torch.Tensor, name: str = "y") -> tuple[torch.Tensor, bool]:
    """Validate data ``y`` for operator ``A``; return ``(y_batched, was_unbatched)``.

    ``y`` must have shape ``(B, *A.range_shape)`` or ``A.range_shape``, A's dtype, finite values.
    """
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(y).__name__}")
    rs = A.range_shape
    unbatched = tuple(y.shape) == rs
    if not unbatched and (y.ndim != len(rs) + 1 or tuple(y.shape[1:]) != rs):
        raise ShapeError(
            f"{name} has shape {tuple(y.shape)}; the operator's range is {rs}, so {name} must be "
            f"(batch, {', '.join(map(str, rs))}) or {rs}"
        )
    if y.dtype != A.dtype:
        raise TypeError(f"{name} has dtype {y.dtype} but the operator has dtype {A.dtype}")
    if not bool(torch.isfinite(y).all()):
        bad = int((~torch.isfinite(y)).sum())
        raise NonFiniteError(f"{name} contains {bad} non-finite value(s) (NaN or Inf); data must be finite")
    return (y.unsqueeze(0) if unbatched else y), unbatched


def lipschitz_constant(A: LinearOperator, lipschitz: float | None, seed: int = 0) -> float:
    """``L = ‖A‖₂²`` (Lipschitz constant of the gradient of ½‖Ax − y‖²), estimated when not given."""
    if lipschitz is None:
        return float(operator_norm(A, tol=1e-7, max_iter=1000, seed=seed)) ** 2
    lipschitz = float(lipschitz)
    if not lipschitz > 0 or lipschitz == float("inf"):
        raise ValueError(f"lipschitz must be a positive finite number (‖A‖₂²), got {lipschitz}")
    return lipschitz


def check_step_bound(c: float) -> float:
    """Validate the step-size factor ``c`` of the bound ``γ ≤ c/L``: ``0 < c ≤ 2``."""
    c = float(c)
    if not 0 < c <= 2:
        raise StabilityError(
            f"step bound factor c={c} must lie in (0, 2]: steps γ ≤ c/L with c ≤ 1 keep layers "
            "nonexpansive, 1 < c ≤ 2 keeps them averaged only for convex problems; c > 2 diverges"
        )
    return c


def layer_values(value: float | Sequence[float] | torch.Tensor, n: int, name: str) -> torch.Tensor:
    """Broadcast a scalar or length-``n`` sequence to a float64 tensor of ``n`` values."""
    t = torch.as_tensor(value, dtype=torch.float64).flatten()
    if t.numel() == 1:
        t = t.expand(n).clone()
    if t.numel() != n:
        raise ConfigError(f"{name} must be a scalar or have one value per layer ({n}), got {t.numel()}")
    return t
