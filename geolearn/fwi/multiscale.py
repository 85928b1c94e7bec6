"""Multiscale FWI: zero-phase low-pass filtering of data and wavelets, one band at a time.

The wave equation is linear and time-invariant in its source, so filtering the wavelet with
the same zero-phase filter as the observed data makes the synthetic data exactly as
band-limited as the observed data (up to the edges of the time window). Low frequencies first
make the misfit less prone to cycle skipping; each band starts from the previous band's model.
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy.signal import butter, sosfiltfilt

from geolearn.errors import ConfigError

__all__ = ["band_schedule", "lowpass"]


def lowpass(x: np.ndarray, dt: float, corner: float, *, order: int = 4) -> np.ndarray:
    """Zero-phase Butterworth low-pass along the last (time) axis.

    Parameters
    ----------
    x : ndarray, shape (..., nt)
        Traces or wavelets sampled every ``dt`` s.
    dt : float
        Sample interval in s.
    corner : float
        -6 dB corner frequency in Hz (forward-backward filtering squares the response);
        ``0`` returns ``x`` unfiltered (float64 copy).
    order : int
        Butterworth order of the one-way filter.

    Returns
    -------
    ndarray
        Same shape, float64.
    """
    x = np.asarray(x, dtype=np.float64)
    if corner == 0:
        return x.copy()
    nyquist = 0.5 / dt
    if not 0 < corner < nyquist:
        raise ConfigError(
            f"low-pass corner {corner} Hz must lie in (0, {nyquist:g}) Hz (Nyquist for dt = {dt} s)"
        )
    sos = butter(order, corner / nyquist, btype="low", output="sos")
    return np.ascontiguousarray(sosfiltfilt(sos, x, axis=-1))


def band_schedule(bands: tuple[float, ...] | list[float]) -> list[float]:
    """Corner frequencies of the bands to run, lowest first; ``[0.0]`` (unfiltered) when empty."""
    bands = [float(b) for b in bands]
    if any(b <= 0 for b in bands) or any(hi <= lo for lo, hi in itertools.pairwise(bands)):
        raise ConfigError(f"bands must be positive and strictly increasing (Hz), got {bands}")
    return bands or [0.0]
