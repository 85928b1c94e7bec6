"""Proximal operators of simple functions, elementwise and differentiable (for unrolled schemes).

``prox_{t f}(v) = argmin_x  t f(x) + ½‖x − v‖²``. All functions accept tensors of any shape,
any dtype and device; parameters may be tensors broadcastable to ``v`` (e.g. one threshold
per layer or per coefficient) and gradients flow to both ``v`` and the parameters.
"""

from __future__ import annotations

import torch

__all__ = [
    "project_box",
    "project_nonnegative",
    "prox_elastic_net",
    "prox_squared_l2",
    "soft_threshold",
]

Param = float | torch.Tensor


def _check_nonnegative(value: Param, name: str) -> None:
    """Raise ValueError unless ``value`` is finite and >= 0 everywhere (named in the message)."""
    t = torch.as_tensor(value).detach()
    bad = ~torch.isfinite(t) | (t < 0)
    if bool(bad.any()):
        first = t[bad].flatten()[0].item() if t.ndim else t.item()
        raise ValueError(f"{name} must be finite and >= 0 everywhere, got {first}")


def soft_threshold(x: torch.Tensor, threshold: Param) -> torch.Tensor:
    """Soft-thresholding, the prox of ``threshold · ‖·‖₁``: ``sign(x) max(|x| − threshold, 0)``.

    Parameters
    ----------
    x : torch.Tensor
        Any shape.
    threshold : float or torch.Tensor
        Non-negative; a tensor must broadcast to ``x`` (per-coefficient thresholds).

    Returns
    -------
    torch.Tensor
        Same shape as the broadcast of ``x`` and ``threshold``.

    Examples
    --------
    >>> soft_threshold(torch.tensor([-2.0, 0.5, 3.0]), 1.0)
    tensor([-1.,  0.,  2.])
    """
    _check_nonnegative(threshold, "threshold")
    return torch.sign(x) * torch.clamp(torch.abs(x) - threshold, min=0)


def prox_squared_l2(x: torch.Tensor, t: Param) -> torch.Tensor:
    """Prox of ``t · ½‖·‖²``: ``x / (1 + t)``; ``t`` non-negative (scalar or broadcastable tensor)."""
    _check_nonnegative(t, "t")
    return x / (1 + t)


def prox_elastic_net(x: torch.Tensor, l1: Param, l2: Param) -> torch.Tensor:
    """Prox of ``l1 ‖·‖₁ + l2 · ½‖·‖²``: ``soft_threshold(x, l1) / (1 + l2)``.

    Parameters
    ----------
    x : torch.Tensor
        Any shape.
    l1, l2 : float or torch.Tensor
        Non-negative weights (already multiplied by the step), broadcastable to ``x``.
    """
    _check_nonnegative(l2, "l2")
    return soft_threshold(x, l1) / (1 + l2)


def project_box(x: torch.Tensor, lower: Param | None = None, upper: Param | None = None) -> torch.Tensor:
    """Euclidean projection onto ``{lower <= x <= upper}`` (the prox of its indicator).

    Parameters
    ----------
    x : torch.Tensor
        Any shape.
    lower, upper : float or torch.Tensor, optional
        Bounds broadcastable to ``x`` (``None`` for unbounded); ``lower <= upper`` everywhere,
        e.g. velocity bounds in m/s.
    """
    lo = None if lower is None else torch.as_tensor(lower, dtype=x.dtype, device=x.device)
    hi = None if upper is None else torch.as_tensor(upper, dtype=x.dtype, device=x.device)
    for name, b in (("lower", lo), ("upper", hi)):
        if b is not None and bool(torch.isnan(b).any()):
            raise ValueError(f"{name} bound contains NaN; bounds must be numbers or ±inf")
    if lo is not None and hi is not None and bool((lo > hi).any()):
        raise ValueError(
            f"lower bound exceeds upper bound (e.g. {lo.max().item()} > {hi.min().item()}); need lower <= upper"
        )
    return torch.clamp(x, min=lo, max=hi)


def project_nonnegative(x: torch.Tensor) -> torch.Tensor:
    """Projection onto the non-negative orthant: ``max(x, 0)``."""
    return torch.clamp(x, min=0)
