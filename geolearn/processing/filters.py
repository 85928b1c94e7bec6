"""Frequency-domain trace filters: zero-phase bandpass, fractional derivatives, anti-aliased resampling.

Every function takes a shot gather ``(n_receivers, nt)`` (time last) and its sample interval ``dt`` in
seconds, and returns a new float64 array.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from scipy import signal

from geolearn.errors import ConfigError
from geolearn.processing._checks import gather, positive

__all__ = ["bandpass", "fractional_derivative", "resample"]


def bandpass(
    data: np.ndarray, dt: float, *, low: float | None = None, high: float | None = None, order: int = 4
) -> np.ndarray:
    """Zero-phase Butterworth bandpass (or low-/high-pass) filter along time.

    The filter runs forwards and backwards (``scipy.signal.sosfiltfilt``), so it shifts no arrival:
    its impulse response is symmetric and its amplitude response is the Butterworth one squared
    (``-6 dB`` at the corner frequencies, flat in the band).

    Parameters
    ----------
    data : numpy.ndarray, shape (n_receivers, nt)
        One shot gather, time last.
    dt : float
        Sample interval, seconds.
    low, high : float, optional
        Corner frequencies in Hz; ``low`` alone is a high-pass, ``high`` alone a low-pass. They must
        satisfy ``0 < low < high < 0.5 / dt``.
    order : int
        Butterworth order of each pass (1..10).

    Returns
    -------
    numpy.ndarray of float64, shape (n_receivers, nt)

    Raises
    ------
    ConfigError
        No corner given, corners out of order or at/above the Nyquist frequency, bad order.
    """
    x = gather(data)
    nyquist = 0.5 / positive(dt, "dt", "s")
    if low is None and high is None:
        raise ConfigError("bandpass needs low and/or high (Hz)")
    corners = [positive(f, name, "Hz") for f, name in ((low, "low"), (high, "high")) if f is not None]
    if corners[-1] >= nyquist or (len(corners) == 2 and corners[0] >= corners[1]):
        raise ConfigError(
            f"bandpass corners low={low}, high={high} Hz must satisfy 0 < low < high < Nyquist = {nyquist:g} Hz"
        )
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or not 1 <= order <= 10:
        raise ConfigError(f"bandpass order={order!r} must be an integer in 1..10")
    kind = "bandpass" if len(corners) == 2 else ("highpass" if low is not None else "lowpass")
    sos = signal.butter(
        int(order), corners if len(corners) == 2 else corners[0], kind, fs=2 * nyquist, output="sos"
    )
    return signal.sosfiltfilt(sos, x, axis=-1)


def fractional_derivative(data: np.ndarray, dt: float, order: float) -> np.ndarray:
    """Multiply each trace's spectrum by ``(i omega)^order``: a derivative for ``order > 0``, an integral below 0.

    ``order=0.5`` is the half-derivative, ``order=-0.5`` the half-integral (convolution with
    ``1/sqrt(pi t)``, causal) used by :func:`~geolearn.processing.correct_3d_to_2d`. Traces are
    zero-padded to twice their length so the filter does not wrap around; the zero frequency is
    removed (the operator is singular there for ``order < 0``).

    Parameters
    ----------
    data : numpy.ndarray, shape (n_receivers, nt)
    dt : float
        Sample interval, seconds (the result is in units of the data times ``s**(-order)``).
    order : float
        Real order of differentiation.

    Returns
    -------
    numpy.ndarray of float64, shape (n_receivers, nt)
    """
    x = gather(data)
    nt = x.shape[-1]
    n = 2 * nt
    omega = 2 * np.pi * np.fft.rfftfreq(n, positive(dt, "dt", "s"))
    response = np.zeros(omega.shape, dtype=complex)
    response[1:] = (1j * omega[1:]) ** float(order)  # principal branch: phase order * pi / 2
    return np.fft.irfft(np.fft.rfft(x, n=n, axis=-1) * response, n=n, axis=-1)[:, :nt]


def resample(data: np.ndarray, dt: float, new_dt: float) -> tuple[np.ndarray, float]:
    """Change the sample interval with a polyphase anti-alias filter (``scipy.signal.resample_poly``).

    Going to a coarser interval first removes what lies above the new Nyquist frequency
    ``0.5 / new_dt`` (a Kaiser-windowed FIR filter), so nothing aliases; a finer interval
    interpolates band-limited.

    Parameters
    ----------
    data : numpy.ndarray, shape (n_receivers, nt)
    dt, new_dt : float
        Current and wanted sample intervals, seconds; their ratio must be a fraction p/q with
        p, q <= 1000.

    Returns
    -------
    data : numpy.ndarray of float64, shape (n_receivers, ceil(nt * dt / new_dt))
        First sample at the same time as before.
    new_dt : float
    """
    x = gather(data)
    ratio = Fraction(positive(dt, "dt", "s") / positive(new_dt, "new_dt", "s")).limit_denominator(1000)
    if not np.isclose(float(ratio) * new_dt, dt, rtol=1e-9, atol=0):
        raise ConfigError(
            f"resampling from dt={dt:g} s to {new_dt:g} s needs a ratio p/q with p, q <= 1000; "
            f"choose new_dt as dt times such a fraction (e.g. {dt * 2:g} or {dt / 2:g} s)"
        )
    return signal.resample_poly(x, ratio.numerator, ratio.denominator, axis=-1), float(new_dt)
