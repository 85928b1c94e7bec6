"""Editing a SEG-Y file in place: trace-header fields, binary-header fields and trace samples.

Field files often need one header fixed before anything else works (a wrong unit code at byte 89, a
sample interval of 0, coordinates in the wrong bytes), and test files need defects planted. These
functions change only the bytes they are asked to change and keep everything else, including the
sample format and byte order, exactly as it was.

Every edit is atomic: the file is copied under a temporary name beside it, the copy is edited and
then renamed over the original (:func:`geolearn.atomic.atomic_path`), so an interrupted edit leaves
the original untouched. The copy costs one read and one write of the file.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import segyio

from geolearn.atomic import atomic_path
from geolearn.errors import SegyFormatError, ShapeError
from geolearn.io.layout import UNSIGNED_FIELDS, HeaderMapping, encode_samples
from geolearn.io.segyfile import SegyFile, _detect_endian

__all__ = ["BINARY_FIELDS", "edit_binary_header", "edit_headers", "edit_samples"]

log = logging.getLogger("geolearn.io.header_edit")

_REV1 = sorted({v: k for k, v in vars(segyio.BinField).items() if isinstance(v, int) and v < 3261}.items())
#: Binary-header fields: byte position (3201..3506) -> (segyio ``BinField`` name, size in bytes).
BINARY_FIELDS: dict[int, tuple[str, int]] = {
    **{pos: (name, nxt - pos) for (pos, name), (nxt, _) in zip(_REV1, [*_REV1[1:], (3261, "")])},
    3261: ("ExtTraces", 4), 3265: ("ExtAuxTraces", 4), 3269: ("ExtSamples", 4),
    3289: ("ExtSamplesOriginal", 4), 3293: ("ExtEnsembleFold", 4), 3501: ("SEGYRevision", 1),
    3502: ("SEGYRevisionMinor", 1), 3503: ("TraceFlag", 2), 3505: ("ExtendedHeaders", 2),
}  # fmt: skip
_BINARY_BY_NAME = {name: pos for pos, (name, _) in BINARY_FIELDS.items()}
_UNSIGNED_BINARY = frozenset({3221, 3223, 3501, 3502})


def _selection(traces: Any, n_traces: int, path: Path) -> np.ndarray:
    """Trace indices (0-based) from None (all), indices, a slice or a boolean mask of length n_traces."""
    if traces is None:
        return np.arange(n_traces)
    if isinstance(traces, slice):
        return np.arange(n_traces)[traces]
    idx = np.asarray(traces)
    if idx.dtype == bool:
        if idx.shape != (n_traces,):
            raise ShapeError(f"{path}: a boolean trace mask needs {n_traces} entries, got shape {idx.shape}")
        return np.flatnonzero(idx)
    if idx.dtype.kind not in "iu":
        raise ShapeError(
            f"{path}: traces must be integer indices, a slice or a boolean mask; got {idx.dtype}"
        )
    idx = idx.ravel().astype(np.int64)
    bad = idx[(idx < 0) | (idx >= n_traces)]
    if bad.size:
        raise ShapeError(f"{path}: trace indices {bad[:5].tolist()} are outside 0..{n_traces - 1}")
    return idx


def _integers(values: Any, n: int, byte: int, size: int, unsigned: bool, path: Path) -> np.ndarray:
    """``values`` broadcast to (n,) as whole numbers that fit a ``size``-byte header field."""
    try:
        v = np.broadcast_to(np.asarray(values, dtype=np.float64), (n,))
    except ValueError:
        raise ShapeError(
            f"{path}: byte {byte} needs one value or one per selected trace ({n}); got shape {np.shape(values)}"
        ) from None
    if not np.all(np.isfinite(v)) or np.any(v != np.round(v)):
        raise SegyFormatError(
            f"{path}: byte {byte} holds integers; got {v[~np.isfinite(v) | (v != np.round(v))][:3].tolist()} "
            "(store scaled values with a scalar, e.g. coordinates times 100 with scalar -100 at byte 71)"
        )
    kind = f"{'u' if unsigned else 'i'}{size}"
    info = np.iinfo(kind)
    if v.min() < info.min or v.max() > info.max:
        raise SegyFormatError(
            f"{path}: byte {byte} is a {size}-byte {'unsigned' if unsigned else 'signed'} field "
            f"({info.min}..{info.max}); got values {v.min():g}..{v.max():g}"
        )
    return v.astype(np.int64)


def _put(block: np.ndarray, start: int, values: np.ndarray, size: int, unsigned: bool, endian: str) -> None:
    kind = np.dtype(f"{'u' if unsigned else 'i'}{size}").newbyteorder(endian)
    block[:, start : start + size] = values.astype(kind).view(np.uint8).reshape(-1, size)


def _edit_copy(path: str | os.PathLike, edit: Callable[[Path], None]) -> Path:
    """Copy ``path``, apply ``edit`` to the copy, rename the copy over ``path``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no SEG-Y file at {path}")
    with atomic_path(path) as tmp:
        shutil.copyfile(path, tmp)
        edit(tmp)
    return path


