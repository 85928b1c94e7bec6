"""Quality, misfit and memory measures for comparing learned and classical inversion.

- :func:`psnr`, :func:`ssim` (Gaussian window, computed in torch): image / model quality against
  a reference, per sample for ``(B, nx, nz)`` batches.
- :func:`high_pass`, :func:`band_limited_psnr`: the band Born imaging can recover: image and
  reference minus their Gaussian smoothing over a length in metres, compared alike.
- :func:`data_misfit`: ``½‖d − d_obs‖²`` and the relative misfit.
- :func:`peak_memory`: peak bytes of the torch CPU allocator (torch profiler) and of the Python
  heap including NumPy (tracemalloc) while a function runs.

Cost is not measured here: every :class:`~geolearn.operators.LinearOperator` counts its own
applications (``J.applications``) and the wave-equation solves actually performed are in the
cost ledger (:func:`geolearn.ledger.count_solves`).
"""

from __future__ import annotations

import functools
import logging
import math
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy.ndimage import gaussian_filter1d
from torch.profiler import ProfilerActivity, profile

from geolearn.errors import ConfigError, ShapeError

__all__ = [
    "PeakMemory",
    "band_limited_psnr",
    "check_band",
    "data_misfit",
    "gaussian_window",
    "high_pass",
    "peak_memory",
    "psnr",
    "relative_misfit",
    "ssim",
    "ssim_map",
]

logger = logging.getLogger("geolearn.learned_inversion.metrics")


def _pair(estimate: torch.Tensor, reference: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, bool]:
    est, ref = torch.as_tensor(estimate), torch.as_tensor(reference)
    if est.shape != ref.shape:
        raise ShapeError(f"estimate {tuple(est.shape)} and reference {tuple(ref.shape)} differ in shape")
    if ref.ndim not in (2, 3):
        raise ShapeError(f"images must be (nx, nz) or (B, nx, nz), got {tuple(ref.shape)}")
    single = ref.ndim == 2
    est, ref = est.double(), ref.double()
    return (est[None], ref[None], True) if single else (est, ref, False)


def _data_range(ref: torch.Tensor, data_range: float | None) -> torch.Tensor:
    if data_range is not None:
        if not data_range > 0:
            raise ConfigError(f"data_range must be positive, got {data_range}")
        return torch.full((ref.shape[0],), float(data_range), dtype=ref.dtype)
    rng = ref.flatten(1).amax(1) - ref.flatten(1).amin(1)
    if bool((rng <= 0).any()):
        raise ConfigError("the reference is constant, so its data range is 0: pass data_range explicitly")
    return rng


