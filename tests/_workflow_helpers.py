"""Small problems shared by the workflow tests: a layered model and a coarse Marmousi crop."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from geolearn import set_threads

SPACING = (10.0, 10.0)
PROPAGATION = {"nbl": 20, "space_order": 4}


@pytest.fixture(scope="module", autouse=True)
def default_threads():
    """Run this module's wave kernels with geolearn's automatic thread choice, whatever an
    earlier module set with ``geolearn.set_threads`` (the automatic choice keeps small grids
    on one thread and leaves cores that other processes use to them: ``geolearn.threads``)."""
    set_threads(None)
    yield
    set_threads(None)


def layered(nx: int = 60, nz: int = 40) -> np.ndarray:
    """Three flat layers (1500, 2000, 2500 m/s), ``(nx, nz)``."""
    vp = np.full((nx, nz), 1500.0)
    vp[:, 15:] = 2000.0
    vp[:, 28:] = 2500.0
    return vp


def smooth(vp: np.ndarray, sigma: float = 4.0) -> np.ndarray:
    """Gaussian-smoothed copy (sigma in grid points), the usual migration/starting model."""
    return gaussian_filter(vp, sigma, mode="nearest")


def marmousi_crop(data_dir, nx: int = 60, nz: int = 30) -> tuple[np.ndarray, tuple[float, float]]:
    """A crop of Marmousi (x from 4500 m, z from 0 m) averaged over 4x4 cells to 30 m: ``(nx, nz)`` m/s."""
    from geolearn.io.marmousi import marmousi_crop as crop

    return crop(4500.0, nx, nz, 4, data_dir=data_dir)
