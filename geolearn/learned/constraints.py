"""Constraint-by-parameterisation: maps from unconstrained raw parameters to admissible values.

Learned step sizes, thresholds and inertia weights are stored as raw, unconstrained tensors and
mapped through the functions below on every use, so any raw value an optimiser produces (or
hypothesis draws) yields an admissible parameter: no penalties, no clamping after the fact.
Each map has an inverse used to initialise raw parameters from desired values.
"""

from __future__ import annotations

import torch
import torch.nn.functional as nnf

__all__ = [
    "bounded",
    "bounded_inverse",
    "decreasing",
    "decreasing_inverse",
    "positive",
    "positive_inverse",
]

# sigmoid(40) rounds to exactly 1.0 in float32 and float64, so a value at the upper bound is
# representable (its gradient vanishes there, which is why defaults start just below bounds).
_SATURATED = 40.0


def bounded(raw: torch.Tensor, upper: float | torch.Tensor) -> torch.Tensor:
    """Map ``raw`` (any real) to ``(0, upper]``: ``upper * sigmoid(raw)``."""
    return upper * torch.sigmoid(raw)


def bounded_inverse(value: torch.Tensor, upper: float | torch.Tensor) -> torch.Tensor:
    """Raw parameter whose :func:`bounded` image is ``value``; ``value`` must lie in ``(0, upper]``."""
    ratio = torch.as_tensor(value / upper)
    if bool(((ratio <= 0) | (ratio > 1)).any()):
        raise ValueError(f"value {value} must lie in (0, {float(upper)}]")
    raw = torch.logit(ratio)
    return torch.where(ratio >= 1, torch.full_like(raw, _SATURATED), raw)


def positive(raw: torch.Tensor) -> torch.Tensor:
    """Map ``raw`` to ``[0, inf)`` with softplus (strictly positive except in underflow)."""
    return nnf.softplus(raw)


def positive_inverse(value: torch.Tensor) -> torch.Tensor:
    """Inverse softplus, ``log(expm1(value))`` written to stay accurate for large ``value``."""
    value = torch.as_tensor(value)
    if bool((value <= 0).any()):
        raise ValueError(f"value {value} must be positive")
    return value + torch.log(-torch.expm1(-value))


def decreasing(raw: torch.Tensor) -> torch.Tensor:
    """Map ``raw`` of shape ``(K, ...)`` to a sequence nonincreasing along dimension 0.

    ``out[0] = softplus(raw[0])`` and ``out[k] = out[k-1] * sigmoid(raw[k])``; the product is
    accumulated in log space so long sequences do not underflow early.
    """
    log_first = torch.log(nnf.softplus(raw[:1]))
    log_ratios = nnf.logsigmoid(raw[1:])
    return torch.exp(torch.cumsum(torch.cat([log_first, log_ratios]), dim=0))


def decreasing_inverse(values: torch.Tensor) -> torch.Tensor:
    """Raw parameters whose :func:`decreasing` image is ``values`` (positive, nonincreasing)."""
    values = torch.as_tensor(values)
    if bool((values <= 0).any()) or bool((values[1:] > values[:-1]).any()):
        raise ValueError(f"values {values} must be positive and nonincreasing")
    ratios = values[1:] / values[:-1]
    return torch.cat([positive_inverse(values[:1]), bounded_inverse(ratios, 1.0)])
