"""Acquisition layouts: where sources and receivers sit, in metres (depth positive down)."""

from __future__ import annotations

import math

import numpy as np

from geolearn.errors import GeometryError

__all__ = ["surface_acquisition"]


def surface_acquisition(
    x_range: tuple[float, float],
    *,
    source_spacing: float,
    receiver_spacing: float,
    source_depth: float = 10.0,
    receiver_depth: float = 10.0,
) -> tuple[np.ndarray, np.ndarray]:
    """A 2D fixed-spread surface survey: sources and receivers evenly spaced along x.

    Parameters
    ----------
    x_range : (float, float)
        First and last x position in metres (both included when the spacing divides them).
    source_spacing, receiver_spacing : float
        Distances in metres, > 0.
    source_depth, receiver_depth : float
        Depths in metres, positive down.

    Returns
    -------
    sources : ndarray, shape (n_shots, 2)
    receivers : ndarray, shape (n_receivers, 2)
        ``(x, z)`` in metres; every shot records on all receivers.
    """
    for name, value in (("source_spacing", source_spacing), ("receiver_spacing", receiver_spacing)):
        if not value > 0:
            raise GeometryError(f"{name} must be > 0 m, got {value}")
    x0, x1 = float(x_range[0]), float(x_range[1])
    if not x1 >= x0:
        raise GeometryError(f"x_range must be (x_min, x_max) with x_min <= x_max, got {x_range}")

    def line(step: float, depth: float) -> np.ndarray:
        n = math.floor((x1 - x0) / step + 1e-9) + 1
        offset = 0.5 * ((x1 - x0) - (n - 1) * step)  # centre the line in the range
        xs = x0 + offset + step * np.arange(n)
        return np.column_stack([xs, np.full(n, float(depth))])

    return line(source_spacing, source_depth), line(receiver_spacing, receiver_depth)
