"""The Marmousi reference model (from the dataset manifests), cropped and block-averaged."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from geolearn.io.datasets import load_dataset
from geolearn.io.volume import read_model

__all__ = ["MARMOUSI_SPACING", "MARMOUSI_WATER_DEPTH", "marmousi_crop"]

_MARMOUSI_SHAPE = (1601, 401)
MARMOUSI_SPACING = 7.5  # m
MARMOUSI_WATER_DEPTH = 202.5  # m: Marmousi is 1500 m/s water in its first 27 rows of 7.5 m


def marmousi_crop(
    x0: float = 4500.0, nx: int = 100, nz: int = 50, factor: int = 3, *, data_dir: str | Path | None = None
) -> tuple[np.ndarray, tuple[float, float]]:
    """A crop of the 2D Marmousi model, block-averaged to a coarser grid.

    Parameters
    ----------
    x0 : float
        Left edge of the crop, m (the crop starts at the surface).
    nx, nz : int
        Size of the returned grid.
    factor : int
        Number of 7.5 m cells averaged per output cell along each axis (spacing ``7.5 * factor`` m).
    data_dir : path, optional
        Reference-data mirror (default ``GEOLEARN_DATA_DIR``).

    Returns
    -------
    velocity : ndarray, shape (nx, nz)
        m/s, float64, depth last.
    spacing : (float, float)
        Grid spacing, m.
    """
    dataset = load_dataset("marmousi", data_dir=data_dir)
    full = read_model(
        dataset.path("vp_marmousi_bi"), shape=_MARMOUSI_SHAPE, spacing=(MARMOUSI_SPACING,) * 2, unit="km/s"
    ).values.astype(np.float64)
    i0 = round(x0 / MARMOUSI_SPACING)
    if i0 < 0 or i0 + nx * factor > full.shape[0] or nz * factor > full.shape[1]:
        raise ValueError(
            f"crop x0={x0} m, {nx}x{nz} cells of {factor}x7.5 m exceeds the Marmousi model "
            f"({full.shape[0] * MARMOUSI_SPACING:g} m x {full.shape[1] * MARMOUSI_SPACING:g} m)"
        )
    crop = full[i0 : i0 + nx * factor, : nz * factor]
    return crop.reshape(nx, factor, nz, factor).mean(axis=(1, 3)), (MARMOUSI_SPACING * factor,) * 2
