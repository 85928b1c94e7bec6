"""Migration backgrounds as a user would make them: the true model smoothed in slowness.

A geophysicist's migration velocity is a smooth version of the earth (from tomography or
velocity analysis), smoothed over a length that depends on who made it. Training a learned
inversion on one background teaches it that one; :func:`migration_backgrounds` gives several,
one per smoothing length, optionally with a smooth relative error (no velocity model is exact)
and with the water layer kept exactly as it is (its velocity and the sea floor are known).
Smoothing is Gaussian in slowness (``1/v``), which preserves vertical travel times, as
geophysicists smooth.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import numpy as np
from scipy.ndimage import gaussian_filter

from geolearn.errors import ConfigError, ModelError
from geolearn.learned_inversion.training_models.geology import water_rows

__all__ = ["migration_backgrounds", "smooth_slowness"]

logger = logging.getLogger("geolearn.learned_inversion.training_models.backgrounds")


def _check(velocity: np.ndarray, spacing: Sequence[float]) -> tuple[np.ndarray, tuple[float, float]]:
    v = np.asarray(velocity, dtype=np.float64)
    if v.ndim < 2 or not np.isfinite(v).all() or v.min() <= 0:
        raise ModelError(f"velocity must be (..., nx, nz) of finite positive m/s, got shape {v.shape}")
    h = tuple(float(s) for s in spacing)
    if len(h) != 2 or not all(s > 0 and math.isfinite(s) for s in h):
        raise ConfigError(f"spacing must be two positive (dx, dz) values in metres, got {tuple(spacing)}")
    return v, h  # type: ignore[return-value]


def smooth_slowness(
    velocity: np.ndarray, sigma_m: float, spacing: Sequence[float], *, water_depth: float | None = None
) -> np.ndarray:
    """Velocity whose slowness is Gaussian-smoothed over ``sigma_m`` metres along x and z.

    Parameters
    ----------
    velocity : ndarray, shape (..., nx, nz)
        m/s, depth last; leading axes are models, smoothed independently.
    sigma_m : float
        Standard deviation of the Gaussian, m (>= 0; 0 returns a copy).
    spacing : (dx, dz)
        m.
    water_depth : float, optional
        If given (m), rows with ``j · dz < water_depth`` keep their values exactly, and the
        rock below is smoothed as if it continued up to the surface (no water leaks into it).

    Returns
    -------
    ndarray, same shape, m/s, float64
    """
    v, (dx, dz) = _check(velocity, spacing)
    if not (sigma_m >= 0 and math.isfinite(sigma_m)):
        raise ConfigError(f"sigma_m must be a length >= 0 in metres, got {sigma_m}")
    n_water = water_rows(water_depth, dz)
    if n_water >= v.shape[-1]:
        raise ConfigError(f"water_depth {water_depth} m covers all {v.shape[-1]} rows of {dz:g} m")
    slowness = 1.0 / v
    if n_water:
        slowness[..., :n_water] = slowness[..., n_water : n_water + 1]
    sigma = (0.0,) * (v.ndim - 2) + (sigma_m / dx, sigma_m / dz)
    smooth = 1.0 / gaussian_filter(slowness, sigma, mode="nearest")
    smooth[..., :n_water] = v[..., :n_water]
    return smooth


def migration_backgrounds(
    truth: np.ndarray,
    spacing: Sequence[float],
    lengths_m: Sequence[float] = (50.0, 100.0, 200.0, 400.0),
    *,
    seed: int = 0,
    water_depth: float | None = None,
    velocity_error: float = 0.0,
) -> np.ndarray:
    """Backgrounds of ``truth`` smoothed over each of ``lengths_m``, stacked along a new axis.

    Parameters
    ----------
    truth : ndarray, shape (..., nx, nz)
        True velocity, m/s, depth last.
    spacing : (dx, dz)
        m.
    lengths_m : sequence of float
        Smoothing lengths (Gaussian standard deviations in slowness), m, each > 0.
    seed : int
        Seed of the velocity errors (same seed, same backgrounds).
    water_depth : float, optional
        Water rows (``j · dz < water_depth``, m) are kept exactly, error-free.
    velocity_error : float
        RMS of a smooth relative error multiplying each background (0.02: 2 %), correlated
        over the background's own smoothing length; 0 (default) for none.

    Returns
    -------
    ndarray, shape (..., len(lengths_m), nx, nz)
        m/s, float64; ``out[..., k, :, :]`` is smoothed over ``lengths_m[k]``.
    """
    v, (dx, dz) = _check(truth, spacing)
    lengths = [float(s) for s in lengths_m]
    if not lengths or not all(s > 0 and math.isfinite(s) for s in lengths):
        raise ConfigError(f"lengths_m must be one or more positive lengths in metres, got {tuple(lengths_m)}")
    if not 0.0 <= velocity_error < 0.5:
        raise ConfigError(f"velocity_error must be a relative RMS in [0, 0.5), got {velocity_error}")
    n_water = water_rows(water_depth, dz)
    rng = np.random.default_rng(seed)
    out = []
    for length in lengths:
        background = smooth_slowness(v, length, (dx, dz), water_depth=water_depth)
        if velocity_error > 0:
            sigma = (0.0,) * (v.ndim - 2) + (length / dx, length / dz)
            field = gaussian_filter(rng.standard_normal(v.shape), sigma, mode="reflect")
            axes = (-2, -1)
            field = field / np.sqrt(np.mean(field**2, axis=axes, keepdims=True))
            field[..., :n_water] = 0.0
            background = background * (1.0 + velocity_error * field)
        out.append(background)
    logger.debug("%d migration backgrounds over %s m", len(lengths), lengths)
    return np.stack(out, axis=-3)
