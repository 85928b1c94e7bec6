"""Input validation shared by the learned schemes (private)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from geolearn.errors import ConfigError, NonFiniteError, ShapeError, StabilityError
from geolearn.learned.physics import check_lipschitz
from geolearn.operators import LinearOperator


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


def check_step_scale(step_scale: str, allowed: tuple[str, ...]) -> str:
    """Validate a scheme's step scale against the ones it supports."""
    if step_scale not in allowed:
        raise ConfigError(f"step_scale must be one of {allowed} for this scheme, got {step_scale!r}")
    return step_scale


def check_parameters_dtype(module: torch.nn.Module, A: LinearOperator) -> None:
    """The network's floating parameters must have the operator's dtype (a clear error, not a matmul failure)."""
    for name, p in module.named_parameters():
        if p.is_floating_point() and p.dtype != A.dtype:
            raise TypeError(
                f"the network's parameter {name!r} is {p.dtype} but the operator is {A.dtype}; "
                f"convert one of them (e.g. net.to({A.dtype}))"
            )


def check_step_bound(c: float) -> float:
    """Validate the bound ``c`` of the step fractions ``t ≤ c`` (``γ = t/L`` for the Lipschitz scale): ``0 < c ≤ 2``."""
    c = float(c)
    if not 0 < c <= 2:
        raise StabilityError(
            f"step bound factor c={c} must lie in (0, 2]: steps γ = t/L with t ≤ c ≤ 1 keep layers "
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


def initial_thresholds(
    steps: torch.Tensor,
    threshold_init: float | Sequence[float] | None,
    lam: float | None,
    lipschitz: float | None,
) -> torch.Tensor:
    """Initial thresholds (image units): ``threshold_init``, or ISTA's ``t_k·λ/L`` from ``lam`` and ``lipschitz``."""
    if threshold_init is not None:
        return layer_values(threshold_init, len(steps), "threshold_init")
    if lam is None or lipschitz is None:
        raise ConfigError(
            "give threshold_init (image units), or lam and lipschitz (λ of the LASSO and ‖A‖² of the "
            "training operator) for ISTA's thresholds t_k·λ/L"
        )
    if not lam > 0:
        raise ValueError(f"lam must be positive, got {lam}")
    return steps * lam / check_lipschitz(lipschitz)
