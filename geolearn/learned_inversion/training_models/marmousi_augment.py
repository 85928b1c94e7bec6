"""Training crops of the Marmousi model from regions that evaluation never uses.

Marmousi (IFP; 12 km × 3 km at 7.5 m, :func:`geolearn.io.marmousi_crop`) is split along x into
*evaluation regions* (:data:`MARMOUSI_EVALUATION_REGIONS`), where benchmarks measure learned
inversion on a model it never saw, and *training regions* (the rest,
:func:`marmousi_training_regions`), from which :func:`marmousi_training_crops` draws augmented
crops: a random position and depth, horizontal and vertical stretch, a smooth random
displacement field (gentle warping of the layers and faults), left-right flips, resampled to the
requested grid with anti-alias smoothing in slowness. Every crop's footprint in Marmousi —
every 7.5 m column that any of its values depends on — is checked to lie outside the
evaluation regions (:func:`check_outside_evaluation`), so no evaluated value can leak into
training. :func:`marmousi_evaluation_crops` gives the crops to evaluate on, one per region.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter, map_coordinates

from geolearn.errors import ConfigError, ModelError
from geolearn.io.marmousi import MARMOUSI_SPACING, MARMOUSI_WATER_DEPTH, marmousi_crop
from geolearn.learned_inversion.training_models.generator import WATER_VELOCITY, check_grid
from geolearn.learned_inversion.training_models.geology import water_rows

__all__ = [
    "MARMOUSI_EVALUATION_REGIONS",
    "MARMOUSI_GRID",
    "MarmousiCrops",
    "check_outside_evaluation",
    "marmousi_evaluation_crops",
    "marmousi_training_crops",
    "marmousi_training_regions",
]

logger = logging.getLogger("geolearn.learned_inversion.training_models.marmousi_augment")

#: Grid of the Marmousi file, (nx, nz) points at 7.5 m: x from 0 to 12 000 m, z from 0 to 3000 m.
MARMOUSI_GRID = (1601, 401)
#: x-intervals of Marmousi (m, closed) that benchmarks evaluate on and training never reads:
#: the western fault blocks over the anticline and the reservoir (4.4–7.5 km) and the folded
#: eastern part above the deep high-velocity layers (8.9–12 km). Each holds a 300-cell crop at
#: 10 m with its resampling footprint (3.06 km). Training keeps 0–4.4 km (dipping layers, the
#: low-velocity lens, the deep unconformity) and 7.5–8.9 km (the eastern faults).
MARMOUSI_EVALUATION_REGIONS: tuple[tuple[float, float], ...] = ((4400.0, 7500.0), (8900.0, 12000.0))
_WIDTH = (MARMOUSI_GRID[0] - 1) * MARMOUSI_SPACING
_DEPTH = (MARMOUSI_GRID[1] - 1) * MARMOUSI_SPACING


def marmousi_training_regions() -> tuple[tuple[float, float], ...]:
    """x-intervals of Marmousi (m) outside every evaluation region, open at the evaluation edges."""
    regions, left = [], 0.0
    for lo, hi in sorted(MARMOUSI_EVALUATION_REGIONS):
        if lo > left:
            regions.append((left, lo))
        left = max(left, hi)
    if left < _WIDTH:
        regions.append((left, _WIDTH))
    return tuple(regions)


def check_outside_evaluation(x_min: float, x_max: float) -> None:
    """Raise :class:`~geolearn.errors.ConfigError` if ``[x_min, x_max]`` (m) meets an evaluation region."""
    for lo, hi in MARMOUSI_EVALUATION_REGIONS:
        if x_max >= lo and x_min <= hi:
            raise ConfigError(
                f"Marmousi x-interval [{x_min:g}, {x_max:g}] m overlaps the evaluation region [{lo:g}, {hi:g}] m; "
                f"training may only read {marmousi_training_regions()}"
            )


@dataclass(frozen=True, eq=False)
class MarmousiCrops:
    """Augmented Marmousi crops and where each came from.

    Attributes
    ----------
    velocity : ndarray, shape (n, nx, nz)
        m/s, float64, depth last.
    spacing : (float, float)
        Grid spacing of the crops, m.
    origin_m : ndarray, shape (n, 2)
        Marmousi coordinates (x, z), m, that the crop's first rock sample maps to before the
        flip and the displacement (``x = origin_x + x_crop / stretch_x + u_x``, likewise z).
    x_extent_m, z_extent_m : ndarray, shape (n, 2)
        Marmousi interval (m) of every 7.5 m sample each crop depends on (its footprint).
    flipped : ndarray of bool, shape (n,)
        Crops mirrored left-right.
    stretch : ndarray, shape (n, 2)
        Horizontal and vertical stretch factors (output length / Marmousi length).
    """

    velocity: np.ndarray
    spacing: tuple[float, float]
    origin_m: np.ndarray
    x_extent_m: np.ndarray
    z_extent_m: np.ndarray
    flipped: np.ndarray
    stretch: np.ndarray


def _reference(data_dir: str | Path | None, reference: np.ndarray | None) -> np.ndarray:
    if reference is None:
        return marmousi_crop(0.0, *MARMOUSI_GRID, 1, data_dir=data_dir)[0]
    full = np.asarray(reference, dtype=np.float64)
    if full.shape != MARMOUSI_GRID or not np.isfinite(full).all() or full.min() <= 0:
        raise ModelError(
            f"reference must be the full Marmousi model, shape {MARMOUSI_GRID} at {MARMOUSI_SPACING} m with "
            f"finite positive m/s, got shape {full.shape}"
        )
    return full


def _grid(shape: Sequence[int], spacing: Sequence[float], water_depth: float | None) -> tuple[int, int, int]:
    """``(nx, nz, water rows)`` of a valid crop grid."""
    (nx, nz), (_, dz) = check_grid(shape, spacing, min_points=2)
    n_water = water_rows(water_depth, dz)
    if n_water > nz - 2:
        raise ConfigError(f"water_depth {water_depth} m leaves fewer than 2 rock rows of the {nz} rows")
    return nx, nz, n_water


_Extent = tuple[tuple[float, float], tuple[float, float]]


def _resample(
    full: np.ndarray, x_src: np.ndarray, z_src: np.ndarray, cells: tuple[float, float]
) -> tuple[np.ndarray, _Extent]:
    """Sample ``full`` (7.5 m grid) at Marmousi coordinates ``(x_src, z_src)`` (m).

    ``cells`` are the output spacings in Marmousi cells along x and z; coarser than one cell,
    slowness is first smoothed by a Gaussian as wide as a block average (std ``cells / √12``).
    Returns the velocities (m/s) and the footprint: the x and z intervals (m) of every sample read.
    """
    sigma = [c / math.sqrt(12.0) if c > 1.0 else 0.0 for c in cells]
    radius = [int(4.0 * s + 0.5) + 1 for s in sigma]  # gaussian_filter's reach (truncate 4) + interpolation
    i_lo, i_hi = (
        math.floor(x_src.min() / MARMOUSI_SPACING) - radius[0],
        math.ceil(x_src.max() / MARMOUSI_SPACING) + radius[0],
    )
    j_lo = max(math.floor(z_src.min() / MARMOUSI_SPACING) - radius[1], 0)
    j_hi = min(math.ceil(z_src.max() / MARMOUSI_SPACING) + radius[1], full.shape[1] - 1)
    if i_lo < 0 or i_hi >= full.shape[0]:
        raise ConfigError(
            f"crop reads Marmousi x {i_lo * MARMOUSI_SPACING:g}..{i_hi * MARMOUSI_SPACING:g} m, outside 0..{_WIDTH:g} m"
        )
    window = 1.0 / full[i_lo : i_hi + 1, j_lo : j_hi + 1]
    window = gaussian_filter(window, sigma, mode="nearest")
    coords = np.stack([x_src / MARMOUSI_SPACING - i_lo, z_src / MARMOUSI_SPACING - j_lo])
    slowness = map_coordinates(window, coords, order=1, mode="nearest")
    extent = (
        (i_lo * MARMOUSI_SPACING, i_hi * MARMOUSI_SPACING),
        (j_lo * MARMOUSI_SPACING, j_hi * MARMOUSI_SPACING),
    )
    return 1.0 / slowness, extent


def _reach(cells: float) -> float:
    """Metres beyond the sampled points that :func:`_resample` reads at ``cells`` per output cell."""
    sigma = cells / math.sqrt(12.0) if cells > 1.0 else 0.0
    return (int(4.0 * sigma + 0.5) + 2) * MARMOUSI_SPACING


def _displacement(
    rng: np.random.Generator, X: np.ndarray, spacing: tuple[float, float], length_m: float, amplitude: float
) -> tuple[np.ndarray, np.ndarray]:
    """A smooth random displacement ``(ux, uz)`` (m) on the output grid, at most ``amplitude`` m.

    Its gradients stay below 0.25 so the warped grid keeps its order (no fold-over).
    """
    sigma = [length_m / h for h in spacing]
    fields = []
    for _ in range(2):
        field = gaussian_filter(rng.standard_normal(X.shape), sigma, mode="reflect")
        fields.append(field / max(float(np.abs(field).max()), 1e-12))
    steepest = max(float(np.abs(g).max()) for f in fields for g in np.gradient(f, *spacing))
    scale = min(amplitude, 0.25 / max(steepest, 1e-12))
    return fields[0] * scale, fields[1] * scale


def _origin(
    rng: np.random.Generator, intervals: Sequence[tuple[float, float]], lo: float, hi: float
) -> float:
    """Uniform origin ``o`` with ``[o + lo, o + hi]`` inside one of ``intervals`` (chosen by its slack)."""
    slack = np.array([max(b - a - (hi - lo), 0.0) for a, b in intervals])
    if slack.sum() <= 0:
        raise ConfigError(f"a footprint of {hi - lo:g} m fits in none of {tuple(intervals)} m")
    k = int(rng.choice(len(intervals), p=slack / slack.sum()))
    return intervals[k][0] - lo + float(rng.uniform(0.0, slack[k]))


def _check_range(name: str, value: Sequence[float]) -> tuple[float, float]:
    pair = tuple(float(v) for v in value)
    if len(pair) != 2 or not 0 < pair[0] <= pair[1] < math.inf:
        raise ConfigError(f"{name} must be a (low, high) pair with 0 < low <= high, got {value}")
    return pair  # type: ignore[return-value]


def marmousi_training_crops(
    n: int,
    shape: Sequence[int],
    spacing: Sequence[float],
    *,
    seed: int = 0,
    water_depth: float | None = None,
    horizontal_stretch: tuple[float, float] = (0.8, 1.25),
    vertical_stretch: tuple[float, float] = (0.8, 1.25),
    max_displacement_m: float = 40.0,
    displacement_length_m: float | None = None,
    flip_probability: float = 0.5,
    data_dir: str | Path | None = None,
    reference: np.ndarray | None = None,
) -> MarmousiCrops:
    """``n`` augmented Marmousi crops drawn only from :func:`marmousi_training_regions`.

    Parameters
    ----------
    n : int
        Number of crops.
    shape : (nx, nz)
        Grid of each crop, depth last.
    spacing : (dx, dz)
        Its spacing, m.
    seed : int
        Seed of the draws (same seed, same crops).
    water_depth : float, optional
        If given (m), every crop is Marmousi rock (from below its sea floor at 202.5 m) under an
        exact 1500 m/s water layer of this depth; by default a crop starts at any depth, the
        surface included (then with Marmousi's own water).
    horizontal_stretch, vertical_stretch : (float, float)
        Ranges of the stretch factors (crop length / Marmousi length), drawn per crop.
    max_displacement_m : float
        Largest amplitude of the smooth random displacement field, m (drawn in ``[0, max]``).
    displacement_length_m : float, optional
        Its correlation length, m; default a quarter of the crop's smaller side.
    flip_probability : float
        Probability of a left-right mirror.
    data_dir : path, optional
        Reference-data mirror (default ``GEOLEARN_DATA_DIR``).
    reference : ndarray, shape (1601, 401), optional
        The full Marmousi model at 7.5 m (m/s), to skip reading the file again.

    Returns
    -------
    MarmousiCrops
        ``velocity`` of shape ``(n, nx, nz)`` in m/s and each crop's footprint in Marmousi.
    """
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ConfigError(f"n must be a positive number of crops, got {n}")
    hs, vs = (
        _check_range("horizontal_stretch", horizontal_stretch),
        _check_range("vertical_stretch", vertical_stretch),
    )
    if not (0 <= max_displacement_m < math.inf and 0 <= flip_probability <= 1):
        raise ConfigError(
            f"max_displacement_m must be >= 0 m and flip_probability in [0, 1], got {max_displacement_m}, {flip_probability}"
        )
    if displacement_length_m is not None and not 0 < displacement_length_m < math.inf:
        raise ConfigError(
            f"displacement_length_m must be a positive length in m or None, got {displacement_length_m}"
        )
    nx, nz, n_water = _grid(shape, spacing, water_depth)
    dx, dz = (float(h) for h in spacing)
    X, Z = np.meshgrid(dx * np.arange(nx), dz * np.arange(nz - n_water), indexing="ij")
    width, height = float(X[-1, 0]), float(Z[0, -1])
    length = displacement_length_m or 0.25 * max(min(width, height), 2 * max(dx, dz))
    top = 0.0 if water_depth is None else MARMOUSI_WATER_DEPTH
    regions = [(a + MARMOUSI_SPACING, b - MARMOUSI_SPACING) for a, b in marmousi_training_regions()]
    widest = width / hs[0] + 2 * max_displacement_m + 2 * _reach(dx / hs[0] / MARMOUSI_SPACING)
    deepest = height / vs[0] + 2 * max_displacement_m + _reach(dz / vs[0] / MARMOUSI_SPACING)
    if widest > max(b - a for a, b in regions) or deepest > _DEPTH - top:
        raise ConfigError(
            f"a {width:g} m x {height:g} m crop at stretch {hs[0]:g} x {vs[0]:g} needs up to {widest:g} m x "
            f"{deepest:g} m of Marmousi; the training regions {marmousi_training_regions()} are at most "
            f"{max(b - a for a, b in regions):g} m wide and {_DEPTH - top:g} m deep: use a smaller grid or larger stretch"
        )
    full = _reference(data_dir, reference)
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(int(n)):
        sx, sz = float(rng.uniform(*hs)), float(rng.uniform(*vs))
        flip = bool(rng.uniform() < flip_probability)
        ux, uz = _displacement(rng, X, (dx, dz), length, float(rng.uniform(0.0, max_displacement_m)))
        xs = (width - X if flip else X) / sx + ux
        zs = Z / sz + uz
        cells = (dx / sx / MARMOUSI_SPACING, dz / sz / MARMOUSI_SPACING)
        reach_x = _reach(cells[0])
        reach_z = _reach(cells[1]) if water_depth is not None else 0.0  # keep Marmousi's water out
        x0 = _origin(rng, regions, float(xs.min()) - reach_x, float(xs.max()) + reach_x)
        z0 = _origin(rng, [(top, _DEPTH)], float(zs.min()) - reach_z, float(zs.max()))
        velocity, (x_extent, z_extent) = _resample(full, x0 + xs, z0 + zs, cells)
        check_outside_evaluation(*x_extent)
        if water_depth is not None and z_extent[0] < MARMOUSI_WATER_DEPTH:
            raise ModelError(f"crop read Marmousi's water (from z = {z_extent[0]:g} m) below a water layer")
        out.append((velocity, x_extent, z_extent, flip, (sx, sz), (x0, z0)))
    velocity = np.stack(
        [np.concatenate([np.full((nx, n_water), WATER_VELOCITY), v], axis=1) for v, *_ in out]
    )
    logger.debug("%d Marmousi training crops %s at %s m", n, (nx, nz), (dx, dz))
    return MarmousiCrops(
        velocity=velocity,
        spacing=(dx, dz),
        origin_m=np.array([o[5] for o in out]),
        x_extent_m=np.array([o[1] for o in out]),
        z_extent_m=np.array([o[2] for o in out]),
        flipped=np.array([o[3] for o in out]),
        stretch=np.array([o[4] for o in out]),
    )


def marmousi_evaluation_crops(
    shape: Sequence[int],
    spacing: Sequence[float],
    *,
    water_depth: float | None = None,
    data_dir: str | Path | None = None,
    reference: np.ndarray | None = None,
) -> np.ndarray:
    """One crop per evaluation region, centred in it, shape ``(n_regions, nx, nz)``, m/s.

    Unstretched and unwarped, resampled to ``spacing`` (m) like the training crops (slowness
    smoothed as a block average). From the surface by default (Marmousi's own 202.5 m of water);
    with ``water_depth`` (m), Marmousi's rock below its sea floor under exact 1500 m/s water.
    Raises :class:`~geolearn.errors.ConfigError` if a crop's footprint would leave its region.
    """
    nx, nz, n_water = _grid(shape, spacing, water_depth)
    dx, dz = (float(h) for h in spacing)
    X, Z = np.meshgrid(dx * np.arange(nx), dz * np.arange(nz - n_water), indexing="ij")
    cells = (dx / MARMOUSI_SPACING, dz / MARMOUSI_SPACING)
    top = 0.0 if water_depth is None else MARMOUSI_WATER_DEPTH + _reach(cells[1])
    if top + Z.max() > _DEPTH:
        raise ConfigError(f"a crop {Z.max():g} m deep from {top:g} m exceeds Marmousi's {_DEPTH:g} m")
    full = _reference(data_dir, reference)
    crops = []
    for lo, hi in MARMOUSI_EVALUATION_REGIONS:
        x0 = (lo + hi - X.max()) / 2
        velocity, (x_extent, _) = _resample(full, x0 + X, top + Z, cells)
        if x_extent[0] < lo or x_extent[1] > hi:
            raise ConfigError(
                f"a {X.max():g} m wide crop reads x {x_extent[0]:g}..{x_extent[1]:g} m, beyond the evaluation "
                f"region [{lo:g}, {hi:g}] m; use a narrower grid"
            )
        crops.append(np.concatenate([np.full((nx, n_water), WATER_VELOCITY), velocity], axis=1))
    return np.stack(crops)