def psnr(estimate: torch.Tensor, reference: torch.Tensor, data_range: float | None = None) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB, ``10 log10(R² / MSE)``.

    Parameters
    ----------
    estimate, reference : Tensor ``(nx, nz)`` or ``(B, nx, nz)``
        Any units (both the same).
    data_range : float, optional
        ``R``; default ``max − min`` of each reference.

    Returns
    -------
    Tensor
        float64, shape ``()`` or ``(B,)``; ``inf`` where the estimate is exact.
    """
    est, ref, single = _pair(estimate, reference)
    mse = (est - ref).pow(2).flatten(1).mean(1)
    out = 10 * torch.log10(_data_range(ref, data_range) ** 2 / mse)
    return out[0] if single else out


def high_pass(images: torch.Tensor, sigma_m: float, spacing: tuple[float, float]) -> torch.Tensor:
    """Images minus their Gaussian smoothing over ``sigma_m`` metres: the high-wavenumber band.

    Born imaging recovers the wavenumbers a migration background lacks; the long wavelengths of a
    perturbation ``v − v0`` (a smooth velocity error) are out of its reach. Passing an image and
    its reference through the same filter compares them on the band that can be recovered. The
    filter is linear and differentiable (a training loss can use it): the smoothing is applied as
    the matrices of SciPy's ``gaussian_filter1d`` (reflected edges) along x and along z.

    Parameters
    ----------
    images : Tensor ``(nx, nz)`` or ``(B, nx, nz)``
        Any units (e.g. m/s), depth last.
    sigma_m : float
        Standard deviation of the Gaussian, m (> 0), e.g. the background's smoothing length.
    spacing : (dx, dz)
        Grid spacing, m.

    Returns
    -------
    Tensor
        Same shape, float64: ``x − G_σ * x`` per image (a constant maps to 0); gradients flow to
        ``images``.
    """
    h = check_band(sigma_m, spacing)
    x = torch.as_tensor(images).double()
    if x.ndim not in (2, 3):
        raise ShapeError(f"images must be (nx, nz) or (B, nx, nz), got {tuple(x.shape)}")
    gx = _smoothing_matrix(x.shape[-2], sigma_m / h[0]).to(x.device)
    gz = _smoothing_matrix(x.shape[-1], sigma_m / h[1]).to(x.device)
    return x - gx @ x @ gz.T


def check_band(sigma_m: float, spacing: tuple[float, float]) -> tuple[float, float]:
    """Check a :func:`high_pass` length (m) and grid spacing ``(dx, dz)`` (m); return the spacing.

    Raises
    ------
    ConfigError
        A length or a spacing that is not positive and finite, or a spacing of other than 2 values.
    """
    h = tuple(float(s) for s in spacing)
    if len(h) != 2 or not all(s > 0 and math.isfinite(s) for s in h):
        raise ConfigError(f"spacing must be two positive (dx, dz) values in metres, got {tuple(spacing)}")
    if not (sigma_m > 0 and math.isfinite(sigma_m)):
        raise ConfigError(f"sigma_m must be a positive length in metres, got {sigma_m}")
    return h[0], h[1]


@functools.lru_cache(maxsize=16)
def _smoothing_matrix(n: int, sigma_cells: float) -> torch.Tensor:
    """``(n, n)`` float64 matrix of ``gaussian_filter1d(·, sigma_cells, mode="reflect")``."""
    return torch.as_tensor(gaussian_filter1d(np.eye(n), sigma_cells, axis=0, mode="reflect"))


def band_limited_psnr(
    estimate: torch.Tensor,
    reference: torch.Tensor,
    sigma_m: float,
    spacing: tuple[float, float],
    data_range: float | None = None,
) -> torch.Tensor:
    """PSNR in dB of :func:`high_pass` ``(estimate)`` against :func:`high_pass` ``(reference)``.

    Both go through the same filter (``sigma_m`` m, ``spacing`` m), so a smooth error the data
    cannot constrain counts in neither. ``data_range`` defaults to ``max − min`` of each filtered
    reference. Shapes and return as :func:`psnr`: ``()`` or ``(B,)``, float64.
    """
    est, ref = torch.as_tensor(estimate), torch.as_tensor(reference)
    if est.shape != ref.shape:
        raise ShapeError(f"estimate {tuple(est.shape)} and reference {tuple(ref.shape)} differ in shape")
    return psnr(high_pass(est, sigma_m, spacing), high_pass(ref, sigma_m, spacing), data_range)


def gaussian_window(size: int = 11, sigma: float = 1.5, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Normalised 2D Gaussian window ``(size, size)`` (sum 1)."""
    if size < 1 or size % 2 == 0 or not sigma > 0:
        raise ConfigError(
            f"window size must be odd and positive and sigma > 0, got size={size}, sigma={sigma}"
        )
    t = torch.arange(size, dtype=dtype) - (size - 1) / 2
    g = torch.exp(-(t**2) / (2 * sigma**2))
    w = torch.outer(g, g)
    return w / w.sum()


def ssim_map(
    estimate: torch.Tensor,
    reference: torch.Tensor,
    data_range: float | None = None,
    *,
    window: int = 11,
    sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
) -> torch.Tensor:
    """Local SSIM (Wang et al. 2004) over every full Gaussian window ('valid' positions).

    ``SSIM = (2μxμy + C1)(2σxy + C2) / ((μx² + μy² + C1)(σx² + σy² + C2))`` with weighted local
    means, variances and covariance from the Gaussian window, ``C1 = (k1 R)²``, ``C2 = (k2 R)²``.
    The window shrinks (keeping ``sigma``) to the largest odd size that fits the image.

    Returns
    -------
    Tensor ``(B, nx − w + 1, nz − w + 1)`` (float64; batch axis kept).
    """
    est, ref, _ = _pair(estimate, reference)
    size = min(window, *(n - (1 - n % 2) for n in ref.shape[1:]))
    w = gaussian_window(size, sigma)[None, None]
    R = _data_range(ref, data_range)[:, None, None]
    c1, c2 = (k1 * R) ** 2, (k2 * R) ** 2

    def local(t: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.conv2d(t[:, None], w)[:, 0]

    mx, my = local(est), local(ref)
    vx = local(est * est) - mx * mx
    vy = local(ref * ref) - my * my
    cxy = local(est * ref) - mx * my
    return ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))


