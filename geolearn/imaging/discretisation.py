"""Discretisation of a survey: validated velocity arrays and a stable, SEG-Y-friendly time step.

Units: velocities in m/s ``(nx, nz)`` / ``(nx, ny, nz)`` depth last, spacing in m, times in s.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from geolearn.errors import GeometryError, ModelError, StabilityError
from geolearn.wave import Model
from geolearn.wave.geometry import DEFAULT_CFL_FRACTION

__all__ = ["as_velocity", "choose_dt", "stability_limit"]


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


def stability_limit(vmax: float, spacing: Sequence[float], space_order: int) -> float:
    """Largest stable time step in s for velocities up to ``vmax`` m/s on ``spacing`` m (:meth:`Model.critical_dt`)."""
    probe = Model(np.full((3,) * len(spacing), float(vmax)), spacing, nbl=0, space_order=space_order)
    return probe.critical_dt()


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
    limit = stability_limit(vmax, spacing, space_order)
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
