"""Source wavelets: Ricker, resampling to the modelling time step, spectral bandwidth."""

from __future__ import annotations

import numpy as np
import torch
from scipy.interpolate import CubicSpline

__all__ = ["max_frequency", "resample", "ricker"]


def ricker(
    f0: float, nt: int, dt: float, t0: float | None = None, *, dtype: torch.dtype | None = None
) -> torch.Tensor:
    """Ricker wavelet ``(1 - 2 (π f0 τ)²) exp(-(π f0 τ)²)`` with ``τ = t - t0``.

    Parameters
    ----------
    f0 : float
        Peak frequency in Hz.
    nt : int
        Number of samples.
    dt : float
        Sample interval in seconds.
    t0 : float, optional
        Time of the peak in seconds (default ``1/f0``, so the wavelet starts near zero).
    dtype : torch.dtype, optional
        Output dtype (default: torch default dtype).

    Returns
    -------
    torch.Tensor
        Shape ``(nt,)``, unit peak amplitude.
    """
    if not (f0 > 0 and dt > 0 and nt > 0):
        raise ValueError(f"ricker needs f0 > 0 Hz, dt > 0 s and nt > 0; got f0={f0}, dt={dt}, nt={nt}")
    t0 = 1.0 / f0 if t0 is None else t0
    arg = (np.pi * f0 * (np.arange(nt) * dt - t0)) ** 2
    return torch.as_tensor((1 - 2 * arg) * np.exp(-arg), dtype=dtype or torch.get_default_dtype())


def resample(wavelet: np.ndarray, dt_in: float, dt_out: float, nt_out: int) -> np.ndarray:
    """Resample wavelets (last axis, interval ``dt_in`` s) to ``nt_out`` samples at ``dt_out`` s.

    Cubic-spline interpolation; samples past the end of the input are zero.
    """
    wavelet = np.asarray(wavelet, dtype=np.float64)
    t_in = np.arange(wavelet.shape[-1]) * dt_in
    t_out = np.arange(nt_out) * dt_out
    out = CubicSpline(t_in, wavelet, axis=-1, extrapolate=False)(t_out)
    return np.nan_to_num(out, nan=0.0)


def max_frequency(wavelet: np.ndarray, dt: float, level: float = 0.05) -> float:
    """Highest frequency (Hz) where the amplitude spectrum exceeds ``level`` times its peak.

    ``wavelet`` is ``(nt,)`` or any stack ``(..., nt)``; the spectrum is the largest over the stack.
    """
    wavelet = np.asarray(wavelet, dtype=np.float64)
    wavelet = wavelet.reshape(-1, wavelet.shape[-1])
    spec = np.abs(np.fft.rfft(wavelet, n=4 * wavelet.shape[-1], axis=-1)).max(axis=0)
    freqs = np.fft.rfftfreq(4 * wavelet.shape[-1], dt)
    above = np.nonzero(spec >= level * spec.max())[0]
    return float(freqs[above[-1]]) if above.size else 0.0