def edit_headers(
    path: str | os.PathLike,
    fields: Mapping[str | int | tuple[int, int], Any],
    *,
    traces: Any = None,
) -> Path:
    """Overwrite trace-header fields of a SEG-Y file in place (atomically).

    Parameters
    ----------
    path : path-like
        A SEG-Y file :class:`~geolearn.io.SegyFile` can open (its sample count must split the file
        into whole traces; fix a wrong binary count first with :func:`edit_binary_header`).
    fields : mapping
        Field to new value(s). A field is a logical name of :class:`~geolearn.io.HeaderMapping`
        (``"source_x"``, ``"coordinate_units"``, ``"sample_count"``), a segyio ``TraceField`` name
        (``"SourceX"``), a 1-based byte position at a field start (``89``) or ``(byte, size)`` for a
        non-standard 2- or 4-byte field. A value is one integer for every selected trace or an array
        with one integer per selected trace (whole numbers: headers hold integers).
    traces : None, array of int, slice or boolean mask, optional
        Traces to edit (0-based file order); all by default.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    SegyFormatError
        A byte position that is not a field start, values that are not whole numbers or do not fit
        the field.
    ShapeError
        Trace indices out of range, values of the wrong length.

    Examples
    --------
    >>> edit_headers("line.sgy", {"coordinate_units": 1})                    # doctest: +SKIP
    >>> edit_headers("line.sgy", {"source_x": [1000, 1025]}, traces=[0, 1])  # doctest: +SKIP
    """
    file = SegyFile.open(path)
    idx = _selection(traces, file.n_traces, file.path)
    mapping = HeaderMapping()
    specs = {key: mapping.spec(key) for key in fields}
    encoded = {key: _integers(fields[key], idx.size, *specs[key], specs[key][0] in UNSIGNED_FIELDS, file.path)
               for key in fields}  # fmt: skip

    def edit(tmp: Path) -> None:
        mm = np.memmap(tmp, dtype=np.uint8, mode="r+", offset=file.data_offset,
                       shape=(file.n_traces, file.trace_bytes))  # fmt: skip
        headers = mm[idx, :240]
        for key, (byte, size) in specs.items():
            _put(headers, byte - 1, encoded[key], size, byte in UNSIGNED_FIELDS, file.endian)
        mm[idx, :240] = headers
        mm.flush()
        del mm

    _edit_copy(file.path, edit)
    log.info(
        "%s: edited trace-header fields %s of %d traces", file.path, [specs[k][0] for k in specs], idx.size
    )
    return file.path


