"""Structural events of the geological model generator: folds, faults, unconformities, channels, salt.

The generator (:mod:`geolearn.learned_inversion.training_models.geology`) is *kinematic*: every point of the
present-day section is mapped backwards through the structural history, newest event first, to
the place where it was deposited. Each event here therefore offers a ``restore`` method that
undoes it: it takes present coordinates ``(x, z)`` in metres (``z`` below the sea floor, arrays
of any one shape) and returns the coordinates before the event. The depositional depth reached
at the end (the *paleo-depth*, m) picks the layer, and so the velocity, of the point.

Every ``draw_*`` function takes a :class:`numpy.random.Generator` and the rock section's size
``width`` × ``height`` (m, below the sea floor) and returns a frozen record of what it drew,
so a model can say which structures it contains and where.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d

__all__ = [
    "Channel",
    "Fault",
    "Fold",
    "SaltBody",
    "Unconformity",
    "draw_channel",
    "draw_fault",
    "draw_fold",
    "draw_salt",
    "draw_unconformity",
]


def _smooth_noise(rng: np.random.Generator, n: int, correlation_cells: float) -> np.ndarray:
    """Gaussian-correlated noise of ``n`` samples with maximum absolute value 1."""
    noise = gaussian_filter1d(rng.standard_normal(n), max(correlation_cells, 0.5), mode="reflect")
    return noise / max(float(np.abs(noise).max()), 1e-12)


@dataclass(frozen=True)
class Fold:
    """A regional tilt plus folds: ``z_before = z − tan(dip)(x − centre) − w(z) Σ aₖ sin(2πx/λₖ + φₖ)``.

    The fold amplitude grows with depth, ``w(z) = 1 + growth (z / height − ½)``, so deeper layers
    are folded more than shallow ones (growth folding) and the dip changes with depth as well as
    laterally. ``growth · Σ aₖ < height / 2`` keeps the map one-to-one in depth.

    Attributes
    ----------
    dip_deg : float
        Regional dip in degrees (positive: layers deepen towards +x).
    amplitudes_m, wavelengths_m, phases : tuple of float
        Fold amplitudes (m), wavelengths (m) and phases (rad); empty for a plain tilt.
    growth : float
        Relative increase of the fold amplitude from the top to the bottom of the section.
    centre_m, height_m : float
        Hinge of the tilt (m along x) and thickness of the rock section (m).
    """

    dip_deg: float
    amplitudes_m: tuple[float, ...]
    wavelengths_m: tuple[float, ...]
    phases: tuple[float, ...]
    growth: float
    centre_m: float
    height_m: float

    def restore(self, x: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Coordinates before folding and tilting (m), same shapes as ``x`` and ``z``."""
        shape = np.zeros_like(x)
        for a, lam, phi in zip(self.amplitudes_m, self.wavelengths_m, self.phases):
            shape = shape + a * np.sin(2 * np.pi * x / lam + phi)
        weight = 1.0 + self.growth * (z / self.height_m - 0.5)
        return x, z - math.tan(math.radians(self.dip_deg)) * (x - self.centre_m) - weight * shape


def draw_fold(
    rng: np.random.Generator,
    width: float,
    height: float,
    *,
    max_dip_deg: float,
    folded: bool,
    min_dip_deg: float = 0.0,
) -> Fold:
    """A tilt of ``min_dip_deg``–``max_dip_deg`` either way and, when ``folded``, one to three folds.

    Fold wavelengths are 0.3–1.5 × ``width``; amplitudes keep each fold's steepest flank below
    ``max_dip_deg`` (at least 10°) and the sum below ``0.15 height``.
    """
    dip = float(rng.uniform(min_dip_deg, max_dip_deg) * rng.choice([-1.0, 1.0]))
    amplitudes: list[float] = []
    wavelengths: list[float] = []
    n = int(rng.integers(1, 4)) if folded else 0
    limb_slope = math.tan(math.radians(max(max_dip_deg, 10.0)))
    for _ in range(n):
        lam = float(rng.uniform(0.3, 1.5) * width)
        steepest = limb_slope * lam / (2 * np.pi * n)  # amplitude whose flank dips at the limit
        amplitudes.append(float(rng.uniform(0.3, 1.0) * min(steepest, 0.15 * height / n)))
        wavelengths.append(lam)
    phases = tuple(float(p) for p in rng.uniform(0, 2 * np.pi, n))
    growth = float(rng.uniform(0.0, 1.0)) if folded else 0.0
    return Fold(dip, tuple(amplitudes), tuple(wavelengths), phases, growth, width / 2, height)


