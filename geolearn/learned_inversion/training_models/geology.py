"""Seeded geological velocity models for training learned inversion that has to generalise.

:func:`geological_model` draws one ``(nx, nz)`` velocity model (m/s, depth last) on a given grid;
:func:`geological_models` stacks ``n`` of them; :func:`draw_geology` returns the same model with a
record of its structures (masks, faults, paleo-depth) for plots and tests.

A model is built kinematically (see :mod:`geolearn.learned_inversion.training_models.geology_structures`): layers
are deposited flat, then tilted, folded (more at depth), faulted (normal and reverse), eroded
(an angular unconformity, with younger layers on top), dragged up over salt; every point of the
present section is mapped back to its depositional depth, which picks its layer. The velocity is

    v = trend(z) + contrast(layer)

with a compaction trend ``trend(z) = v_top + g · z`` (``z`` below the sea floor, ``g`` in 1/s) and
layer contrasts (m/s) that are correlated from layer to layer; channel fills, thin-bed packages
(beds of one to a few cells, below the seismic wavelength) and salt (homogeneous, 4400–4800 m/s)
replace the layer contrast where they occur. Sediment velocities are clipped to
``velocity_range``; an optional water layer of exactly 1500 m/s sits on top.

Structure kinds (:data:`GEOLOGY_KINDS`): ``"folds"``, ``"faults"``, ``"thin_beds"``,
``"channels"``, ``"salt"``, ``"unconformity"``. Every model has tilted layers with a compaction
trend; ``kinds`` adds structures, either all of a list or each with its own probability.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from geolearn.errors import ConfigError
from geolearn.learned_inversion.training_models.generator import WATER_VELOCITY, check_grid
from geolearn.learned_inversion.training_models.geology_history import draw_history
from geolearn.learned_inversion.training_models.geology_layers import sediment_contrast
from geolearn.learned_inversion.training_models.geology_structures import (
    Channel,
    Fault,
    SaltBody,
    Unconformity,
    draw_channel,
)

__all__ = [
    "DEFAULT_KIND_PROBABILITIES",
    "GEOLOGY_KINDS",
    "GeologicalModel",
    "GeologyOptions",
    "draw_geology",
    "geological_model",
    "geological_models",
    "water_rows",
]

logger = logging.getLogger("geolearn.learned_inversion.training_models.geology")

GEOLOGY_KINDS = ("folds", "faults", "thin_beds", "channels", "salt", "unconformity")
#: Probability of each structure kind in a model when ``kinds`` is not given.
DEFAULT_KIND_PROBABILITIES: Mapping[str, float] = {
    "folds": 0.6,
    "faults": 0.6,
    "thin_beds": 0.5,
    "channels": 0.4,
    "salt": 0.25,
    "unconformity": 0.4,
}


def _pair(name: str, value: Sequence[float], *, low: float = 0.0) -> tuple[float, float]:
    pair = tuple(float(v) for v in value)
    if len(pair) != 2 or not (low <= pair[0] <= pair[1] and math.isfinite(pair[1])):
        raise ConfigError(f"{name} must be a (low, high) pair with {low:g} <= low <= high, got {value}")
    return pair  # type: ignore[return-value]


@dataclass(frozen=True)
class GeologyOptions:
    """Ranges the generator draws each model's parameters from (all ``(low, high)``, SI units).

    Attributes
    ----------
    salt_velocity : (float, float)
        Salt velocity, m/s; must lie inside the model's ``velocity_range`` when salt is drawn.
    max_dip_deg : float
        Largest regional dip, degrees (folds add their own flank dips up to this, at least 10°).
    layer_thickness_m : (float, float)
        Mean layer thickness of a model, m (thicknesses are gamma-distributed around it).
    layer_contrast : (float, float)
        Standard deviation of the layer velocities about the trend, m/s.
    compaction_gradient : (float, float)
        Velocity increase with depth below the sea floor, (m/s)/m = 1/s.
    thin_bed_m : (float, float) or None
        Thickness of each thin bed, m; default one to three vertical cells. Below the wavelength.
    thin_bed_contrast : (float, float)
        Velocity difference between alternating thin beds, m/s.
    fault_count, channel_count : (int, int)
        Number of faults / channels of a model that has them.
    throw_m : (float, float) or None
        Vertical fault throw, m; default from two cells (or 3 % of the section) to 15 % of it.
    channel_contrast : (float, float)
        |fill velocity − trend| of a channel, m/s (the sign is drawn: sand or shale fill).
    """

    salt_velocity: tuple[float, float] = (4400.0, 4800.0)
    max_dip_deg: float = 20.0
    layer_thickness_m: tuple[float, float] = (30.0, 150.0)
    layer_contrast: tuple[float, float] = (80.0, 350.0)
    compaction_gradient: tuple[float, float] = (0.3, 1.0)
    thin_bed_m: tuple[float, float] | None = None
    thin_bed_contrast: tuple[float, float] = (150.0, 400.0)
    fault_count: tuple[int, int] = (1, 4)
    throw_m: tuple[float, float] | None = None
    channel_count: tuple[int, int] = (1, 3)
    channel_contrast: tuple[float, float] = (150.0, 500.0)

    def __post_init__(self) -> None:
        for name in ("salt_velocity", "layer_thickness_m", "layer_contrast", "compaction_gradient",
                     "thin_bed_contrast", "channel_contrast", "thin_bed_m", "throw_m"):  # fmt: skip
            if getattr(self, name) is not None:
                object.__setattr__(self, name, _pair(name, getattr(self, name)))
        for name in ("fault_count", "channel_count"):
            count = getattr(self, name)
            if len(count) != 2 or not 1 <= int(count[0]) <= int(count[1]):
                raise ConfigError(f"{name} must be (low, high) integers with 1 <= low <= high, got {count}")
            object.__setattr__(self, name, (int(count[0]), int(count[1])))
        if not 0.0 <= self.max_dip_deg < 60.0:
            raise ConfigError(f"max_dip_deg must lie in [0, 60) degrees, got {self.max_dip_deg}")
        if self.layer_thickness_m[0] <= 0:
            raise ConfigError(f"layer_thickness_m must be positive metres, got {self.layer_thickness_m}")


@dataclass(frozen=True, eq=False)
class GeologicalModel:
    """One generated model and the structures it contains. Arrays have shape ``(nx, nz)``.

    Attributes
    ----------
    velocity : ndarray
        P-wave velocity, m/s, float64, depth last.
    spacing : (float, float)
        Grid spacing ``(dx, dz)``, m.
    kinds : tuple of str
        Structure kinds this model contains (a subset of :data:`GEOLOGY_KINDS`).
    water_rows : int
        Number of top rows that are water (exactly 1500 m/s).
    trend : ndarray
        Compaction trend, m/s (water rows: 1500).
    paleo_depth : ndarray
        Depositional depth of each point, m (a relative geologic time); NaN in the water. The
        sequence below an unconformity has its own paleo-depths (``masks["below_unconformity"]``).
    masks : dict of str to ndarray of bool
        ``"water"``, ``"salt"``, ``"channel"``, ``"thin_beds"``, ``"below_unconformity"``.
    faults : tuple of Fault
        Newest first; positions are in the coordinates of each fault's time (m below the sea floor).
    channels : tuple of Channel
    salt : SaltBody or None
    unconformity : Unconformity or None
    thin_bed_thicknesses_m : tuple of float
        Thickness of every bed of the thin-bed package (paleo-depth), m; empty without one.
    """

    velocity: np.ndarray
    spacing: tuple[float, float]
    kinds: tuple[str, ...]
    water_rows: int
    trend: np.ndarray
    paleo_depth: np.ndarray
    masks: dict[str, np.ndarray]
    faults: tuple[Fault, ...]
    channels: tuple[Channel, ...]
    salt: SaltBody | None
    unconformity: Unconformity | None
    thin_bed_thicknesses_m: tuple[float, ...]


def water_rows(water_depth: float | None, dz: float) -> int:
    """Number of grid rows ``j`` with depth ``j · dz < water_depth`` (0 for ``None`` or 0 m)."""
    if water_depth is None:
        return 0
    if not (water_depth >= 0 and math.isfinite(water_depth)):
        raise ConfigError(f"water_depth must be a depth >= 0 in metres or None, got {water_depth}")
    return math.ceil(water_depth / dz - 1e-9)


def _draw_kinds(rng: np.random.Generator, kinds: Sequence[str] | Mapping[str, float]) -> tuple[str, ...]:
    names = tuple(kinds.keys()) if isinstance(kinds, Mapping) else tuple(kinds)
    unknown = [k for k in names if k not in GEOLOGY_KINDS]
    if isinstance(kinds, str) or unknown:
        raise ConfigError(f"kinds must name structures from {GEOLOGY_KINDS}, got {kinds!r}")
    if not isinstance(kinds, Mapping):
        return tuple(k for k in GEOLOGY_KINDS if k in names)
    bad = {k: p for k, p in kinds.items() if not 0.0 <= float(p) <= 1.0}
    if bad:
        raise ConfigError(f"kind probabilities must lie in [0, 1], got {bad}")
    draws = rng.uniform(size=len(GEOLOGY_KINDS))  # one draw per kind, so adding a kind shifts nothing
    return tuple(k for k, u in zip(GEOLOGY_KINDS, draws) if u < float(kinds.get(k, 0.0)))


def _channel_fill(
    rng: np.random.Generator,
    x_dep: np.ndarray,
    paleo: np.ndarray,
    below: np.ndarray,
    size: tuple[float, float],
    spacing: tuple[float, float],
    opts: GeologyOptions,
) -> tuple[np.ndarray, np.ndarray, tuple[Channel, ...]]:
    """Channel-fill mask, fill contrast (m/s, where masked) and the channels drawn."""
    (width, height), (dx, dz) = size, spacing
    mask = np.zeros(paleo.shape, dtype=bool)
    fill = np.zeros(paleo.shape)
    channels = []
    sequences = [s for s in (~below, below) if s.any()]
    for _ in range(int(rng.integers(opts.channel_count[0], opts.channel_count[1] + 1))):
        sel = sequences[int(rng.integers(len(sequences)))]
        level = float(np.quantile(paleo[sel], rng.uniform(0.15, 0.7)))
        depth = float(rng.uniform(max(3 * dz, 0.03 * height), max(4 * dz, 0.1 * height)))
        map_width = float(rng.uniform(max(6 * dx, 0.05 * width), max(8 * dx, 0.15 * width)))
        channel = draw_channel(rng, width, level, depth, map_width, opts.channel_contrast)
        inside = sel & channel.mask(x_dep, paleo)
        mask |= inside
        fill[inside] = channel.fill_contrast
        channels.append(channel)
    return mask, fill, tuple(channels)


def draw_geology(
    shape: Sequence[int],
    spacing: Sequence[float],
    *,
    seed: int | np.random.SeedSequence,
    water_depth: float | None = None,
    velocity_range: tuple[float, float] = (1500.0, 4800.0),
    kinds: Sequence[str] | Mapping[str, float] = DEFAULT_KIND_PROBABILITIES,
    options: GeologyOptions | None = None,
) -> GeologicalModel:
    """Draw one geological model and the record of its structures (see the module docstring).

    Parameters
    ----------
    shape : (nx, nz)
        Grid points, depth last (each at least 8).
    spacing : (dx, dz)
        Grid spacing, m.
    seed : int or numpy.random.SeedSequence
        Same seed, same model.
    water_depth : float, optional
        Depth of a water layer of exactly 1500 m/s on top, m; rows with ``j · dz < water_depth``
        are water (see :func:`water_rows`). ``None`` (default) for none.
    velocity_range : (float, float)
        Every velocity of the model lies in it, m/s (sediments are clipped to it); it must hold
        1500 m/s when there is water and ``options.salt_velocity`` when salt may be drawn.
    kinds : sequence of str or mapping of str to float
        Structures to add (from :data:`GEOLOGY_KINDS`): a sequence puts all of them in the model,
        a mapping gives each kind's probability (default :data:`DEFAULT_KIND_PROBABILITIES`).
    options : GeologyOptions, optional
        Parameter ranges (dips, thicknesses, contrasts, counts); default ``GeologyOptions()``.

    Returns
    -------
    GeologicalModel
        ``velocity`` has shape ``(nx, nz)``, m/s, float64.
    """
    (nx, nz), (dx, dz) = check_grid(shape, spacing, min_points=8)
    opts = GeologyOptions() if options is None else options
    vmin, vmax = _check_velocities(velocity_range, water_depth, kinds, opts, dz)
    n_water = water_rows(water_depth, dz)
    if n_water > nz - 8:
        raise ConfigError(
            f"water_depth {water_depth} m leaves fewer than 8 rock rows of the {nz} rows of {dz:g} m"
        )
    rng = np.random.default_rng(seed)
    drawn = _draw_kinds(rng, kinds)
    x, z = dx * np.arange(nx), dz * np.arange(nz - n_water)
    width, height = float(x[-1]), float(z[-1])
    throw = opts.throw_m or (max(2 * dz, 0.03 * height), max(3 * dz, 0.15 * height))
    history = draw_history(rng, x, height, dz, drawn, max_dip_deg=opts.max_dip_deg,
                           fault_count=opts.fault_count, throw_m=throw, salt_velocity=opts.salt_velocity)  # fmt: skip
    X, Z = np.meshgrid(x, z, indexing="ij")
    x_dep, paleo, below = history.restore(X, Z)
    v_top = vmin + rng.uniform(0.05, 0.25) * (vmax - vmin)
    gradient = min(rng.uniform(*opts.compaction_gradient), (vmin + 0.8 * (vmax - vmin) - v_top) / height)
    trend = v_top + gradient * Z
    thin_bed_m = (opts.thin_bed_m or (dz, 3.0 * dz)) if "thin_beds" in drawn else None
    contrast, thin, beds = sediment_contrast(rng, paleo, below, thickness_m=opts.layer_thickness_m,
                                             contrast=opts.layer_contrast, thin_bed_m=thin_bed_m,
                                             thin_bed_contrast=opts.thin_bed_contrast, dz=dz)  # fmt: skip
    channel = np.zeros(paleo.shape, dtype=bool)
    channels: tuple[Channel, ...] = ()
    if "channels" in drawn:
        channel, fill, channels = _channel_fill(rng, x_dep, paleo, below, (width, height), (dx, dz), opts)
        contrast = np.where(channel, fill, contrast)
    rock = np.clip(trend + contrast, vmin, vmax)
    salt = history.salt.mask(Z) if history.salt is not None else np.zeros(Z.shape, dtype=bool)
    if history.salt is not None:
        rock[salt] = history.salt.velocity
    masks = {"salt": salt, "channel": channel & ~salt, "thin_beds": thin & ~salt, "below_unconformity": below}
    model = GeologicalModel(
        velocity=_with_water(rock, n_water, WATER_VELOCITY),
        spacing=(dx, dz),
        kinds=drawn,
        water_rows=n_water,
        trend=_with_water(trend, n_water, WATER_VELOCITY),
        paleo_depth=_with_water(paleo, n_water, np.nan),
        masks={"water": _with_water(np.zeros(Z.shape, dtype=bool), n_water, True)}
        | {k: _with_water(m, n_water, False) for k, m in masks.items()},
        faults=history.faults,
        channels=channels,
        salt=history.salt,
        unconformity=history.unconformity,
        thin_bed_thicknesses_m=beds,
    )
    logger.debug("geological model %s: kinds %s, %.0f-%.0f m/s", (nx, nz), drawn, rock.min(), rock.max())
    return model


def _with_water(rock: np.ndarray, n_water: int, value: float | bool) -> np.ndarray:
    """``rock`` (nx, nz − n_water) with ``n_water`` rows of ``value`` on top."""
    top = np.full((rock.shape[0], n_water), value, dtype=rock.dtype)
    return np.concatenate([top, rock], axis=1)


def _check_velocities(
    velocity_range: tuple[float, float],
    water_depth: float | None,
    kinds: Sequence[str] | Mapping[str, float],
    opts: GeologyOptions,
    dz: float,
) -> tuple[float, float]:
    vmin, vmax = _pair("velocity_range", velocity_range)
    if not 0 < vmin < vmax:
        raise ConfigError(f"velocity_range must be (low, high) m/s with 0 < low < high, got {velocity_range}")
    if water_depth and not vmin <= WATER_VELOCITY <= vmax:
        raise ConfigError(
            f"velocity_range {velocity_range} must hold the water velocity {WATER_VELOCITY:g} m/s"
        )
    salt_possible = kinds.get("salt", 0.0) > 0 if isinstance(kinds, Mapping) else "salt" in kinds
    lo, hi = opts.salt_velocity
    if salt_possible and not vmin <= lo <= hi <= vmax:
        raise ConfigError(
            f"salt_velocity {opts.salt_velocity} m/s must lie inside velocity_range {velocity_range}; "
            "widen the range or set GeologyOptions(salt_velocity=...)"
        )
    if opts.thin_bed_m is not None and opts.thin_bed_m[0] < dz:
        raise ConfigError(f"thin_bed_m {opts.thin_bed_m} must be at least one cell (dz = {dz:g} m) thick")
    return vmin, vmax


def geological_model(
    shape: Sequence[int],
    spacing: Sequence[float],
    *,
    seed: int | np.random.SeedSequence,
    water_depth: float | None = None,
    velocity_range: tuple[float, float] = (1500.0, 4800.0),
    kinds: Sequence[str] | Mapping[str, float] = DEFAULT_KIND_PROBABILITIES,
    options: GeologyOptions | None = None,
) -> np.ndarray:
    """One geological velocity model, shape ``(nx, nz)``, m/s, float64 (see :func:`draw_geology`)."""
    return draw_geology(shape, spacing, seed=seed, water_depth=water_depth, velocity_range=velocity_range,
                        kinds=kinds, options=options).velocity  # fmt: skip


def geological_models(
    n: int,
    shape: Sequence[int],
    spacing: Sequence[float],
    *,
    seed: int = 0,
    water_depth: float | tuple[float, float] | None = None,
    velocity_range: tuple[float, float] = (1500.0, 4800.0),
    kinds: Sequence[str] | Mapping[str, float] = DEFAULT_KIND_PROBABILITIES,
    options: GeologyOptions | None = None,
) -> np.ndarray:
    """``n`` geological models stacked, shape ``(n, nx, nz)``, m/s, float64.

    Model ``i`` is drawn from ``numpy.random.SeedSequence(seed).spawn(n)[i]``, so the first models
    do not change when ``n`` grows. ``water_depth`` may be a ``(low, high)`` pair in metres, drawn
    uniformly per model (varied water depths); other parameters as in :func:`draw_geology`.
    """
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ConfigError(f"n must be a positive number of models, got {n}")
    if isinstance(water_depth, (tuple, list)):
        water_depth = _pair("water_depth", water_depth)
    out = []
    for sequence in np.random.SeedSequence(seed).spawn(int(n)):
        model_seed, water_seed = sequence.spawn(2)
        depth = water_depth
        if isinstance(water_depth, tuple):
            depth = float(np.random.default_rng(water_seed).uniform(*water_depth))
        out.append(geological_model(shape, spacing, seed=model_seed, water_depth=depth,
                                    velocity_range=velocity_range, kinds=kinds, options=options))  # fmt: skip
    return np.stack(out)