def ssim(
    estimate: torch.Tensor,
    reference: torch.Tensor,
    data_range: float | None = None,
    *,
    window: int = 11,
    sigma: float = 1.5,
) -> torch.Tensor:
    """Mean structural similarity (see :func:`ssim_map`); shape ``()`` or ``(B,)``, float64, ≤ 1."""
    out = ssim_map(estimate, reference, data_range, window=window, sigma=sigma).flatten(1).mean(1)
    return out[0] if torch.as_tensor(reference).ndim == 2 else out


def data_misfit(predicted: torch.Tensor, observed: torch.Tensor) -> tuple[float, float]:
    """``(½‖d − d_obs‖², ‖d − d_obs‖ / ‖d_obs‖)`` over all samples, records ``(..., n_rec, nt)``."""
    if predicted.shape != observed.shape:
        raise ShapeError(
            f"predicted {tuple(predicted.shape)} and observed {tuple(observed.shape)} records differ in shape"
        )
    r = (predicted - observed).double()
    norm_obs = float(observed.double().norm())
    value = 0.5 * float(r.pow(2).sum())
    return value, math.sqrt(2 * value) / norm_obs if norm_obs > 0 else math.inf


def relative_misfit(predicted: torch.Tensor, observed: torch.Tensor) -> torch.Tensor:
    """Per-sample relative data misfit ``‖d_b − d_obs,b‖ / ‖d_obs,b‖``, shape ``(B,)`` (float64).

    ``predicted`` and ``observed`` are batches of records ``(B, ...)``; the zero prediction has
    misfit 1. :func:`data_misfit` gives the misfit pooled over the whole batch instead.
    """
    if predicted.shape != observed.shape or predicted.ndim < 2:
        raise ShapeError(
            f"predicted {tuple(predicted.shape)} and observed {tuple(observed.shape)} must be equal-shape batches (B, ...)"
        )
    norm_obs = observed.detach().double().flatten(1).norm(dim=1)
    if bool((norm_obs == 0).any()):
        raise ValueError("an observed record is identically zero; its relative misfit is undefined")
    return (predicted - observed).detach().double().flatten(1).norm(dim=1) / norm_obs


@dataclass
class PeakMemory:
    """Peak memory while a function ran, in bytes, above what was allocated before it started.

    Attributes
    ----------
    torch_bytes : int
        Peak of the torch CPU allocator (tensors created by torch ops), from the torch
        profiler's memory events in time order.
    python_bytes : int
        Peak of the Python heap (tracemalloc), which includes NumPy arrays such as the records
        and images Devito operators return.
    """

    torch_bytes: int
    python_bytes: int

    @property
    def total_bytes(self) -> int:
        """Upper bound on the combined peak (the two peaks may occur at different times)."""
        return self.torch_bytes + self.python_bytes


def peak_memory(fn: Callable[[], Any], *, python_heap: bool = True) -> tuple[Any, PeakMemory]:
    """Run ``fn()`` and measure its peak memory (see :class:`PeakMemory`); returns ``(result, peak)``.

    ``python_heap=False`` skips tracemalloc (``python_bytes`` is then 0): tracing every Python
    allocation slows Devito's Python-side argument processing several-fold.
    """
    if not python_heap:
        with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            result = fn()
        return result, PeakMemory(_torch_peak(prof), 0)
    started = tracemalloc.is_tracing()
    if not started:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base, _ = tracemalloc.get_traced_memory()
    try:
        with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            result = fn()
        _, peak_py = tracemalloc.get_traced_memory()
    finally:
        if not started:
            tracemalloc.stop()
    return result, PeakMemory(_torch_peak(prof), int(max(peak_py - base, 0)))


def _torch_peak(prof: profile) -> int:
    """Peak of the running sum of allocations minus frees, in time order."""
    current = peak = 0
    for e in sorted(prof.events(), key=lambda e: e.time_range.start):
        current += e.self_cpu_memory_usage
        peak = max(peak, current)
    return int(peak)
