"""Shot problems: plain-data descriptions of a survey over a grid, buildable inside any worker.

A :class:`ShotProblem` holds everything a per-shot wave-equation solve needs as NumPy arrays
and numbers (grid, propagation settings, positions, time axis, wavelets). It is what travels
to Dask workers: :meth:`ShotProblem.build` turns it into the wave layer's
:class:`~geolearn.wave.Model` and a one-shot :class:`~geolearn.wave.Geometry` there, so no
Devito object ever crosses a process boundary.

Layout conventions: models ``(nx, nz)`` depth last, positions ``(x, z)`` in metres with depth
positive down, records ``(n_shots, max_receivers, nt)`` time last, SI units.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from geolearn.errors import GeometryError, ModelError, ShapeError, StabilityError
from geolearn.wave import Geometry, Model, ricker
from geolearn.wave.geometry import DEFAULT_CFL_FRACTION

__all__ = ["ShotProblem", "as_velocity", "choose_dt", "surface_acquisition"]

logger = logging.getLogger("geolearn.imaging.problem")

_DTYPES = {"float32": torch.float32, "float64": torch.float64}


def as_velocity(velocity: Any, name: str = "velocity") -> np.ndarray:
    """Velocity (m/s) from a NumPy array, torch tensor or ``geolearn.io.VelocityModel`` as float64."""
    values = getattr(velocity, "values", velocity)
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim not in (2, 3):
        raise ModelError(f"{name} must be (nx, nz) or (nx, ny, nz) in m/s, got shape {arr.shape}")
    bad = ~np.isfinite(arr) | (arr <= 0)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ModelError(f"{name} must be finite and positive (m/s); found {arr[idx]!r} at index {idx}")
    return arr


def choose_dt(
    vmax: float,
    spacing: Sequence[float],
    space_order: int,
    *,
    record_dt: float | None = None,
    cfl_fraction: float = DEFAULT_CFL_FRACTION,
) -> float:
    """A stable modelling time step in whole microseconds (SEG-Y stores integer microseconds).

    Parameters
    ----------
    vmax : float
        Largest velocity the step must support, m/s.
    spacing : sequence of float
        Grid spacing, m.
    space_order : int
        Finite-difference order.
    record_dt : float, optional
        Sample interval of recorded data, s. The result is then ``record_dt / k`` for the
        smallest integer ``k`` that is stable and a whole number of microseconds, so that the
        recorded samples fall on modelling steps.
    cfl_fraction : float
        Fraction of the stability limit the step may use.

    Returns
    -------
    float
        Time step in seconds.
    """
    probe = Model(np.full((3,) * len(spacing), float(vmax)), spacing, nbl=0, space_order=space_order)
    limit = probe.critical_dt()
    if record_dt is None:
        dt = math.floor(cfl_fraction * limit * 1e6) / 1e6
        if dt <= 0:
            raise StabilityError(
                f"the stability limit {limit:.3g} s is below one microsecond; coarsen the grid"
            )
        return dt
    us = round(record_dt * 1e6)
    if us < 1 or abs(us - record_dt * 1e6) > 1e-3:
        raise GeometryError(f"record_dt = {record_dt} s is not a whole number of microseconds")
    for k in range(1, us + 1):
        if us % k == 0 and us // k * 1e-6 <= cfl_fraction * limit:
            return us // k * 1e-6
    raise StabilityError(
        f"no whole-microsecond divisor of {record_dt} s is below {cfl_fraction} x the stability limit {limit:.3g} s"
    )


def surface_acquisition(
    x_range: tuple[float, float],
    *,
    source_spacing: float,
    receiver_spacing: float,
    source_depth: float = 10.0,
    receiver_depth: float = 10.0,
) -> tuple[np.ndarray, np.ndarray]:
    """A 2D fixed-spread surface survey: sources and receivers evenly spaced along x.

    Parameters
    ----------
    x_range : (float, float)
        First and last x position in metres (both included when the spacing divides them).
    source_spacing, receiver_spacing : float
        Distances in metres, > 0.
    source_depth, receiver_depth : float
        Depths in metres, positive down.

    Returns
    -------
    sources : ndarray, shape (n_shots, 2)
    receivers : ndarray, shape (n_receivers, 2)
        ``(x, z)`` in metres; every shot records on all receivers.
    """
    for name, value in (("source_spacing", source_spacing), ("receiver_spacing", receiver_spacing)):
        if not value > 0:
            raise GeometryError(f"{name} must be > 0 m, got {value}")
    x0, x1 = float(x_range[0]), float(x_range[1])
    if not x1 >= x0:
        raise GeometryError(f"x_range must be (x_min, x_max) with x_min <= x_max, got {x_range}")

    def line(step: float, depth: float) -> np.ndarray:
        n = math.floor((x1 - x0) / step + 1e-9) + 1
        offset = 0.5 * ((x1 - x0) - (n - 1) * step)  # centre the line in the range
        xs = x0 + offset + step * np.arange(n)
        return np.column_stack([xs, np.full(n, float(depth))])

    return line(source_spacing, source_depth), line(receiver_spacing, receiver_depth)


@dataclass(frozen=True)
class ShotProblem:
    """A survey over a grid as plain data (picklable; see the module docstring).

    Attributes
    ----------
    reference : ndarray, shape (nx, nz)
        Reference velocity in m/s. It fixes the absorbing-layer damping (so that gradients
        need no damping term) and is the default velocity.
    spacing, origin : tuple of float
        Grid spacing and first grid point, m.
    src_positions : ndarray, shape (n_shots, ndim)
    rec_positions : tuple of ndarray, each (n_receivers_i, ndim)
    dt : float
        Modelling and recording interval, s (whole microseconds when written to SEG-Y).
    nt : int
        Samples per trace, from t = 0.
    wavelets : ndarray, shape (n_shots, nt)
    nbl, space_order, free_surface, boundary, dtype
        Propagation settings (see :class:`geolearn.wave.Model`); ``dtype`` is ``"float32"``
        or ``"float64"``.
    """

    reference: np.ndarray
    spacing: tuple[float, ...]
    origin: tuple[float, ...]
    src_positions: np.ndarray
    rec_positions: tuple[np.ndarray, ...]
    dt: float
    nt: int
    wavelets: np.ndarray
    nbl: int = 40
    space_order: int = 8
    free_surface: bool = False
    boundary: str = "poly"
    dtype: str = "float32"

    def __post_init__(self) -> None:
        if self.dtype not in _DTYPES:
            raise ModelError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}")
        if self.wavelets.shape != (self.n_shots, self.nt):
            raise ShapeError(
                f"wavelets have shape {self.wavelets.shape}; expected ({self.n_shots}, {self.nt})"
            )
        if len(self.rec_positions) != self.n_shots:
            raise GeometryError(f"{len(self.rec_positions)} receiver sets for {self.n_shots} sources")

    # ------------------------------------------------------------------ construction
    @classmethod
    def create(
        cls,
        reference: Any,
        spacing: Sequence[float],
        src_positions: np.ndarray,
        rec_positions: np.ndarray | Sequence[np.ndarray],
        *,
        record_length: float,
        origin: Sequence[float] | None = None,
        dt: float | None = None,
        f0: float | None = 10.0,
        delay: float | None = None,
        wavelet: np.ndarray | torch.Tensor | None = None,
        wavelet_dt: float | None = None,
        vmax: float | None = None,
        nbl: int = 40,
        space_order: int = 8,
        free_surface: bool = False,
        boundary: str = "poly",
        dtype: str | torch.dtype = "float32",
    ) -> ShotProblem:
        """Validate inputs and build a problem (positions inside the model, stable dt, wavelets).

        ``dt`` defaults to :func:`choose_dt` for ``vmax`` (default: the reference's maximum).
        The wavelet is a Ricker of peak ``f0`` Hz with its peak at ``delay`` s (default
        ``1/f0``) unless ``wavelet`` ((nt_w,) or (n_shots, nt_w), sampled at ``wavelet_dt``
        or already at ``dt``) is given. Geometry is checked by :class:`geolearn.wave.Geometry`
        (raises GeometryError naming the shot and position).
        """
        ref = as_velocity(reference, "reference velocity")
        dtype_name = (
            dtype if isinstance(dtype, str) else {v: k for k, v in _DTYPES.items()}.get(dtype, str(dtype))
        )
        spacing = tuple(float(h) for h in spacing)
        if dt is None:
            dt = choose_dt(vmax or float(ref.max()), spacing, space_order)
        model = Model(ref, spacing, origin, nbl=nbl, space_order=space_order, free_surface=free_surface,
                      boundary=boundary, dtype=_DTYPES.get(dtype_name, torch.float32))  # fmt: skip
        if vmax is not None:
            model.check_dt(dt, vmax)
        if wavelet is None and f0 is not None:
            nt = round(record_length / dt) + 1
            wavelet = ricker(f0, nt, dt, delay, dtype=torch.float64).numpy()
            wavelet_dt = None
        geometry = Geometry(model, src_positions, rec_positions, record_length, dt=dt, f0=f0,
                            wavelet=wavelet, wavelet_dt=wavelet_dt)  # fmt: skip
        return cls(
            reference=ref, spacing=spacing, origin=model.origin, src_positions=geometry.src_positions,
            rec_positions=tuple(geometry.rec_positions), dt=geometry.dt, nt=geometry.nt,
            wavelets=geometry.wavelets.numpy().astype(np.float64), nbl=nbl, space_order=space_order,
            free_surface=free_surface, boundary=boundary, dtype=dtype_name,
        )  # fmt: skip

    def with_wavelets(self, wavelets: np.ndarray) -> ShotProblem:
        """A copy with other wavelets, ``(nt,)`` shared or ``(n_shots, nt)``."""
        w = np.broadcast_to(np.asarray(wavelets, dtype=np.float64), (self.n_shots, self.nt)).copy()
        return replace(self, wavelets=w)

    def subset(self, shots: Sequence[int]) -> ShotProblem:
        """A problem with only the given shots."""
        idx = [int(i) for i in shots]
        return replace(self, src_positions=self.src_positions[idx],
                       rec_positions=tuple(self.rec_positions[i] for i in idx), wavelets=self.wavelets[idx])  # fmt: skip

    # ------------------------------------------------------------------ properties
    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.reference.shape)

    @property
    def n_shots(self) -> int:
        return int(self.src_positions.shape[0])

    @property
    def n_receivers(self) -> list[int]:
        return [int(r.shape[0]) for r in self.rec_positions]

    @property
    def record_shape(self) -> tuple[int, int, int]:
        """``(n_shots, max_receivers, nt)``."""
        return self.n_shots, max(self.n_receivers), self.nt

    @property
    def torch_dtype(self) -> torch.dtype:
        return _DTYPES[self.dtype]

    @property
    def np_dtype(self) -> type:
        return np.float32 if self.dtype == "float32" else np.float64

    @property
    def time_axis(self) -> np.ndarray:
        """Sample times in seconds, ``(nt,)``."""
        return np.arange(self.nt) * self.dt

    def depth_axis(self) -> np.ndarray:
        """Depths of the grid rows in metres, ``(nz,)``."""
        return self.origin[-1] + self.spacing[-1] * np.arange(self.shape[-1])

    # ------------------------------------------------------------------ wave-layer objects
    def model(self) -> Model:
        """The wave layer's :class:`~geolearn.wave.Model` (reference velocity, fixed damping)."""
        return Model(self.reference, self.spacing, self.origin, nbl=self.nbl, space_order=self.space_order,
                     free_surface=self.free_surface, boundary=self.boundary, dtype=self.torch_dtype)  # fmt: skip

    def geometry(self, model: Model, shots: Sequence[int] | None = None) -> Geometry:
        """A :class:`~geolearn.wave.Geometry` for ``shots`` (default all) over ``model``."""
        idx = list(range(self.n_shots)) if shots is None else [int(i) for i in shots]
        with warnings.catch_warnings():
            # Dispersion is checked once when the problem is created, not in every task.
            warnings.simplefilter("ignore", UserWarning)
            return Geometry(model, self.src_positions[idx], [self.rec_positions[i] for i in idx],
                            (self.nt - 1) * self.dt, dt=self.dt, wavelet=self.wavelets[idx])  # fmt: skip

    def padded(self, gathers: Sequence[np.ndarray]) -> np.ndarray:
        """Stack per-shot gathers ``(n_receivers_i, nt)`` into ``(n_shots, max_receivers, nt)``."""
        out = np.zeros(self.record_shape, dtype=np.float64)
        for i, g in enumerate(gathers):
            out[i, : g.shape[0]] = g
        return out
