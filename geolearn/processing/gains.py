"""Amplitude corrections: time-power gain, the 3D-to-2D transformation, trace normalisation and AGC.

Times are measured from the shot: sample ``k`` of a gather is at ``t0 + k * dt`` seconds.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import uniform_filter1d

from geolearn.errors import ConfigError
from geolearn.processing._checks import gather, positive, times
from geolearn.processing.filters import fractional_derivative

__all__ = ["agc", "correct_3d_to_2d", "normalize_traces", "time_power_gain"]


def time_power_gain(data: np.ndarray, dt: float, *, power: float = 2.0, t0: float = 0.0) -> np.ndarray:
    """Multiply every sample by ``t**power`` (t in seconds since the shot; negative times give 0).

    ``power=2`` roughly undoes spherical spreading plus attenuation in field data; ``power=1``
    spherical spreading alone.

    Parameters
    ----------
    data : numpy.ndarray, shape (n_receivers, nt)
    dt, t0 : float
        Sample interval and time of the first sample, seconds.
    power : float

    Returns
    -------
    numpy.ndarray of float64, shape (n_receivers, nt)
    """
    x = gather(data)
    if isinstance(power, bool) or not np.isfinite(power):
        raise ConfigError(f"power={power!r} must be a finite number")
    t = np.clip(times(x.shape[-1], dt, t0), 0.0, None)
    return x * np.where(t > 0, t, 0.0) ** float(power)


def correct_3d_to_2d(
    data: np.ndarray, dt: float, *, t0: float = 0.0, velocity: float | None = None, delay: float = 0.0
) -> np.ndarray:
    """Turn point-source (3D) records into the line-source (2D) records a 2D wave solver predicts.

    In the far field a 2D Green's function is the 3D one half-integrated in time and scaled by
    ``c * sqrt(2 pi t)`` (from the large-argument form of the Hankel function):
    ``G2(omega) = G3(omega) * c * sqrt(2 pi t) * (i omega)^(-1/2)``. So each trace is filtered with
    :func:`fractional_derivative` of order -1/2 (amplitude ``omega^(-1/2)``, phase -45 degrees) and
    multiplied by ``sqrt(t)``, ``t`` the travel time: the recorded time less the source wavelet's
    own ``delay`` (the time of its peak). The 2D-to-3D direction would be the half-derivative and
    ``1/sqrt(t)``.

    Parameters
    ----------
    data : numpy.ndarray, shape (n_receivers, nt)
        Point-source records, time last.
    dt, t0 : float
        Sample interval and time of the first sample, seconds.
    velocity : float, optional
        Velocity (m/s) of the medium the waves travelled through; when given the result is also
        scaled by ``velocity * sqrt(2 pi)`` so its amplitude matches a unit 2D line source. Without it
        the amplitudes are correct up to that constant (a wavelet estimate absorbs it).
    delay : float
        Time of the source wavelet's peak after the shot, seconds (0 for a zero-phase wavelet at
        the shot time); an error of ``e`` seconds scales an arrival at travel time ``t`` by
        ``sqrt(1 + e / t)``.

    Returns
    -------
    numpy.ndarray of float64, shape (n_receivers, nt)
    """
    x = gather(data)
    scale = 1.0 if velocity is None else positive(velocity, "velocity", "m/s") * np.sqrt(2 * np.pi)
    if isinstance(delay, bool) or not np.isfinite(delay):
        raise ConfigError(f"delay={delay!r} must be a finite number of seconds")
    t = np.clip(times(x.shape[-1], dt, t0) - float(delay), 0.0, None)
    return fractional_derivative(x, dt, -0.5) * (scale * np.sqrt(t))


def normalize_traces(data: np.ndarray, *, kind: str = "rms") -> np.ndarray:
    """Scale each trace to unit RMS (``kind="rms"``) or unit peak amplitude (``kind="max"``).

    Zero traces stay zero.

    Parameters
    ----------
    data : numpy.ndarray, shape (n_receivers, nt)
    kind : {'rms', 'max'}

    Returns
    -------
    numpy.ndarray of float64, shape (n_receivers, nt)
    """
    x = gather(data)
    if kind == "rms":
        norm = np.sqrt(np.mean(x**2, axis=-1))
    elif kind == "max":
        norm = np.abs(x).max(axis=-1)
    else:
        raise ConfigError(f"normalisation kind={kind!r} must be 'rms' or 'max'")
    return np.divide(x, norm[:, None], out=np.zeros_like(x), where=norm[:, None] > 0)


def agc(data: np.ndarray, dt: float, *, window: float = 0.5) -> np.ndarray:
    """Automatic gain control: divide each sample by the RMS amplitude in a centred time window.

    Parameters
    ----------
    data : numpy.ndarray, shape (n_receivers, nt)
    dt : float
        Sample interval, seconds.
    window : float
        Window length, seconds (at least one sample, at most the trace).

    Returns
    -------
    numpy.ndarray of float64, shape (n_receivers, nt)
        Unit RMS within every window where the trace is not silent; silent stretches (RMS below
        1e-7 of the gather's RMS) stay zero rather than amplifying round-off.
    """
    x = gather(data)
    length = round(positive(window, "window", "s") / positive(dt, "dt", "s"))
    if not 1 <= length <= x.shape[-1]:
        raise ConfigError(
            f"AGC window={window:g} s is {length} samples; it must span 1..{x.shape[-1]} samples of dt={dt:g} s"
        )
    rms = np.sqrt(uniform_filter1d(x**2, size=length, axis=-1, mode="nearest"))
    floor = 1e-7 * np.sqrt(np.mean(x**2))
    return np.divide(x, rms, out=np.zeros_like(x), where=rms > floor)
