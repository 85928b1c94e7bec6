"""Making a migrated image readable: illumination, Laplacian, water-column mute, display gain.

A raw RTM image ``Jᵀ d`` is dominated by three things a geophysicist does not want to see:
low-wavenumber backscatter where source and receiver wavefields travel together (above strong
velocity contrasts, around the sea bed), the source's geometric spreading (bright near the
sources, dim at depth) and, in marine data, energy smeared through the water column. The
functions here remove each (each is switchable in :func:`geolearn.imaging.rtm` and the CLI):

- :func:`compensate_illumination` divides by the source illumination ``Σ_t (∂²u/∂t²)²``,
  stabilised by a fraction of its maximum;
- :func:`laplacian_filter` applies ``−Δ``, which multiplies each plane-wave component by
  ``|k|² = 4ω²cos²θ / v²`` and so suppresses the low-wavenumber (wide-angle, ``θ → 90°``)
  backscatter while keeping reflector polarity;
- :func:`water_mute` zeroes the cells above the sea bed, found from the velocity as the first
  cell in each column that is not at water velocity;
- :func:`display_gain` evens out amplitudes with depth for a figure only (the written image keeps
  true relative amplitudes).

Images are ``(nx, nz)`` (depth last), spacing and origin in metres, velocities in m/s.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
from scipy.ndimage import correlate1d

from geolearn.errors import ConfigError, ShapeError
from geolearn.processing import agc, time_power_gain

__all__ = [
    "DISPLAY_GAINS",
    "compensate_illumination",
    "display_gain",
    "laplacian_filter",
    "seabed_depth",
    "water_mute",
]

logger = logging.getLogger("geolearn.imaging.conditioning")

#: Display gains of :func:`display_gain`.
DISPLAY_GAINS = ("agc", "depth", "none")
#: Sea water is 1450..1560 m/s; a top row outside this range means the model has no water layer.
SEAWATER_VELOCITY = (1400.0, 1600.0)


def _image(image: np.ndarray, what: str = "image") -> np.ndarray:
    img = np.asarray(image, dtype=np.float64)
    if img.ndim < 2:
        raise ShapeError(f"{what} must be (nx, nz) or (nx, ny, nz), depth last; got shape {img.shape}")
    return img


def compensate_illumination(image: np.ndarray, illumination: np.ndarray, eps: float = 1e-3) -> np.ndarray:
    """``image / (illumination + eps · max(illumination))``: source-side spreading compensation.

    Parameters
    ----------
    image, illumination : numpy.ndarray, shape (nx, nz)
        Image and source illumination ``Σ_shots Σ_t (∂²u/∂t²)²`` on the same grid.
    eps : float
        Stabilisation, a fraction of the largest illumination (> 0): where the sources light the
        subsurface less than that, the image is scaled less.

    Returns
    -------
    numpy.ndarray of float64, same shape
    """
    img, illum = _image(image), _image(illumination, "illumination")
    if img.shape != illum.shape:
        raise ShapeError(f"illumination has shape {illum.shape}; the image is {img.shape}")
    if not (np.isfinite(eps) and eps > 0):
        raise ConfigError(f"illumination_eps must be > 0, got {eps}")
    return img / (illum + eps * illum.max())


def laplacian_filter(image: np.ndarray, spacing: Sequence[float]) -> np.ndarray:
    """``−Δ image`` by second-order differences (the edge value repeated outside the grid).

    The minus sign keeps the polarity of reflectors (``−Δ`` multiplies a plane-wave component by
    ``|k|² ≥ 0``). Repeating the edge value keeps the first and last rows from lighting up as a
    step to zero would.

    Parameters
    ----------
    image : numpy.ndarray, shape (nx, nz) or (nx, ny, nz)
    spacing : sequence of float
        Grid spacing per axis, m.

    Returns
    -------
    numpy.ndarray of float64, same shape, units of ``image`` per m².
    """
    img = _image(image)
    if len(spacing) != img.ndim or not all(h > 0 for h in spacing):
        raise ShapeError(
            f"spacing {tuple(spacing)} needs {img.ndim} positive values for an image of shape {img.shape}"
        )
    stencil = np.array([1.0, -2.0, 1.0])
    return -sum(correlate1d(img, stencil, axis=a, mode="nearest") / h**2 for a, h in enumerate(spacing))


def seabed_depth(
    velocity: np.ndarray,
    spacing: Sequence[float],
    origin: Sequence[float] | None = None,
    *,
    water_velocity: float | None = None,
    tolerance: float = 0.02,
) -> np.ndarray:
    """Depth of the sea bed under every column: the first cell not at water velocity.

    Parameters
    ----------
    velocity : numpy.ndarray, shape (nx, nz) or (nx, ny, nz)
        m/s, depth last.
    spacing, origin : sequence of float
        Grid, m (origin default 0).
    water_velocity : float, optional
        m/s; default the median of the top row when it lies in 1400..1600 m/s (sea water), else
        the model has no water layer and the sea bed is the top of the grid.
    tolerance : float
        Relative departure from ``water_velocity`` that ends the water column.

    Returns
    -------
    numpy.ndarray of float64, shape velocity.shape[:-1]
        Depth of the first non-water cell of each column, m (the last depth + dz for a column of
        water only).
    """
    v = _image(velocity, "velocity")
    origin = np.zeros(v.ndim) if origin is None else np.asarray(origin, dtype=np.float64)
    if not 0 < tolerance < 1:
        raise ConfigError(f"tolerance must be in (0, 1), got {tolerance}")
    if water_velocity is None:
        top = float(np.median(v[..., 0]))
        if not SEAWATER_VELOCITY[0] <= top <= SEAWATER_VELOCITY[1]:
            logger.info("top of the model at %.0f m/s is not sea water: no water column", top)
            return np.full(v.shape[:-1], float(origin[-1]))
        water_velocity = top
    if not water_velocity > 0:
        raise ConfigError(f"water_velocity must be > 0 m/s, got {water_velocity}")
    water = np.abs(v - water_velocity) <= tolerance * water_velocity
    first_rock = np.where(water.all(axis=-1), v.shape[-1], np.argmin(water, axis=-1))
    return origin[-1] + spacing[-1] * first_rock


def water_mute(
    image: np.ndarray,
    velocity: np.ndarray,
    spacing: Sequence[float],
    origin: Sequence[float] | None = None,
    *,
    water_velocity: float | None = None,
    tolerance: float = 0.02,
    taper: float | None = None,
) -> np.ndarray:
    """Zero the image in the water column, above the sea bed that the velocity shows.

    Parameters
    ----------
    image : numpy.ndarray, shape (nx, nz)
    velocity : numpy.ndarray, same shape
        Migration velocity, m/s.
    spacing, origin : sequence of float
        Grid, m.
    water_velocity, tolerance
        See :func:`seabed_depth`.
    taper : float, optional
        Cosine ramp (m) from 0 at ``seabed - dz - taper`` to 1 at ``seabed - dz``, so that the
        sea-bed reflector itself (which straddles the interface) is kept; default one cell.

    Returns
    -------
    numpy.ndarray of float64, same shape
    """
    img = _image(image)
    if np.shape(velocity) != img.shape:
        raise ShapeError(f"velocity has shape {np.shape(velocity)}; the image is {img.shape}")
    dz = float(spacing[-1])
    taper = dz if taper is None else float(taper)
    if not taper >= 0:
        raise ConfigError(f"taper must be >= 0 m, got {taper}")
    seabed = seabed_depth(velocity, spacing, origin, water_velocity=water_velocity, tolerance=tolerance)
    z0 = 0.0 if origin is None else float(origin[-1])
    depth = z0 + dz * np.arange(img.shape[-1])
    top = seabed[..., None] - dz - taper  # weight 0 above, 1 from seabed - dz down
    ramp = np.clip((depth - top) / taper, 0.0, 1.0) if taper > 0 else (depth >= top + taper).astype(float)
    return img * (0.5 - 0.5 * np.cos(np.pi * ramp))


def display_gain(
    image: np.ndarray, spacing: Sequence[float], origin: Sequence[float] | None = None, *,
    kind: str = "agc", window: float | None = None, power: float = 1.0,
) -> np.ndarray:  # fmt: skip
    """An image with amplitudes evened out with depth, for display only.

    Parameters
    ----------
    image : numpy.ndarray, shape (nx, nz)
    spacing, origin : sequence of float
        Grid, m.
    kind : {'agc', 'depth', 'none'}
        ``'agc'``: divide by the RMS in a sliding depth window (:func:`geolearn.processing.agc`);
        ``'depth'``: multiply by ``depth**power``; ``'none'``: unchanged.
    window : float, optional
        AGC window, m (default 40 % of the depth range, at least three cells).
    power : float
        Exponent of the depth gain.

    Returns
    -------
    numpy.ndarray of float64, same shape
    """
    img = _image(image)
    if kind not in DISPLAY_GAINS:
        raise ConfigError(f"display gain {kind!r} is not one of {DISPLAY_GAINS}")
    dz = float(spacing[-1])
    flat = img.reshape(-1, img.shape[-1])
    if kind == "agc":
        window = max(3 * dz, 0.4 * dz * img.shape[-1]) if window is None else window
        if not (np.isfinite(window) and dz <= window <= dz * img.shape[-1]):
            raise ConfigError(f"AGC window={window!r} m must span 1..{img.shape[-1]} cells of {dz:g} m")
        flat = agc(flat, dz, window=window)
    elif kind == "depth":
        flat = time_power_gain(flat, dz, power=power, t0=0.0 if origin is None else float(origin[-1]))
    return flat.reshape(img.shape)
