"""Small problems shared by the workflow tests: a layered model and a coarse Marmousi crop."""

from __future__ import annotations

import os

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

SPACING = (10.0, 10.0)
PROPAGATION = {"nbl": 20, "space_order": 4}


@pytest.fixture(scope="module", autouse=True)
def single_thread_kernels():
    """Build this module's Devito kernels single-threaded: on a shared 2-core machine OpenMP
    spin-waiting made them ~30x slower than one thread (measured), and the tiny grids here
    gain nothing from threads. Devito reads OMP_NUM_THREADS when an operator is first run."""
    old = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = "1"
    yield
    if old is None:
        del os.environ["OMP_NUM_THREADS"]
    else:
        os.environ["OMP_NUM_THREADS"] = old


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
