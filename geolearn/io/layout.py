"""SEG-Y header layout: the 240-byte trace header, header mappings, and sample formats.

The byte table comes from segyio's :class:`segyio.TraceField` (1-based byte positions, SEG-Y rev 1/2);
a field's size is the distance to the next field (2 or 4 bytes). A :class:`HeaderMapping` names the
bytes geolearn reads for geometry, so non-standard files can be read by moving fields around; every
position is validated against that layout.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import segyio

from geolearn.errors import ConfigError, SegyFormatError

__all__ = [
    "SAMPLE_FORMATS",
    "TRACE_FIELDS",
    "HeaderMapping",
    "apply_scalar",
    "decode_samples",
    "encode_samples",
    "float_to_ibm",
    "ibm_to_float",
    "sample_format_name",
]

# byte position (1-based) -> (segyio name, size in bytes)
_starts = sorted((v, k) for k, v in vars(segyio.TraceField).items() if isinstance(v, int))
TRACE_FIELDS: dict[int, tuple[str, int]] = {
    pos: (name, nxt - pos) for (pos, name), (nxt, _) in zip(_starts, [*_starts[1:], (241, "")])
}
_BY_NAME = {name: pos for pos, (name, _) in TRACE_FIELDS.items()}
# Sample counts are unsigned in SEG-Y rev 1 (segyio's long.sgy has 60000 samples); intervals stay
# signed, so a negative interval is recognised as invalid rather than read as a huge positive one.
UNSIGNED_FIELDS = frozenset({115})

# format code -> (name, numpy base type without byte order, bytes per sample)
SAMPLE_FORMATS: dict[int, tuple[str, str, int]] = {
    1: ("4-byte IBM float", "u4", 4),
    2: ("4-byte signed integer", "i4", 4),
    3: ("2-byte signed integer", "i2", 2),
    5: ("4-byte IEEE float", "f4", 4),
    6: ("8-byte IEEE float", "f8", 8),
    8: ("1-byte signed integer", "i1", 1),
    9: ("8-byte signed integer", "i8", 8),
    10: ("4-byte unsigned integer", "u4", 4),
    11: ("2-byte unsigned integer", "u2", 2),
    12: ("8-byte unsigned integer", "u8", 8),
    16: ("1-byte unsigned integer", "u1", 1),
}
# Codes the standard defines but geolearn does not decode (fixed point with gain, 24-bit integers).
_KNOWN_UNSUPPORTED = {
    4: "4-byte fixed point with gain",
    7: "3-byte signed integer",
    15: "3-byte unsigned integer",
}


def sample_format_name(code: int) -> str:
    """Human-readable name of a SEG-Y sample format code (bytes 3225-3226)."""
    if code in SAMPLE_FORMATS:
        return SAMPLE_FORMATS[code][0]
    return _KNOWN_UNSUPPORTED.get(code, f"unknown ({code})")


def _nearest_starts(byte: int) -> str:
    starts = sorted(TRACE_FIELDS)
    near = sorted(starts, key=lambda s: abs(s - byte))[:2]
    return ", ".join(f"{s} ({TRACE_FIELDS[s][0]})" for s in sorted(near))


def _field_size(byte: int, where: str) -> int:
    if byte not in TRACE_FIELDS:
        raise SegyFormatError(
            f"{where}: byte {byte} is not the start of a field in the 240-byte trace header; "
            f"valid positions are field starts in 1..237 (nearest: {_nearest_starts(byte)}), "
            "or (byte, size) with size 2 or 4 for a non-standard field"
        )
    return TRACE_FIELDS[byte][1]


def _resolve(value: int | str | tuple[int, int], key: str) -> tuple[int, int]:
    where = f"header mapping '{key}'"
    if isinstance(value, str):
        if value not in _BY_NAME:
            raise SegyFormatError(
                f"{where}: unknown trace-header field name {value!r}; use a segyio.TraceField name "
                f"such as SourceX, GroupX, CDP_X, or a byte position"
            )
        value = _BY_NAME[value]
    if isinstance(value, (tuple, list)):
        byte, size = (int(v) for v in value)
        if size not in (2, 4) or not 1 <= byte <= 241 - size:
            raise SegyFormatError(
                f"{where}: ({byte}, {size}) lies outside the 240-byte trace header; size must be 2 or 4 "
                f"and the field must fit in bytes 1..240"
            )
        return byte, size
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise SegyFormatError(
            f"{where}: {value!r} is not a byte position; give an int (1-based field start), "
            "a segyio.TraceField name or (byte, size)"
        )
    byte = int(value)
    return byte, _field_size(byte, where)


_DEFAULTS: dict[str, int] = {
    "field_record": 9,
    "trace_number": 13,
    "cdp": 21,
    "trace_id": 29,
    "offset": 37,
    "receiver_elevation": 41,
    "source_surface_elevation": 45,
    "source_depth": 49,
    "water_depth_source": 61,
    "water_depth_group": 65,
    "elevation_scalar": 69,
    "coordinate_scalar": 71,
    "source_x": 73,
    "source_y": 77,
    "group_x": 81,
    "group_y": 85,
    "coordinate_units": 89,
    "delay": 109,
    "sample_count": 115,
    "sample_interval": 117,
    "cdp_x": 181,
    "cdp_y": 185,
    "inline": 189,
    "crossline": 193,
    "time_scalar": 215,
}


@dataclass(frozen=True)
class HeaderMapping:
    """Where geolearn finds each trace-header value it needs.

    Parameters
    ----------
    overrides : mapping of str to int, str or (int, int), optional
        Logical name (see :attr:`fields`) to a byte position (1-based, the start of a field in the
        standard layout), a segyio ``TraceField`` name, or ``(byte, size)`` for a non-standard
        2- or 4-byte field. Unknown logical names raise :class:`~geolearn.errors.ConfigError`;
        positions outside the 240-byte header raise :class:`~geolearn.errors.SegyFormatError`.

    Examples
    --------
    >>> HeaderMapping({"source_x": 181, "source_y": "CDP_Y"}).byte("source_x")
    181
    """

    overrides: Mapping[str, int | str | tuple[int, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.overrides) - set(_DEFAULTS))
        if unknown:
            raise ConfigError(f"unknown header mapping key(s) {unknown}; valid keys: {sorted(_DEFAULTS)}")
        resolved = {k: _resolve(v, k) for k, v in {**_DEFAULTS, **self.overrides}.items()}
        object.__setattr__(self, "_resolved", resolved)

    @property
    def fields(self) -> dict[str, tuple[int, int]]:
        """Logical name to ``(byte, size)`` after overrides."""
        return dict(self._resolved)  # type: ignore[attr-defined]

    @classmethod
    def from_assignments(cls, items: Sequence[str]) -> HeaderMapping:
        """Build a mapping from ``NAME=BYTE`` strings, as given on the command line.

        Parameters
        ----------
        items : sequence of str
            Each ``NAME=BYTE`` (a field start, e.g. ``source_x=181``), ``NAME=BYTE:SIZE`` for a
            non-standard 2- or 4-byte field (``source_x=75:4``) or ``NAME=FIELD`` with a segyio
            ``TraceField`` name (``source_x=CDP_X``).

        Raises
        ------
        ConfigError
            An item without ``=``, a name that is not a logical field, a size that is not a number.
        SegyFormatError
            A position outside the 240-byte trace header or not at a field start.
        """
        overrides: dict[str, int | str | tuple[int, int]] = {}
        for item in items:
            name, sep, value = (part.strip() for part in item.partition("="))
            if not sep or not name or not value:
                raise ConfigError(
                    f"header override {item!r} is not NAME=BYTE; e.g. source_x=73, source_x=75:4 or "
                    f"source_x=CDP_X; valid names: {sorted(_DEFAULTS)}"
                )
            byte, colon, size = value.partition(":")
            if colon and not (byte.isdigit() and size.isdigit()):
                raise ConfigError(f"header override {item!r}: BYTE:SIZE must be two integers, e.g. 75:4")
            overrides[name] = (int(byte), int(size)) if colon else int(value) if value.isdigit() else value
        return cls(overrides)

    def byte(self, key: str) -> int:
        """1-based byte position of logical field ``key``."""
        return self.fields[key][0]

    def spec(self, key: str) -> tuple[int, int]:
        """``(byte, size)`` of logical field ``key``; a raw byte position is accepted too."""
        if key in self._resolved:  # type: ignore[attr-defined]
            return self._resolved[key]  # type: ignore[attr-defined]
        return _resolve(key, key)


def apply_scalar(values: np.ndarray, scalar: np.ndarray) -> np.ndarray:
    """Apply SEG-Y scalars (bytes 69, 71, 215): 0 means 1, positive multiplies, negative divides.

    Parameters
    ----------
    values, scalar : numpy.ndarray of int, broadcastable
        Raw header integers and their per-trace scalars.

    Returns
    -------
    numpy.ndarray of float64
    """
    values = np.asarray(values, dtype=np.float64)
    s = np.asarray(scalar, dtype=np.float64)
    s = np.where(s == 0, 1.0, s)
    # divide rather than multiply by 1/|s| so that 100000 / 1000 is exactly 100.0
    return np.where(s > 0, values * s, values / np.abs(s))


def ibm_to_float(words: np.ndarray) -> np.ndarray:
    """Decode IBM System/360 single-precision floats given as native ``uint32`` words.

    value = (-1)^sign * 0.fraction(24 bits, base 2) * 16^(exponent - 64); computed in float64, where it
    is exact, and returned as float64 (cast to float32 by the caller when wanted).
    """
    words = np.asarray(words, dtype=np.uint32)
    sign = np.where(words >> np.uint32(31), -1.0, 1.0)
    exponent = ((words >> np.uint32(24)) & np.uint32(0x7F)).astype(np.int64)
    fraction = (words & np.uint32(0x00FFFFFF)).astype(np.float64)
    return sign * np.ldexp(fraction, 4 * (exponent - 64) - 24)


def float_to_ibm(values: np.ndarray) -> np.ndarray:
    """Encode numbers as IBM System/360 single-precision floats (the inverse of :func:`ibm_to_float`).

    The 24-bit fraction is rounded to nearest; magnitudes below the smallest IBM float (16^-65)
    become 0.

    Parameters
    ----------
    values : numpy.ndarray of float
        Finite numbers, any shape.

    Returns
    -------
    numpy.ndarray of uint32, same shape
        Native ``uint32`` words (byte-swap them for the file's byte order).

    Raises
    ------
    SegyFormatError
        Non-finite values, or magnitudes above the largest IBM float (about 7.2e75).
    """
    x = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(x)):
        raise SegyFormatError("IBM floats cannot hold NaN or infinity; edit those samples to finite values")
    mantissa, power = np.frexp(np.abs(x))  # |x| = mantissa * 2**power, mantissa in [0.5, 1)
    hexponent = -((-power) // 4)  # |x| = fraction * 16**hexponent with fraction in [1/16, 1)
    fraction = np.round(np.ldexp(mantissa, power - 4 * hexponent + 24)).astype(np.int64)
    carry = fraction >= 2**24  # rounding reached 1.0: renormalise
    fraction = np.where(carry, fraction >> 4, fraction)
    exponent = hexponent + carry + 64
    if np.any((exponent > 127) & (fraction > 0)):
        raise SegyFormatError(f"{np.abs(x).max():g} exceeds the largest IBM float (about 7.2e75)")
    fraction = np.where((exponent < 0) | (x == 0), 0, fraction)
    exponent = np.where(fraction == 0, 0, exponent)
    sign = np.where((x < 0) & (fraction > 0), 1, 0)
    return ((sign << 31) | (exponent << 24) | fraction).astype(np.uint32)


def encode_samples(values: np.ndarray, code: int, endian: str) -> np.ndarray:
    """Encode numbers as SEG-Y sample bytes (the inverse of :func:`decode_samples`).

    Parameters
    ----------
    values : numpy.ndarray, shape (n_traces, nt)
        Samples; for integer formats they must be whole numbers within the format's range.
    code : int
        SEG-Y format code (see :data:`SAMPLE_FORMATS`).
    endian : {'>', '<'}
        File byte order.

    Returns
    -------
    numpy.ndarray of uint8, shape (n_traces, nt * bytes_per_sample)

    Raises
    ------
    SegyFormatError
        Unsupported format; values an integer format cannot hold (fractions, out of range,
        non-finite); non-finite values for IBM floats.
    """
    if code not in SAMPLE_FORMATS:
        raise SegyFormatError(f"sample format code {code} ({sample_format_name(code)}) is not supported")
    name, base, _ = SAMPLE_FORMATS[code]
    x = np.atleast_2d(np.asarray(values, dtype=np.float64))
    if code == 1:
        words = float_to_ibm(x)
    elif base.startswith("f"):
        words = x.astype(base)
    else:
        info = np.iinfo(base)
        bad = ~np.isfinite(x) | (x != np.round(x)) | (x < info.min) | (x > info.max)
        if np.any(bad):
            raise SegyFormatError(
                f"{int(bad.sum())} samples (e.g. {x[bad].flat[0]!r}) cannot be stored as {name}: "
                f"whole numbers in {info.min}..{info.max} only"
            )
        words = x.astype(base)
    return (
        np.ascontiguousarray(words.astype(words.dtype.newbyteorder(endian)))
        .view(np.uint8)
        .reshape(x.shape[0], -1)
    )


def decode_samples(raw: np.ndarray, code: int, endian: str) -> np.ndarray:
    """Decode raw trace bytes to numbers.

    Parameters
    ----------
    raw : numpy.ndarray of uint8, shape (n_traces, nt * bytes_per_sample)
        Sample bytes as stored in the file.
    code : int
        SEG-Y format code (see :data:`SAMPLE_FORMATS`).
    endian : {'>', '<'}
        File byte order.

    Returns
    -------
    numpy.ndarray, shape (n_traces, nt)
        float64 for IBM floats, otherwise the format's own native type.
    """
    if code not in SAMPLE_FORMATS:
        raise SegyFormatError(f"sample format code {code} ({sample_format_name(code)}) is not supported")
    _, base, _ = SAMPLE_FORMATS[code]
    values = np.ascontiguousarray(raw).view(np.dtype(base).newbyteorder(endian))
    if code == 1:
        return ibm_to_float(values.astype(np.uint32))
    return values.astype(values.dtype.newbyteorder("="))
