"""Gradient masking and preconditioning for FWI: water layer, source illumination.

Both act as a fixed diagonal ``M`` (``(nx, nz)``, values in [0, 1]) applied to the gradient
(``M g``), equivalently the initial inverse Hessian of L-BFGS. A zero entry freezes the model
there (the water layer, whose velocity is known).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from geolearn.errors import ConfigError

__all__ = ["PRECONDITIONERS", "gradient_weights", "illumination_weights", "water_mask"]

#: Gradient preconditioners by name: none, or division by the source illumination.
PRECONDITIONERS = ("none", "illumination")


def water_mask(shape: Sequence[int], spacing: Sequence[float], origin: Sequence[float], water_depth: float,
               *, taper: int = 3) -> np.ndarray:  # fmt: skip
    """``(nx, nz)`` weights: 0 down to ``water_depth`` (m), then a ``taper``-point cosine ramp to 1.

    ``water_depth = 0`` gives all ones (no mask).
    """
    if water_depth < 0:
        raise ConfigError(f"water_depth must be >= 0 m, got {water_depth}")
    if water_depth == 0:
        return np.ones(tuple(shape))
    z = origin[-1] + spacing[-1] * np.arange(shape[-1])
    k = np.clip((z - water_depth) / (spacing[-1] * max(taper, 1)), 0.0, 1.0)
    ramp = 0.5 - 0.5 * np.cos(np.pi * k)
    return np.broadcast_to(ramp, tuple(shape)).copy()


def illumination_weights(illumination: np.ndarray, eps: float = 1e-3) -> np.ndarray:
    """``1 / (illum + eps max illum)`` normalised to a maximum of 1: boosts poorly lit depths."""
    if not eps > 0:
        raise ConfigError(f"illumination eps must be > 0, got {eps}")
    w = 1.0 / (illumination + eps * illumination.max())
    return w / w.max()


def gradient_weights(
    mask: np.ndarray, illumination: np.ndarray | None, kind: str, eps: float = 1e-3
) -> np.ndarray:
    """The diagonal ``M``: the water mask times the illumination weights (``kind="illumination"``)."""
    if kind not in PRECONDITIONERS:
        raise ConfigError(f"precondition must be one of {PRECONDITIONERS}, got {kind!r}")
    if kind == "none" or illumination is None:
        return mask
    w = mask * illumination_weights(illumination, eps)
    return w / w.max()
