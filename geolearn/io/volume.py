"""Post-stack volumes and velocity models: SEG-Y lines and cubes, and raw binary models.

Layouts follow geolearn's convention, sample (time or depth) axis last: a 3D cube is
(n_inlines, n_crosslines, n_samples), a 2D line (n_traces, n_samples); a model is (nx, nz) or
(nx, ny, nz) in m/s with spacing and origin in metres.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from geolearn.errors import ConfigError, ModelError
from geolearn.io.layout import HeaderMapping, apply_scalar
from geolearn.io.segyfile import SegyFile

__all__ = ["VelocityModel", "Volume", "read_model", "read_volume"]

_UNITS = {"m/s": 1.0, "km/s": 1000.0}


@dataclass(frozen=True)
class Volume:
    """A post-stack SEG-Y volume.

    Attributes
    ----------
    data : numpy.ndarray
        (n_inlines, n_crosslines, nt) for ``kind == "3d"``, (n_traces, nt) for ``"2d"`` and
        ``"unstructured"`` (file order).
    kind : {'3d', '2d', 'unstructured'}
    inlines, crosslines : numpy.ndarray of int64
        Sorted unique line numbers (3D and 2D), or per-trace numbers (unstructured).
    cdp_xy : numpy.ndarray of float64
        CDP coordinates in metres (bytes 181/185, scalar 71), shaped like ``data`` without the sample axis plus 2.
    t0, dt : float
        First sample and sample interval from the headers, seconds (for depth-axis files written
        by geolearn: metres / 1000, see :mod:`geolearn.io.writers`).
    file : SegyFile
    """

    data: np.ndarray
    kind: str
    inlines: np.ndarray
    crosslines: np.ndarray
    cdp_xy: np.ndarray
    t0: float
    dt: float
    file: SegyFile


def read_volume(
    path: str | os.PathLike,
    *,
    header: HeaderMapping | dict | None = None,
    dt: float | None = None,
    dtype: Any = np.float32,
) -> Volume:
    """Read a post-stack SEG-Y file, inferring inline/crossline geometry.

    Traces form a 3D cube when every (inline, crossline) pair of a full grid occurs exactly once
    (inline byte 189, crossline byte 193, configurable through ``header``, e.g. ``{"inline": 9}``); a 2D line when there is a
    single inline or crossline; otherwise they stay unstructured in file order.

    Returns
    -------
    Volume
    """
    mapping = header if isinstance(header, HeaderMapping) else HeaderMapping(header or {})
    file = SegyFile.open(path, dt=dt)
    il = file.header(*mapping.spec("inline"))
    xl = file.header(*mapping.spec("crossline"))
    scal = file.header(*mapping.spec("coordinate_scalar"))
    xy = apply_scalar(
        np.column_stack([file.header(*mapping.spec(k)) for k in ("cdp_x", "cdp_y")]), scal[:, None]
    )
    data = file.traces(slice(None), dtype)
    uil, uxl = np.unique(il), np.unique(xl)
    pairs = np.unique(np.column_stack([il, xl]), axis=0).shape[0]
    n = file.n_traces
    if pairs == n and uil.size * uxl.size == n and uil.size > 1 and uxl.size > 1:
        order = np.lexsort((xl, il))
        shape = (uil.size, uxl.size)
        return Volume(
            data[order].reshape(*shape, file.nt),
            "3d",
            uil,
            uxl,
            xy[order].reshape(*shape, 2),
            file.t0,
            file.dt,
            file,
        )
    if pairs == n and (uil.size == 1 or uxl.size == 1):
        along = xl if uil.size == 1 else il
        order = np.argsort(along, kind="stable")
        return Volume(data[order], "2d", uil, uxl, xy[order], file.t0, file.dt, file)
    return Volume(data, "unstructured", il, xl, xy, file.t0, file.dt, file)


@dataclass(frozen=True)
class VelocityModel:
    """A velocity model on a regular grid.

    Attributes
    ----------
    values : numpy.ndarray of float32, shape (nx, nz) or (nx, ny, nz)
        Velocities in m/s, depth last.
    spacing, origin : tuple of float
        Grid spacing and position of ``values[0, ..., 0]``, metres, one entry per axis.
    """

    values: np.ndarray
    spacing: tuple[float, ...]
    origin: tuple[float, ...]

    @property
    def shape(self) -> tuple[int, ...]:
        return self.values.shape


def _spacing_from_coords(xy: np.ndarray, axis: int) -> float:
    if xy.shape[axis] < 2:
        return 0.0
    step = np.diff(np.take(xy, [0, 1], axis=axis), axis=axis)
    return float(np.hypot(*step.reshape(-1, 2)[0]))


def read_model(
    path: str | os.PathLike,
    *,
    shape: Sequence[int] | None = None,
    spacing: Sequence[float] | None = None,
    origin: Sequence[float] | None = None,
    unit: str = "m/s",
    dtype: str = "f4",
    byte_order: str = "<",
    axis_order: str | None = None,
    file_format: str | None = None,
) -> VelocityModel:
    """Read a velocity model from SEG-Y or raw binary, returned in m/s with depth last.

    Parameters
    ----------
    path : path-like
    shape : sequence of int
        Model shape (nx, nz) or (nx, ny, nz); required for raw binary.
    spacing : sequence of float
        Grid spacing in metres per axis. Required for raw binary; for SEG-Y it defaults to the CDP
        coordinate step and the sample interval read as millimetres (the depth convention).
    origin : sequence of float, optional
        Position of the first sample, metres (zeros, or CDP coordinates for SEG-Y, when omitted).
    unit : {'m/s', 'km/s'}
        Unit of the stored values.
    dtype, byte_order : str
        Raw binary sample type (numpy code, e.g. 'f4') and byte order ('<' little, '>' big).
    axis_order : str, optional
        Raw binary axes from slowest to fastest, e.g. ``"xz"`` (default: x slow, z fast, i.e. C order
        of (nx, nz)), ``"zx"`` (Fortran-like), ``"xyz"``, ``"zyx"``.
    file_format : {'segy', 'raw'}, optional
        Defaults from the suffix (.sgy/.segy are SEG-Y).

    Raises
    ------
    ModelError
        Size mismatch, non-finite or non-positive velocities, implausible unit.
    """
    path = Path(path)
    if unit not in _UNITS:
        raise ConfigError(f"unit must be one of {sorted(_UNITS)}, got {unit!r}")
    file_format = file_format or ("segy" if path.suffix.lower() in (".sgy", ".segy") else "raw")
    if file_format == "segy":
        vol = read_volume(path)
        if vol.kind == "unstructured":
            raise ModelError(
                f"{path}: traces do not form a 2D line or 3D grid of inlines/crosslines; cannot make a model"
            )
        values = vol.data
        if spacing is None:
            lateral = [_spacing_from_coords(vol.cdp_xy, a) for a in range(values.ndim - 1)]
            if min(lateral, default=1.0) <= 0:
                raise ModelError(f"{path}: CDP coordinates (bytes 181/185) do not vary; pass spacing=")
            spacing = (*lateral, vol.dt * 1e3)
        if origin is None:
            origin = (*vol.cdp_xy.reshape(-1, 2)[0][: values.ndim - 1], vol.t0 * 1e3)
    elif file_format == "raw":
        if shape is None or spacing is None:
            raise ModelError(f"{path}: a raw binary model needs shape= and spacing= (got {shape}, {spacing})")
        shape = tuple(int(s) for s in shape)
        axes = "xz" if len(shape) == 2 else "xyz"
        axis_order = axis_order or axes
        if sorted(axis_order) != sorted(axes):
            raise ConfigError(f"axis_order must be a permutation of {axes!r}, got {axis_order!r}")
        if byte_order not in ("<", ">"):
            raise ConfigError(f"byte_order must be '<' or '>', got {byte_order!r}")
        dt = np.dtype(dtype).newbyteorder(byte_order)
        expected = int(np.prod(shape)) * dt.itemsize
        size = path.stat().st_size
        if size != expected:
            raise ModelError(
                f"{path}: {size} bytes, but shape {shape} of {dt.itemsize}-byte samples needs {expected}"
            )
        stored = np.fromfile(path, dtype=dt).reshape([shape[axes.index(a)] for a in axis_order])
        values = stored.transpose([axis_order.index(a) for a in axes])
    else:
        raise ConfigError(f"file_format must be 'segy' or 'raw', got {file_format!r}")
    values = np.ascontiguousarray(values, dtype=np.float64) * _UNITS[unit]
    if not np.all(np.isfinite(values)) or values.min() <= 0:
        raise ModelError(
            f"{path}: velocities must be finite and positive; range {np.nanmin(values)}..{np.nanmax(values)}"
        )
    if values.max() < 100.0:
        raise ModelError(
            f"{path}: velocities {values.min():g}..{values.max():g} m/s are implausible; was unit='km/s' meant?"
        )
    spacing = tuple(float(s) for s in spacing)
    origin = tuple(float(o) for o in (origin if origin is not None else np.zeros(values.ndim)))
    if len(spacing) != values.ndim or len(origin) != values.ndim:
        raise ModelError(
            f"{path}: spacing {spacing} and origin {origin} need {values.ndim} entries for shape {values.shape}"
        )
    return VelocityModel(values.astype(np.float32), spacing, origin)
