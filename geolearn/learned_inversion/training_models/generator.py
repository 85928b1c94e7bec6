"""Seeded random velocity models for training learned inversion: layered, faulted and lens models.

Every model is ``v = v0 + δv`` on a regular ``(nx, nz)`` grid (depth last) in m/s, where the
*background* ``v0`` is smooth (a linear increase with depth, shared by all models of one
configuration, so one Born operator ``J(v0)`` serves a whole training set) and the
*perturbation* ``δv`` is piecewise constant (the sharp part that LSRTM images and FWI must
recover). The normal-incidence *reflectivity* ``r = (v[z+1] − v[z]) / (v[z+1] + v[z])`` is
given too (dimensionless), and the *detail* ``v − G_σ * v`` (the model minus its Gaussian
smoothing, m/s): the high-wavenumber part that a few LSRTM iterations can recover, used as the
learned-LSRTM target.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from scipy.ndimage import gaussian_filter

from geolearn.errors import ConfigError, ModelError

__all__ = [
    "MODEL_KINDS",
    "WATER_VELOCITY",
    "SyntheticModel",
    "linear_background",
    "random_model",
    "random_models",
    "reflectivity",
    "smooth_velocity",
    "stack_models",
    "starting_models",
]

logger = logging.getLogger("geolearn.learned_inversion.training_models.generator")

#: Kinds of :func:`random_model`: flat layers, layers cut by a fault, or layers with a lens.
MODEL_KINDS = ("layered", "faulted", "lens")
#: Velocity of the water layer, m/s.
WATER_VELOCITY = 1500.0


@dataclass(frozen=True)
class SyntheticModel:
    """One random model. Arrays are float64, shape ``(nx, nz)``.

    Attributes
    ----------
    velocity : ndarray
        True velocity ``v0 + δv`` in m/s.
    background : ndarray
        Smooth background ``v0`` in m/s (the migration / FWI starting model).
    perturbation : ndarray
        ``δv = velocity − background`` in m/s.
    reflectivity : ndarray
        Normal-incidence reflection coefficients along depth (dimensionless, last row 0).
    detail : ndarray
        ``velocity − smooth_velocity(velocity, detail_sigma_m)`` in m/s (zero mean near interfaces).
    kind : str
        One of :data:`MODEL_KINDS`.
    spacing : tuple of float
        Grid spacing ``(dx, dz)`` in metres.
    """

    velocity: np.ndarray
    background: np.ndarray
    perturbation: np.ndarray
    reflectivity: np.ndarray
    detail: np.ndarray
    kind: str
    spacing: tuple[float, float]


def check_grid(
    shape: Sequence[int], spacing: Sequence[float], min_points: int = 4
) -> tuple[tuple[int, int], tuple[float, float]]:
    """``(nx, nz)`` and ``(dx, dz)`` in metres of a valid 2D model grid, or a ConfigError naming them."""
    shape_t = tuple(int(n) for n in shape)
    spacing_t = tuple(float(h) for h in spacing)
    if len(shape_t) != 2 or any(n < min_points for n in shape_t):
        raise ConfigError(f"shape must be (nx, nz) with both >= {min_points} grid points, got {tuple(shape)}")
    if len(spacing_t) != 2 or any(not (h > 0 and math.isfinite(h)) for h in spacing_t):
        raise ConfigError(f"spacing must be two positive (dx, dz) values in metres, got {tuple(spacing)}")
    return shape_t, spacing_t  # type: ignore[return-value]


def linear_background(
    shape: Sequence[int], spacing: Sequence[float], *, v_top: float = 2000.0, gradient: float = 0.5
) -> np.ndarray:
    """Background ``v0(z) = v_top + gradient · z`` in m/s, shape ``(nx, nz)``.

    Parameters
    ----------
    shape : (nx, nz)
    spacing : (dx, dz) in metres
    v_top : float
        Velocity at ``z = 0`` in m/s (positive).
    gradient : float
        Vertical gradient in (m/s)/m = 1/s.
    """
    (nx, nz), (_, dz) = check_grid(shape, spacing)
    if not v_top > 0:
        raise ModelError(f"v_top must be a positive velocity in m/s, got {v_top}")
    v = v_top + gradient * dz * np.arange(nz)
    if v.min() <= 0:
        raise ModelError(f"gradient {gradient} 1/s makes the background non-positive at depth; reduce it")
    return np.repeat(v[None, :], nx, axis=0)


def reflectivity(velocity: np.ndarray) -> np.ndarray:
    """Normal-incidence reflectivity ``(v[:, i+1] − v[:, i]) / (v[:, i+1] + v[:, i])``, last row 0."""
    v = np.asarray(velocity, dtype=np.float64)
    r = np.zeros_like(v)
    r[..., :-1] = (v[..., 1:] - v[..., :-1]) / (v[..., 1:] + v[..., :-1])
    return r


def smooth_velocity(velocity: np.ndarray, sigma_m: float, spacing: Sequence[float]) -> np.ndarray:
    """Gaussian-smoothed velocity (a migration background), ``sigma_m`` metres along each axis."""
    if not sigma_m >= 0:
        raise ConfigError(f"sigma_m must be >= 0 metres, got {sigma_m}")
    sig = [sigma_m / float(h) for h in spacing]
    return gaussian_filter(np.asarray(velocity, dtype=np.float64), sig, mode="nearest")


def _interfaces(rng: np.random.Generator, nx: int, nz: int, n: int, max_dip: float) -> np.ndarray:
    """``n`` dipping interface depths (in grid points, float) per column, sorted, shape ``(n, nx)``."""
    depths = np.sort(rng.uniform(0.15 * nz, 0.95 * nz, n))
    dips = rng.uniform(-max_dip, max_dip, n)
    x = np.arange(nx) - nx / 2
    return depths[:, None] + dips[:, None] * x[None, :]


def _layers(rng: np.random.Generator, nx: int, nz: int, contrast: float, max_dip: float) -> np.ndarray:
    n = int(rng.integers(2, 5))
    tops = _interfaces(rng, nx, nz, n, max_dip)
    jumps = rng.uniform(0.3, 1.0, n) * contrast * rng.choice([-1.0, 1.0], n)
    z = np.arange(nz)[None, :]
    dv = np.zeros((nx, nz))
    level = 0.0
    for top, jump in zip(tops, jumps):
        # Each interface moves the perturbation by `jump`, keeping |δv| <= contrast.
        level = float(np.clip(level + jump, -contrast, contrast))
        below = z >= top[:, None]
        dv = np.where(below, level, dv)
    return dv


def _fault(rng: np.random.Generator, dv: np.ndarray) -> np.ndarray:
    nx, nz = dv.shape
    x0 = rng.uniform(0.3, 0.7) * nx
    slope = rng.uniform(-0.6, 0.6)  # horizontal offset of the fault plane per depth point
    throw = int(rng.integers(2, max(3, nz // 5)))
    xs, zs = np.meshgrid(np.arange(nx), np.arange(nz), indexing="ij")
    hanging = xs > x0 + slope * zs
    shifted = np.empty_like(dv)
    shifted[:, throw:] = dv[:, :-throw]
    shifted[:, :throw] = dv[:, :1]
    return np.where(hanging, shifted, dv)


def _lens(rng: np.random.Generator, dv: np.ndarray, contrast: float) -> np.ndarray:
    nx, nz = dv.shape
    out = dv * 0.5
    xs, zs = np.meshgrid(np.arange(nx), np.arange(nz), indexing="ij")
    for _ in range(int(rng.integers(1, 3))):
        cx, cz = rng.uniform(0.2, 0.8) * nx, rng.uniform(0.35, 0.8) * nz
        ax, az = rng.uniform(0.12, 0.3) * nx, rng.uniform(0.06, 0.15) * nz
        inside = ((xs - cx) / ax) ** 2 + ((zs - cz) / az) ** 2 <= 1.0
        out = np.where(inside, rng.uniform(0.6, 1.0) * contrast * rng.choice([-1.0, 1.0]), out)
    return out


def random_model(
    shape: Sequence[int],
    spacing: Sequence[float],
    *,
    kind: str = "layered",
    seed: int = 0,
    v_top: float = 2000.0,
    gradient: float = 0.5,
    contrast: float = 300.0,
    max_dip: float = 0.15,
    water_depth_m: float = 0.0,
    detail_sigma_m: float | None = None,
) -> SyntheticModel:
    """Draw one random model (see the module docstring).

    Parameters
    ----------
    shape : (nx, nz)
        Grid points, depth last.
    spacing : (dx, dz)
        Metres.
    kind : {"layered", "faulted", "lens"}
        Dipping layers; dipping layers cut by one normal/reverse fault with a random throw; or
        weakened layers with one or two elliptic lenses.
    seed : int
        Seed of :class:`numpy.random.Generator` (same seed, same model).
    v_top, gradient : float
        Background, see :func:`linear_background`.
    contrast : float
        Largest ``|δv|`` in m/s; must stay below the smallest background velocity.
    max_dip : float
        Largest interface dip in grid points of depth per grid point of x.
    water_depth_m : float
        Rows shallower than this depth (m) are water at :data:`WATER_VELOCITY`, in the velocity and
        the background alike (a known water layer, as in marine surveys); 0 for none.
    detail_sigma_m : float, optional
        Smoothing length of the detail field in metres (default twice the largest spacing).

    Returns
    -------
    SyntheticModel
    """
    (nx, nz), spacing_t = check_grid(shape, spacing)
    if kind not in MODEL_KINDS:
        raise ConfigError(f"kind must be one of {MODEL_KINDS}, got {kind!r}")
    v0 = linear_background((nx, nz), spacing_t, v_top=v_top, gradient=gradient)
    if not 0 < contrast < v0.min():
        raise ModelError(
            f"contrast must lie in (0, {v0.min():g}) m/s (below the slowest background velocity), got {contrast}"
        )
    water_rows = int(np.ceil(water_depth_m / spacing_t[1] - 1e-9)) if water_depth_m > 0 else 0
    if not 0 <= water_rows < nz:
        raise ModelError(
            f"water_depth_m must lie in [0, {(nz - 1) * spacing_t[1]:g}) m (leave rock below), got {water_depth_m}"
        )
    rng = np.random.default_rng(seed)
    dv = _layers(rng, nx, nz, contrast, max_dip)
    if kind == "faulted":
        dv = _fault(rng, dv)
    elif kind == "lens":
        dv = _lens(rng, dv, contrast)
    v0[:, :water_rows] = WATER_VELOCITY
    dv[:, :water_rows] = 0.0
    v = v0 + dv
    sigma = 2.0 * max(spacing_t) if detail_sigma_m is None else detail_sigma_m
    detail = v - smooth_velocity(v, sigma, spacing_t)
    return SyntheticModel(v, v0, dv, reflectivity(v), detail, kind, spacing_t)


def random_models(
    n: int,
    shape: Sequence[int],
    spacing: Sequence[float],
    *,
    kinds: Sequence[str] = MODEL_KINDS,
    seed: int = 0,
    **kwargs: float | tuple[float, float],
) -> list[SyntheticModel]:
    """``n`` models cycling through ``kinds``; model ``i`` uses seed ``(seed, i)`` (reproducible).

    Extra keyword arguments go to :func:`random_model`. A ``(low, high)`` pair instead of a
    number is drawn uniformly per model (from the model's own seed), e.g.
    ``v_top=(1500, 2500), gradient=(0, 4), water_depth_m=(0, 60)`` for varied backgrounds; the
    models then no longer share one background.
    """
    if n < 1:
        raise ConfigError(f"n must be a positive number of models, got {n}")
    kinds = tuple(kinds)
    if not kinds or any(k not in MODEL_KINDS for k in kinds):
        raise ConfigError(f"kinds must be a non-empty subset of {MODEL_KINDS}, got {kinds}")
    for name, value in kwargs.items():
        if isinstance(value, tuple) and (len(value) != 2 or not value[0] <= value[1]):
            raise ConfigError(f"{name} must be a number or a (low, high) pair with low <= high, got {value}")
    out = []
    for i, s in enumerate(np.random.SeedSequence(seed).spawn(n)):
        model_seed, draw_seed = (int(v) for v in s.generate_state(2))
        draws = np.random.default_rng(draw_seed)
        args = {k: float(draws.uniform(*v)) if isinstance(v, tuple) else v for k, v in kwargs.items()}
        out.append(random_model(shape, spacing, kind=kinds[i % len(kinds)], seed=model_seed, **args))
    return out


def starting_models(
    models: Sequence[SyntheticModel],
    *,
    smoothed_fraction: float = 0.5,
    sigma_m: tuple[float, float] = (20.0, 60.0),
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """FWI starting models ``(N, nx, nz)`` (m/s, ``dtype``): backgrounds or smoothed true models.

    Model ``i`` starts from the true velocity smoothed over a length drawn uniformly from
    ``sigma_m`` (m) with probability ``smoothed_fraction``, else from its background. Mixing both
    teaches a learned FWI both far and near starts (a start like :func:`smooth_velocity` of a
    field model is never a linear background).
    """
    if not 0.0 <= smoothed_fraction <= 1.0:
        raise ConfigError(f"smoothed_fraction must lie in [0, 1], got {smoothed_fraction}")
    if len(sigma_m) != 2 or not 0.0 <= sigma_m[0] <= sigma_m[1]:
        raise ConfigError(f"sigma_m must be (low, high) metres with 0 <= low <= high, got {sigma_m}")
    rng = np.random.default_rng(seed)
    starts = []
    for m in models:
        smoothed = rng.uniform() < smoothed_fraction
        sigma = rng.uniform(*sigma_m)
        starts.append(smooth_velocity(m.velocity, sigma, m.spacing) if smoothed else m.background)
    return torch.as_tensor(np.stack(starts), dtype=dtype)


def stack_models(
    models: Sequence[SyntheticModel], field: str = "perturbation", dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """Stack one field of several models into a ``(N, nx, nz)`` tensor of ``dtype``.

    ``field`` is ``"velocity"``, ``"background"``, ``"perturbation"``, ``"reflectivity"`` or ``"detail"``.
    """
    valid = ("velocity", "background", "perturbation", "reflectivity", "detail")
    if field not in valid:
        raise ConfigError(f"field must be one of {valid}, got {field!r}")
    if not models:
        raise ConfigError("stack_models needs at least one model")
    return torch.as_tensor(np.stack([getattr(m, field) for m in models]), dtype=dtype)