@dataclass(frozen=True)
class Fault:
    """A planar fault with a constant vertical throw; its hanging wall slides along the plane.

    Attributes
    ----------
    x_m, depth_m : float
        A point of the fault plane (m along x, m below the sea floor), in the coordinates of
        the time of faulting (later events move the plane).
    dip_deg : float
        Dip of the plane, degrees (45–75 drawn).
    direction : int
        +1 if the plane deepens towards +x, −1 towards −x; the hanging wall lies on that side.
    throw_m : float
        Vertical throw (m, positive).
    style : str
        ``"normal"`` (hanging wall down) or ``"reverse"`` (hanging wall up).
    """

    x_m: float
    depth_m: float
    dip_deg: float
    direction: int
    throw_m: float
    style: str

    def plane_x(self, z: np.ndarray | float) -> np.ndarray | float:
        """x (m) of the fault plane at depth ``z`` (m)."""
        return self.x_m + self.direction * (z - self.depth_m) / math.tan(math.radians(self.dip_deg))

    def hanging_wall(self, x: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Boolean mask of the points above the plane (the block that moved)."""
        return self.direction * (x - self.plane_x(z)) > 0

    def restore(self, x: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Coordinates before faulting (m): the hanging wall moved back along the plane."""
        sense = 1.0 if self.style == "normal" else -1.0
        dip = math.radians(self.dip_deg)
        ux = sense * self.direction * self.throw_m / math.tan(dip)
        uz = sense * self.throw_m
        moved = self.hanging_wall(x, z)
        return np.where(moved, x - ux, x), np.where(moved, z - uz, z)


def draw_fault(rng: np.random.Generator, width: float, height: float, throw_m: tuple[float, float]) -> Fault:
    """A fault crossing mid-depth at 10–90 % of ``width``; normal with probability 0.7."""
    style = "normal" if rng.uniform() < 0.7 else "reverse"
    return Fault(
        x_m=float(rng.uniform(0.1, 0.9) * width),
        depth_m=height / 2,
        dip_deg=float(rng.uniform(45.0, 75.0)),
        direction=int(rng.choice([-1, 1])),
        throw_m=float(rng.uniform(*throw_m)),
        style=style,
    )


@dataclass(frozen=True)
class Unconformity:
    """An erosion surface ``z(x) = depth + relief · sin(2πx/λ + φ)`` (m below the sea floor).

    Layers below it (older, tilted and folded more) are truncated by it; layers above it were
    deposited on it later and onlap it.
    """

    depth_m: float
    relief_m: float
    wavelength_m: float
    phase: float

    def surface(self, x: np.ndarray) -> np.ndarray:
        """Depth (m) of the erosion surface at ``x`` (m), in the coordinates of the time of erosion."""
        return self.depth_m + self.relief_m * np.sin(2 * np.pi * x / self.wavelength_m + self.phase)


def draw_unconformity(rng: np.random.Generator, width: float, height: float) -> Unconformity:
    """An erosion surface at 25–65 % of ``height`` with up to 4 % of ``height`` relief."""
    return Unconformity(
        depth_m=float(rng.uniform(0.25, 0.65) * height),
        relief_m=float(rng.uniform(0.0, 0.04) * height),
        wavelength_m=float(rng.uniform(0.5, 2.0) * width),
        phase=float(rng.uniform(0, 2 * np.pi)),
    )


@dataclass(frozen=True)
class Channel:
    """A sinuous channel cut into the layers at one paleo-depth and filled with contrasting rock.

    In map view the channel's centreline meanders, ``v = amplitude · sin(2πu/λ + φ)`` around its
    mean flow direction ``u``; the section crosses that direction at ``angle_deg``, so it cuts the
    channel once (across the flow) or several times (along a meandering belt). Each cut is a
    U-shaped body: ``depth · √(1 − (2d/width)²)`` deep at distance ``d`` from the centreline.

    Attributes
    ----------
    level_m : float
        Paleo-depth of the channel's top (the surface it was cut into), m.
    depth_m, width_m : float
        Deepest incision and map-view width, m.
    angle_deg : float
        Angle between the section and the mean flow direction, degrees.
    amplitude_m, wavelength_m, phase, offset_m : float
        Meander amplitude (m), wavelength (m), phase (rad) and lateral offset of the section (m).
    fill_contrast : float
        Velocity of the fill relative to the compaction trend, m/s (sand: faster, shale: slower).
    """

    level_m: float
    depth_m: float
    width_m: float
    angle_deg: float
    amplitude_m: float
    wavelength_m: float
    phase: float
    offset_m: float
    fill_contrast: float

    def _centreline(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        arg = 2 * np.pi * u / self.wavelength_m + self.phase
        slope = self.amplitude_m * 2 * np.pi / self.wavelength_m * np.cos(arg)
        return self.amplitude_m * np.sin(arg), slope

    def incision(self, x: np.ndarray) -> np.ndarray:
        """Depth (m) of the channel's cut below ``level_m`` at section position ``x`` (m); 0 outside."""
        angle = math.radians(self.angle_deg)
        u, v = x * math.cos(angle), x * math.sin(angle) + self.offset_m
        centre, slope = self._centreline(u)
        distance = np.abs(v - centre) / np.sqrt(1.0 + slope**2)
        return self.depth_m * np.sqrt(np.clip(1.0 - (2.0 * distance / self.width_m) ** 2, 0.0, None))

    def mask(self, x: np.ndarray, paleo_depth: np.ndarray) -> np.ndarray:
        """Points (depositional ``x`` and paleo-depth, m) inside the channel fill."""
        cut = self.incision(x)
        return (cut > 0) & (paleo_depth >= self.level_m) & (paleo_depth < self.level_m + cut)


def draw_channel(
    rng: np.random.Generator,
    width: float,
    level_m: float,
    depth_m: float,
    width_m: float,
    contrast: tuple[float, float],
) -> Channel:
    """A channel at ``level_m`` that the section crosses at least once, within 20–80 % of ``width``."""
    angle = float(rng.uniform(20.0, 90.0))
    amplitude = float(rng.uniform(0.5, 2.0) * width_m)
    wavelength = float(rng.uniform(0.3, 1.0) * width)
    phase = float(rng.uniform(0, 2 * np.pi))
    crossing = float(rng.uniform(0.2, 0.8) * width)
    u = crossing * math.cos(math.radians(angle))
    centre = amplitude * math.sin(2 * np.pi * u / wavelength + phase)
    offset = centre - crossing * math.sin(math.radians(angle))
    fill = float(rng.uniform(*contrast) * rng.choice([-1.0, 1.0]))
    return Channel(level_m, depth_m, width_m, angle, amplitude, wavelength, phase, offset, fill)


@dataclass(frozen=True)
class SaltBody:
    """A salt diapir or sheet: ``top_m[i] <= z < base_m[i]`` in column ``i`` (m below the sea floor).

    The top is a dome ``crest + (height − crest)·(|x − centre| / half_width)^power`` roughened by
    smooth noise (salt tops are rugose); a rooted diapir reaches the bottom of the section, a
    sheet has a base of its own. Sediments above it are dragged up by ``uplift_m`` (a Gaussian
    dome of width ``half_width_m``), undone by :meth:`restore`.

    Attributes
    ----------
    top_m, base_m : ndarray, shape (nx,)
        Top and base of the body per column, m (``inf`` where there is no salt).
    velocity : float
        Salt velocity, m/s.
    centre_m, half_width_m, uplift_m : float
        Centre and half-width of the body and the uplift of the layers above it, m.
    """

    top_m: np.ndarray
    base_m: np.ndarray
    velocity: float
    centre_m: float
    half_width_m: float
    uplift_m: float

    def mask(self, z: np.ndarray) -> np.ndarray:
        """Salt points of a section with depths ``z`` (m), shape (nx, nz_rock)."""
        return (z >= self.top_m[:, None]) & (z < self.base_m[:, None])

    def restore(self, x: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Coordinates before the layers were dragged up over the salt (m)."""
        dome = self.uplift_m * np.exp(-(((x - self.centre_m) / self.half_width_m) ** 2))
        return x, z + dome


def draw_salt(
    rng: np.random.Generator, x: np.ndarray, height: float, velocity: tuple[float, float], dz: float
) -> SaltBody:
    """A salt body centred in 20–80 % of the section, crest at 25–60 % of ``height``.

    ``x`` holds the column positions (m); the top's roughness is 2–6 % of ``height`` (at
    least ``dz``) with a correlation length of 3 % of the width.
    """
    width = float(x[-1] - x[0]) if x.size > 1 else dz
    centre = float(rng.uniform(0.2, 0.8) * width)
    half = float(rng.uniform(0.15, 0.35) * width)
    crest = float(rng.uniform(0.25, 0.6) * height)
    power = float(rng.uniform(1.5, 3.0))
    spacing = width / max(x.size - 1, 1)
    rough = max(float(rng.uniform(0.02, 0.06)) * height, dz) * _smooth_noise(
        rng, x.size, 0.03 * width / spacing
    )
    reach = np.abs(x - centre) / half
    top = np.where(reach < 1.0, crest + (height - crest) * reach**power + rough, np.inf)
    if rng.uniform() < 0.5:  # rooted diapir
        base = np.full(x.shape, np.inf)
    else:  # sheet: a base below the crest, smoother than the top
        thickness = float(rng.uniform(0.15, 0.35) * height)
        base = crest + thickness * (1.0 + 0.2 * _smooth_noise(rng, x.size, 0.2 * width / spacing))
    uplift = float(rng.uniform(0.02, 0.08) * height)
    return SaltBody(top, base, float(rng.uniform(*velocity)), centre, half, uplift)
