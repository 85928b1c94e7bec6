"""The ``[velocity]`` section's model: read, crop, resample and smooth, in m/s on an ``(nx, nz)`` grid."""

from __future__ import annotations

import numpy as np
from scipy.interpolate import RegularGridInterpolator
from scipy.ndimage import gaussian_filter

from geolearn.errors import ConfigError
from geolearn.runs.sections import VelocityConfig

__all__ = ["load_velocity"]


def load_velocity(
    cfg: VelocityConfig, path: str, *, smoothing: bool = True
) -> tuple[np.ndarray, tuple, tuple]:
    """A velocity model as the ``[velocity]`` section describes it: read, crop, resample, smooth.

    Returns
    -------
    values : ndarray (nx, nz), m/s, float64
    spacing, origin : tuple of float, m
    """
    from geolearn.io import read_model

    if cfg.format == "npy":
        if cfg.spacing is None:
            raise ConfigError("velocity.spacing is required when velocity.format = 'npy'")
        values = np.load(path).astype(np.float64) * (1000.0 if cfg.units == "km/s" else 1.0)
        spacing = tuple(cfg.spacing)
    else:
        fmt = "raw" if cfg.format == "bin" else "segy"
        model = read_model(path, shape=cfg.shape, spacing=cfg.spacing, unit=cfg.units, file_format=fmt)
        values, spacing = model.values.astype(np.float64), tuple(model.spacing)
    origin = tuple(cfg.origin)
    if cfg.crop is not None:
        lo = [round((c - o) / h) for c, o, h in zip(cfg.crop[::2], origin, spacing)]
        hi = [round((c - o) / h) for c, o, h in zip(cfg.crop[1::2], origin, spacing)]
        if any(a < 0 or b >= n for a, b, n in zip(lo, hi, values.shape)):
            raise ConfigError(f"velocity.crop = {list(cfg.crop)} reaches outside the model (shape {values.shape}, "
                              f"spacing {spacing}, origin {origin})")  # fmt: skip
        values = values[tuple(slice(a, b + 1) for a, b in zip(lo, hi))]
        origin = tuple(o + a * h for o, a, h in zip(origin, lo, spacing))
    if cfg.resample is not None:
        axes = [np.arange(n) * h for n, h in zip(values.shape, spacing)]
        new = [np.arange(0.0, ax[-1] + 1e-9, cfg.resample) for ax in axes]
        grid = np.meshgrid(*new, indexing="ij")
        values = RegularGridInterpolator(axes, values)(np.stack(grid, -1))
        spacing = (float(cfg.resample),) * values.ndim
    if smoothing and cfg.smoothing > 0:
        values = gaussian_filter(values, [cfg.smoothing / h for h in spacing], mode="nearest")
    return values, spacing, origin
