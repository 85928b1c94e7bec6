"""Input checks shared by the processing functions (one place for the messages)."""

from __future__ import annotations

import numpy as np

from geolearn.errors import ConfigError, NonFiniteError, ShapeError


def gather(data: np.ndarray, what: str = "data") -> np.ndarray:
    """A shot gather (n_receivers, nt) of finite floats, as float64."""
    arr = np.asarray(data)
    if arr.ndim != 2:
        raise ShapeError(f"{what} must be one shot gather (n_receivers, nt); got shape {arr.shape}")
    arr = arr.astype(np.float64, copy=False)
    if not np.all(np.isfinite(arr)):
        raise NonFiniteError(
            f"{what} holds NaN or infinite samples; zero or drop those traces first (step 'edit')"
        )
    return arr


def positive(value: float, name: str, unit: str) -> float:
    """A finite number > 0, else ConfigError naming it."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.number))
        or not np.isfinite(value)
        or value <= 0
    ):
        raise ConfigError(f"{name}={value!r} must be a positive number ({unit})")
    return float(value)


def times(nt: int, dt: float, t0: float) -> np.ndarray:
    """Sample times since the shot, seconds, shape (nt,)."""
    return float(t0) + positive(dt, "dt", "s") * np.arange(nt)