def edit_binary_header(path: str | os.PathLike, fields: Mapping[str | int | tuple[int, int], int]) -> Path:
    """Overwrite binary-header fields of a SEG-Y file in place (atomically).

    Parameters
    ----------
    path : path-like
    fields : mapping
        Field to its new integer. A field is a segyio ``BinField`` name (``"Interval"``,
        ``"Samples"``, ``"MeasurementSystem"``), a byte position in 3201..3506 at a field start of
        :data:`BINARY_FIELDS` (``3217``), or ``(byte, size)`` with size 1, 2 or 4.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    SegyFormatError
        An unknown name, a position that is not a field start, a value that does not fit the field,
        a file without a valid format code (its byte order cannot be known).
    """
    path = Path(path)
    with open(path, "rb") as fh:
        fh.seek(3200)
        binary = fh.read(400)
    if len(binary) < 400:
        raise SegyFormatError(f"{path}: shorter than the 3600-byte textual and binary headers")
    endian, _ = _detect_endian(binary, path)
    specs: dict[int, tuple[int, np.ndarray]] = {}
    for key, value in fields.items():
        if isinstance(key, str):
            if key not in _BINARY_BY_NAME:
                raise SegyFormatError(
                    f"unknown binary-header field {key!r}; valid names: {sorted(_BINARY_BY_NAME)}"
                )
            key = _BINARY_BY_NAME[key]
        byte, size = (int(key[0]), int(key[1])) if isinstance(key, tuple) else (int(key), 0)
        size = size or BINARY_FIELDS.get(byte, ("", 0))[1]
        if size not in (1, 2, 4) or not 3201 <= byte <= 3601 - size:
            starts = sorted(BINARY_FIELDS, key=lambda s: abs(s - byte))[:2]
            raise SegyFormatError(
                f"binary-header byte {byte} is not a field start (nearest: {sorted(starts)}); give a BinField "
                "name, a field start or (byte, size) with size 1, 2 or 4 within bytes 3201..3600"
            )
        specs[byte] = (size, _integers(value, 1, byte, size, byte in _UNSIGNED_BINARY, path))

    def edit(tmp: Path) -> None:
        mm = np.memmap(tmp, dtype=np.uint8, mode="r+", offset=3200, shape=(1, 400))
        for byte, (size, value) in specs.items():
            _put(mm, byte - 3201, value, size, byte in _UNSIGNED_BINARY, endian)
        mm.flush()
        del mm

    _edit_copy(path, edit)
    log.info("%s: edited binary-header fields %s", path, sorted(specs))
    return path


def edit_samples(
    path: str | os.PathLike,
    samples: np.ndarray | float | Callable[[np.ndarray], np.ndarray],
    *,
    traces: Any = None,
) -> Path:
    """Overwrite the samples of selected traces in place (atomically), in the file's own format.

    Parameters
    ----------
    path : path-like
    samples : array, number or callable
        New samples broadcast to ``(n_selected, nt)``, or a function of the current samples
        ``(n_selected, nt)`` (float64) returning the new ones: ``lambda d: -d`` reverses polarity,
        ``0.0`` kills traces.
    traces : None, array of int, slice or boolean mask, optional
        Traces to edit (0-based file order); all by default.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    ShapeError
        Samples that do not broadcast to ``(n_selected, nt)``.
    SegyFormatError
        Values the file's sample format cannot hold (see :func:`~geolearn.io.layout.encode_samples`).
    """
    file = SegyFile.open(path)
    idx = _selection(traces, file.n_traces, file.path)
    new = samples(file.traces(idx, np.float64)) if callable(samples) else samples
    try:
        new = np.broadcast_to(np.asarray(new, dtype=np.float64), (idx.size, file.nt))
    except ValueError:
        raise ShapeError(
            f"{file.path}: samples of shape {np.shape(new)} do not fit {idx.size} traces of {file.nt} samples"
        ) from None
    raw = encode_samples(new, file.format_code, file.endian)

    def edit(tmp: Path) -> None:
        mm = np.memmap(tmp, dtype=np.uint8, mode="r+", offset=file.data_offset,
                       shape=(file.n_traces, file.trace_bytes))  # fmt: skip
        mm[idx, 240:] = raw
        mm.flush()
        del mm

    _edit_copy(file.path, edit)
    log.info("%s: rewrote the samples of %d traces", file.path, idx.size)
    return file.path
