"""Mutes along straight lines in time and distance: top, direct-wave and turning-wave (early-arrival).

Every mute follows the line ``t_line = delay + distance / velocity`` with a cosine taper of ``taper``
seconds on the kept side, so no sharp edge adds high frequencies:

- ``kind="top"``: zero everything before the line; ``distance`` is the horizontal offset. The general
  first-break mute.
- ``kind="direct"``: the same with the straight-line source-receiver distance (x, y and elevation),
  the path the direct wave travels; with the water velocity and ``delay`` about one wavelet length
  it removes the direct wave and everything that arrives before it (refractions at long offsets).
- ``kind="turning"``: keep only what arrives before the line and zero what follows: the diving-wave
  window of early-arrival FWI.
"""

from __future__ import annotations

import numpy as np

from geolearn.errors import ConfigError, ShapeError
from geolearn.processing._checks import gather, positive, times
from geolearn.processing.geometry import ShotGeometry

__all__ = ["MUTE_KINDS", "mute"]

#: Mute kinds: zero before a line in offset (top) or in source-receiver distance (direct), or keep only
#: what arrives before the line (turning: the early arrivals for FWI).
MUTE_KINDS = ("top", "direct", "turning")


def _ramp(x: np.ndarray) -> np.ndarray:
    """0 for x <= 0, 1 for x >= 1, a half cosine between."""
    return 0.5 - 0.5 * np.cos(np.pi * np.clip(x, 0.0, 1.0))


def _weights(
    t: np.ndarray, distance: np.ndarray, velocity: float, *, kind: str, taper: float, delay: float
) -> np.ndarray:
    """Weights (n_receivers, nt) in 0..1 of a mute (see the module docstring); ``t`` in s, ``distance`` in m."""
    line = float(delay) + np.asarray(distance, dtype=np.float64)[:, None] / positive(
        velocity, "velocity", "m/s"
    )
    t = np.asarray(t, dtype=np.float64)[None, :]
    if kind in ("top", "direct"):
        return (t >= line).astype(float) if taper == 0 else _ramp((t - line + taper) / taper)
    return (t <= line).astype(float) if taper == 0 else _ramp((line + taper - t) / taper)


def mute(
    data: np.ndarray,
    dt: float,
    geometry: ShotGeometry,
    velocity: float,
    *,
    kind: str = "top",
    taper: float = 0.05,
    delay: float = 0.0,
    t0: float = 0.0,
) -> np.ndarray:
    """Zero one side of the line ``t = delay + distance / velocity`` in a shot gather.

    Parameters
    ----------
    data : numpy.ndarray, shape (n_receivers, nt)
    dt : float
        Sample interval, seconds.
    geometry : ShotGeometry
        Source and receiver positions (metres) of the gather.
    velocity : float
        Slope of the mute line, m/s.
    kind : {'top', 'direct', 'turning'}
        See the module docstring.
    taper : float
        Length of the cosine taper, seconds, on the kept side: 'top'/'direct' are zero before
        ``t_line - taper`` and untouched from ``t_line`` on; 'turning' is untouched up to ``t_line``
        and zero after ``t_line + taper``.
    delay : float
        Time of the line at zero distance, seconds (may be negative).
    t0 : float
        Time of the first sample, seconds.

    Returns
    -------
    numpy.ndarray of float64, shape (n_receivers, nt)
    """
    x = gather(data)
    if kind not in MUTE_KINDS:
        raise ConfigError(f"mute kind={kind!r} must be one of {MUTE_KINDS}")
    if isinstance(taper, bool) or not np.isfinite(taper) or taper < 0:
        raise ConfigError(f"mute taper={taper!r} must be a number of seconds >= 0")
    if geometry.n_receivers != x.shape[0]:
        raise ShapeError(f"geometry has {geometry.n_receivers} receivers, the gather {x.shape[0]} traces")
    distance = geometry.offsets() if kind == "top" else geometry.distances()
    t = times(x.shape[-1], dt, t0)
    return x * _weights(t, distance, velocity, kind=kind, taper=float(taper), delay=float(delay))
