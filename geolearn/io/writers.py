"""SEG-Y writers: shot records with full geometry, and post-stack images and velocity models.

Every writer builds the whole file under a temporary name next to the target, flushes it to disk and
renames it into place (:func:`geolearn.atomic.atomic_write`), so a crash never leaves a half-written SEG-Y behind. Coordinates and elevations
get the coarsest scalar (1, -10, -100, -1000, -10000) that stores them exactly, and never coarser than
centimetres; the delay time gets its own scalar (byte 215). Samples are IEEE floats (format 5, or 6 for
float64), big-endian by default.

Depth-axis files (images, models) store the depth step in the sample-interval field in millimetres
(2.5 m -> 2500, the convention of most model SEG-Y files) and the first depth in the delay field in
metres, the same ratio as microseconds to milliseconds.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import segyio

from geolearn.atomic import atomic_write
from geolearn.errors import ConfigError, GeometryError, ModelError, SegyFormatError, ShapeError

__all__ = ["choose_scalar", "write_image", "write_model", "write_survey"]

log = logging.getLogger("geolearn.io.writers")

_DIVISORS = (1, 10, 100, 1000, 10000)
_INT_LIMIT = {2: 2**15 - 1, 4: 2**31 - 1}


def choose_scalar(values: np.ndarray, *, size: int = 4, finest_needed: int = 100, what: str = "values"):
    """Pick a SEG-Y scalar and the integers to store for ``values``.

    Returns ``(scalar, ints)``: the coarsest divisor that represents every value exactly (to 1e-9
    relative), else the finest that fits the field, which must be at least ``finest_needed``
    (centimetres for coordinates).

    Raises
    ------
    GeometryError
        Values too large for the field at the required precision.
    """
    values = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(values)):
        raise GeometryError(f"{what} contain non-finite numbers; SEG-Y headers need finite values")
    limit = _INT_LIMIT[size]
    fitting = [d for d in _DIVISORS if np.all(np.abs(values) * d <= limit)]
    for d in fitting:
        ints = np.round(values * d)
        if np.allclose(ints / d, values, rtol=1e-12, atol=1e-9):
            return (-d if d > 1 else 1), ints.astype(np.int64)
    if not fitting or fitting[-1] < finest_needed:
        raise GeometryError(
            f"{what} up to {np.abs(values).max():g} do not fit a {size}-byte header field at 1/{finest_needed} precision"
        )
    d = fitting[-1]
    ints = np.round(values * d)
    log.warning("%s rounded to 1/%d (max error %.3g)", what, d, np.abs(ints / d - values).max())
    return -d, ints.astype(np.int64)


def _put(headers: np.ndarray, byte: int, values: np.ndarray | int, endian: str, size: int = 4) -> None:
    vals = np.broadcast_to(np.asarray(values, dtype=np.int64), (headers.shape[0],))
    limit = _INT_LIMIT[size]
    if np.any(np.abs(vals) > limit):
        raise SegyFormatError(
            f"trace-header byte {byte}: value {np.abs(vals).max()} does not fit {size} bytes"
        )
    headers[:, byte - 1 : byte - 1 + size] = vals.astype(f"{endian}i{size}").view(np.uint8).reshape(-1, size)


def _interval_units(step: float, scale: float, what: str) -> int:
    units = step * scale
    if not (0 < round(units) <= _INT_LIMIT[2]) or not np.isclose(round(units), units, rtol=0, atol=1e-6):
        raise SegyFormatError(
            f"{what} {step:g} cannot be stored: it must be a whole number of 1/{scale:g} units "
            f"between 1 and {_INT_LIMIT[2]} (bytes 3217-3218 and 115-118)"
        )
    return round(units)


def _write(
    path: str | os.PathLike,
    samples: np.ndarray,
    fields: Mapping[int, tuple[np.ndarray | int, int]],
    interval: int,
    start: float,
    *,
    sample_format: int,
    endian: str,
    text: str | None,
) -> Path:
    """Write traces (n, nt) with trace-header ``fields`` {byte: (values, size)} atomically."""
    if sample_format not in (5, 6):
        raise ConfigError(f"sample_format must be 5 (IEEE float32) or 6 (IEEE float64), got {sample_format}")
    if endian not in (">", "<"):
        raise ConfigError(f"endian must be '>' (big, standard) or '<' (little), got {endian!r}")
    n, nt = samples.shape
    if n == 0 or not 1 <= nt <= 65535:
        raise ShapeError(f"need at least one trace and 1..65535 samples per trace, got shape {samples.shape}")
    bad = int(np.size(samples) - np.count_nonzero(np.isfinite(samples)))
    if bad:
        raise SegyFormatError(f"refusing to write {bad} non-finite samples to {path}")
    tscal, delay = choose_scalar(np.array([start]), size=2, finest_needed=1, what="delay time (ms)")
    out = np.zeros(
        n, dtype=[("h", np.uint8, (240,)), ("d", f"{endian}f{4 if sample_format == 5 else 8}", (nt,))]
    )
    hdr = out["h"]
    seq = np.arange(1, n + 1)
    for byte, (values, size) in {
        1: (seq, 4),
        5: (seq, 4),
        29: (1, 2),
        109: (delay[0], 2),
        117: (interval, 2),
        215: (tscal, 2),
        **fields,
    }.items():
        _put(hdr, byte, values, endian, size)
    hdr[:, 114:116] = np.full(n, nt, dtype=f"{endian}u2").view(np.uint8).reshape(-1, 2)
    out["d"] = samples
    binary = np.zeros(400, dtype=np.uint8)
    for byte, value, size in ((3213, 1, 2), (3217, interval, 2), (3225, sample_format, 2), (3255, 1, 2)):
        binary[byte - 3201 : byte - 3201 + size] = np.array([value], dtype=f"{endian}i{size}").view(np.uint8)
    binary[3221 - 3201 : 3223 - 3201] = np.array([nt], dtype=f"{endian}u2").view(np.uint8)
    # SEG-Y revision 1.0 (byte 3501 = 1), fixed trace length (3503-3504 = 1)
    binary[300] = 1
    binary[302:304] = np.array([1], dtype=f"{endian}i2").view(np.uint8)
    lines = (text or "written by geolearn").splitlines()[:39]
    textual = segyio.tools.create_text_header({i + 1: line[:75] for i, line in enumerate(lines)})
    path = Path(path)
    with atomic_write(path) as fh:
        fh.write(textual.encode("cp500"))
        fh.write(binary.tobytes())
        out.tofile(fh)
    log.info("wrote %s: %d traces x %d samples", path, n, nt)
    return path


def _as_list(x: np.ndarray | Sequence[np.ndarray], what: str, ndim: int) -> list[np.ndarray]:
    items = [np.asarray(a, dtype=np.float64) for a in x]
    if any(a.ndim != ndim for a in items):
        raise ShapeError(f"each {what} must have {ndim} dimensions, got shapes {[a.shape for a in items]}")
    return items


def write_survey(
    path: str | os.PathLike,
    data: np.ndarray | Sequence[np.ndarray],
    source_positions: np.ndarray,
    receiver_positions: np.ndarray | Sequence[np.ndarray],
    dt: float,
    *,
    t0: float = 0.0,
    datum: float = 0.0,
    shot_ids: Sequence[int] | None = None,
    z_positive: str = "up",
    sample_format: int = 5,
    endian: str = ">",
    text: str | None = None,
) -> Path:
    """Write shot records with full geometry headers.

    Positions are in the wave operators' frame (as :meth:`Survey.model_positions` returns them):
    (x, z) or (x, y, z) in metres with depth z positive down from ``datum``; headers receive
    elevation = datum - z (or the depth itself with ``z_positive="down"``).

    Parameters
    ----------
    path : path-like
    data : array (n_shots, n_receivers, nt) or sequence of (n_receivers_i, nt) arrays
        Samples, time last.
    source_positions : array (n_shots, 2) or (n_shots, 3)
    receiver_positions : array (n_shots, n_receivers, ndim) or sequence of (n_receivers_i, ndim)
    dt, t0 : float
        Sample interval (whole microseconds, at most 32.767 ms) and first-sample time, seconds.
    datum : float
        Elevation (metres, positive up) of z = 0.
    shot_ids : sequence of int, optional
        Field record numbers (byte 9); 1, 2, ... when omitted.
    z_positive : {'up', 'down'}
        'up' writes SEG-Y elevations; 'down' writes depths into the elevation fields (JUDI style).
    sample_format : {5, 6}
    endian : {'>', '<'}
    text : str, optional
        Textual header lines.

    Returns
    -------
    pathlib.Path
    """
    shots = _as_list(data, "shot gather", 2)
    recs = _as_list(receiver_positions, "receiver array", 2)
    src = np.asarray(source_positions, dtype=np.float64)
    ndim = src.shape[-1] if src.ndim == 2 else 0
    if ndim not in (2, 3) or len(shots) != src.shape[0] or len(recs) != len(shots):
        raise ShapeError(
            f"need source_positions (n_shots, 2|3) and one receiver array per shot: got sources {src.shape}, "
            f"{len(shots)} gathers, {len(recs)} receiver arrays"
        )
    for i, (d, r) in enumerate(zip(shots, recs)):
        if r.shape != (d.shape[0], ndim) or d.shape[1] != shots[0].shape[1]:
            raise ShapeError(
                f"shot {i}: data {d.shape} and receivers {r.shape} disagree; need (n_rec, nt={shots[0].shape[1]}) "
                f"and (n_rec, {ndim})"
            )
    if z_positive not in ("up", "down"):
        raise ConfigError(f"z_positive must be 'up' or 'down', got {z_positive!r}")
    ids = np.arange(1, len(shots) + 1) if shot_ids is None else np.asarray(shot_ids, dtype=np.int64)
    if ids.shape != (len(shots),):
        raise ShapeError(f"shot_ids must have one entry per shot ({len(shots)}), got shape {ids.shape}")
    counts = [d.shape[0] for d in shots]
    rec = np.vstack(recs)
    s = np.repeat(src, counts, axis=0)

    def full(p: np.ndarray) -> np.ndarray:
        xyz = np.column_stack([p[:, 0], p[:, 1] if ndim == 3 else np.zeros(len(p)), p[:, -1]])
        xyz[:, 2] = datum - xyz[:, 2] if z_positive == "up" else xyz[:, 2]
        return xyz

    rec, s = full(rec), full(s)
    cscal, cxy = choose_scalar(np.concatenate([s[:, :2], rec[:, :2]], axis=1), what="coordinates (m)")
    escal, ez = choose_scalar(np.column_stack([rec[:, 2], s[:, 2]]), what="elevations (m)")
    offset = np.round(np.hypot(*(rec[:, :2] - s[:, :2]).T) * np.sign(rec[:, 0] - s[:, 0] + 1e-300))
    fields = {
        9: (np.repeat(ids, counts), 4),
        13: (np.concatenate([np.arange(1, c + 1) for c in counts]), 4),
        37: (offset.astype(np.int64), 4),
        41: (ez[:, 0], 4),
        45: (ez[:, 1], 4),
        69: (escal, 2),
        71: (cscal, 2),
        73: (cxy[:, 0], 4),
        77: (cxy[:, 1], 4),
        81: (cxy[:, 2], 4),
        85: (cxy[:, 3], 4),
        89: (1, 2),
    }
    interval = _interval_units(dt, 1e6, "sample interval dt (s)")
    return _write(
        path,
        np.vstack(shots),
        fields,
        interval,
        t0 * 1e3,
        sample_format=sample_format,
        endian=endian,
        text=text,
    )


def write_image(
    path: str | os.PathLike,
    image: np.ndarray,
    spacing: Sequence[float],
    *,
    origin: Sequence[float] | None = None,
    sample_axis: str = "depth",
    first_inline: int = 1,
    first_crossline: int = 1,
    sample_format: int = 5,
    endian: str = ">",
    text: str | None = None,
) -> Path:
    """Write a 2D (nx, nz) or 3D (nx, ny, nz) image as post-stack SEG-Y.

    One trace per (x) or (x, y) position, in x-major order. Inline (byte 189) numbers x, crossline
    (byte 193) numbers y (a 2D image is one inline with crosslines along x), CDP (byte 21) counts
    traces, CDP_X/CDP_Y (bytes 181/185, scalar at 71) hold the positions in metres.

    Parameters
    ----------
    image : numpy.ndarray, shape (nx, nz) or (nx, ny, nz)
        Sample axis last.
    spacing : sequence of float
        (dx, dz) or (dx, dy, dz): metres; the last is seconds when ``sample_axis="time"``.
    origin : sequence of float, optional
        Position of sample [0, ..., 0], same units; zeros when omitted.
    sample_axis : {'depth', 'time'}
        Depth steps are stored in millimetres, time steps in microseconds (bytes 3217, 117).
    """
    image = np.asarray(image)
    if image.ndim not in (2, 3):
        raise ShapeError(f"image must be (nx, nz) or (nx, ny, nz), got shape {image.shape}")
    spacing = np.asarray(spacing, dtype=np.float64)
    origin = np.zeros(image.ndim) if origin is None else np.asarray(origin, dtype=np.float64)
    if spacing.shape != (image.ndim,) or origin.shape != (image.ndim,) or np.any(spacing <= 0):
        raise ShapeError(
            f"spacing {spacing.tolist()} and origin {origin.tolist()} need {image.ndim} entries, spacing positive"
        )
    if sample_axis not in ("depth", "time"):
        raise ConfigError(f"sample_axis must be 'depth' or 'time', got {sample_axis!r}")
    nx, ny = image.shape[0], (image.shape[1] if image.ndim == 3 else 1)
    ix, iy = (a.ravel() for a in np.meshgrid(np.arange(nx), np.arange(ny), indexing="ij"))
    x = origin[0] + ix * spacing[0]
    y = origin[1] + iy * spacing[1] if image.ndim == 3 else np.zeros_like(x)
    cscal, cxy = choose_scalar(np.column_stack([x, y]), what="CDP coordinates (m)")
    inline = first_inline + ix if image.ndim == 3 else np.full_like(ix, first_inline)
    crossline = first_crossline + (iy if image.ndim == 3 else ix)
    fields = {
        21: (np.arange(1, ix.size + 1), 4),
        71: (cscal, 2),
        181: (cxy[:, 0], 4),
        185: (cxy[:, 1], 4),
        189: (inline, 4),
        193: (crossline, 4),
    }
    scale = 1e3 if sample_axis == "depth" else 1e6
    interval = _interval_units(spacing[-1], scale, f"{sample_axis} step")
    start = origin[-1] * scale * 1e-3
    samples = image.reshape(ix.size, image.shape[-1])
    return _write(
        path, samples, fields, interval, start, sample_format=sample_format, endian=endian, text=text
    )


def write_model(
    path: str | os.PathLike,
    model: np.ndarray,
    spacing: Sequence[float],
    *,
    origin: Sequence[float] | None = None,
    **kwargs,
) -> Path:
    """Write a velocity model (m/s) of shape (nx, nz) or (nx, ny, nz) as depth-axis SEG-Y.

    Same layout as :func:`write_image` with ``sample_axis="depth"``; refuses non-finite or non-positive
    velocities (:class:`~geolearn.errors.ModelError`). Extra keywords go to :func:`write_image`.
    """
    model = np.asarray(model)
    if model.size and not (np.all(np.isfinite(model)) and model.min() > 0):
        raise ModelError(
            f"velocities must be finite and positive (m/s); got range {np.nanmin(model)}..{np.nanmax(model)}"
        )
    return write_image(path, model, spacing, origin=origin, sample_axis="depth", **kwargs)
