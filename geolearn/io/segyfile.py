"""Low-level SEG-Y access: byte order, sample format, time axis, header columns and traces.

The file is memory-mapped; opening it reads the textual and binary headers and the first trace
header, and checks the sample count against the file size. Header columns are read on demand, one
2- or 4-byte field for every trace, and traces are decoded only when asked for, so a survey larger than
memory can be indexed and read shot by shot.

Time-axis rules (SEG-Y rev 1/2, as segyio's test files exercise them):

- sample count: binary header bytes 3221-3222 (unsigned), or bytes 3269-3272 when a rev-2 file leaves the
  former at 0; the trace header's count (bytes 115-116) only when the binary one is 0. The chosen count
  must divide the bytes after the headers into whole traces, otherwise :class:`SegyFormatError`.
  A disagreeing trace-header count (f3.sgy says 462 for 75) is reported as an anomaly and ignored.
- sample interval: binary header bytes 3217-3218 when positive, else the first trace header's bytes
  117-118 when positive, else the caller's ``dt``, else :class:`SegyFormatError`.
- start time: delay recording time (bytes 109-110, ms) times the time scalar (bytes 215-216).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from geolearn.errors import SegyFormatError
from geolearn.io.layout import (
    SAMPLE_FORMATS,
    UNSIGNED_FIELDS,
    apply_scalar,
    decode_samples,
    sample_format_name,
)

__all__ = ["SegyFile"]

log = logging.getLogger("geolearn.io.segyfile")

_TEXT = 3200
_BINARY = 400


def _int(buf: bytes, byte: int, size: int, endian: str, signed: bool = True) -> int:
    return int.from_bytes(
        buf[byte - 1 : byte - 1 + size], "big" if endian == ">" else "little", signed=signed
    )


def _detect_endian(binary: bytes, path: Path) -> tuple[str, int]:
    """Byte order from the format code at bytes 3225-3226: the reading that gives a code 1..16."""
    for endian in (">", "<"):
        code = _int(binary, 25, 2, endian)
        if 1 <= code <= 16:
            break
    else:
        code = _int(binary, 25, 2, ">")
        raise SegyFormatError(
            f"{path}: unknown sample format code {code} at binary-header bytes 3225-3226 (in either byte order); "
            f"valid codes: {sorted(SAMPLE_FORMATS)}"
        )
    if code not in SAMPLE_FORMATS:
        raise SegyFormatError(
            f"{path}: sample format code {code} ({sample_format_name(code)}) is not supported; "
            f"supported codes: {sorted(SAMPLE_FORMATS)}"
        )
    return endian, code


@dataclass(frozen=True)
class SegyFile:
    """Geometry-free description of one SEG-Y file (what the headers and the file size say).

    Attributes
    ----------
    path : pathlib.Path
    endian : {'>', '<'}
        Byte order ('>' big-endian, the standard; '<' little-endian).
    format_code : int
        Sample format (bytes 3225-3226), see :data:`geolearn.io.layout.SAMPLE_FORMATS`.
    n_traces, nt : int
    dt : float
        Sample interval in seconds.
    t0 : float
        Time of the first sample in seconds (delay recording time of the first trace).
    data_offset : int
        Byte offset of the first trace header.
    text : str
        Textual header (EBCDIC or ASCII, decoded; 40 lines of 80 characters).
    dt_source, nt_source : str
        Which header gave the interval / sample count ('binary', 'trace', 'user').
    measurement_system : int
        Binary-header bytes 3255-3256: 1 metres, 2 feet (0 if unset).
    anomalies : tuple of str
        Inconsistencies found while opening (they did not prevent reading).
    """

    path: Path
    endian: str
    format_code: int
    n_traces: int
    nt: int
    dt: float
    t0: float
    data_offset: int
    text: str
    dt_source: str
    nt_source: str
    anomalies: tuple[str, ...]
    measurement_system: int = 1

    @classmethod
    def open(cls, path: str | os.PathLike, *, dt: float | None = None) -> SegyFile:
        """Read the headers of ``path`` and validate them against the file size.

        Parameters
        ----------
        path : path-like
        dt : float, optional
            Sample interval in seconds, used only when neither header holds a positive interval.

        Raises
        ------
        SegyFormatError
            Truncated file, unknown or unsupported format code, sample count inconsistent with the
            file size, no usable sample interval.
        """
        path = Path(path)
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(_TEXT + _BINARY)
            if len(head) < _TEXT + _BINARY:
                raise SegyFormatError(
                    f"{path}: {size} bytes is shorter than the 3600-byte textual+binary header; truncated or not SEG-Y"
                )
            binary = head[_TEXT:]
            endian, code = _detect_endian(binary, path)
            n_ext = _int(binary, 305, 2, endian)
            if n_ext < 0:
                raise SegyFormatError(
                    f"{path}: binary header declares {n_ext} extended textual headers (bytes 3505-3506); "
                    "a variable number (-1) is not supported, give a count >= 0"
                )
            data_offset = _TEXT + _BINARY + n_ext * _TEXT
            fh.seek(data_offset)
            first = fh.read(240)
        if len(first) < 240:
            raise SegyFormatError(
                f"{path}: no complete trace header after byte {data_offset} (file has {size} bytes); truncated"
            )
        anomalies: list[str] = []
        bps = SAMPLE_FORMATS[code][2]
        payload = size - data_offset
        nt, nt_source = _int(binary, 21, 2, endian, signed=False), "binary"
        if nt == 0 and (binary[300] >= 2) and _int(binary, 69, 4, endian) > 0:
            nt, nt_source = _int(binary, 69, 4, endian), "binary (extended, bytes 3269-3272)"
        trace_nt = _int(first, 115, 2, endian, signed=False)
        if nt == 0:
            nt, nt_source = trace_nt, "trace"
        if nt <= 0:
            raise SegyFormatError(
                f"{path}: sample count is 0 in the binary header (bytes 3221-3222) and in trace 0 (bytes 115-116)"
            )
        if payload % (240 + nt * bps):
            hint = ""
            if trace_nt > 0 and trace_nt != nt and payload % (240 + trace_nt * bps) == 0:
                hint = f"; trace 0 (bytes 115-116) says {trace_nt}, which would fit"
            raise SegyFormatError(
                f"{path}: {payload} bytes of traces after byte {data_offset} is not a whole number of "
                f"{240 + nt * bps}-byte traces for {nt} samples of {bps} bytes ({nt_source} header); "
                f"the file is truncated or its sample count is wrong{hint}"
            )
        n_traces = payload // (240 + nt * bps)
        if trace_nt not in (0, nt):
            anomalies.append(
                f"stale trace-header sample count: trace 0 bytes 115-116 say {trace_nt}, "
                f"the {nt_source} header and the file size say {nt} (used)"
            )
        bin_dt = _int(binary, 17, 2, endian)
        trace_dt = _int(first, 117, 2, endian)
        if bin_dt > 0:
            dt_s, dt_source = bin_dt * 1e-6, "binary"
            if trace_dt > 0 and trace_dt != bin_dt:
                anomalies.append(
                    f"sample interval conflict: binary header {bin_dt} us, trace 0 {trace_dt} us (binary used)"
                )
        elif trace_dt > 0:
            dt_s, dt_source = trace_dt * 1e-6, "trace"
            log.info(
                "%s: binary sample interval is %d us; using trace header's %d us", path, bin_dt, trace_dt
            )
        elif dt is not None and dt > 0:
            dt_s, dt_source = float(dt), "user"
        else:
            raise SegyFormatError(
                f"{path}: no positive sample interval: binary header (bytes 3217-3218) {bin_dt} us, "
                f"trace 0 (bytes 117-118) {trace_dt} us; pass dt= in seconds"
            )
        if dt is not None and dt_source != "user" and not np.isclose(dt, dt_s):
            anomalies.append(f"caller's dt {dt} s ignored: the {dt_source} header gives {dt_s} s")
        delay = _int(first, 109, 2, endian)
        t0 = float(apply_scalar(delay, _int(first, 215, 2, endian))) * 1e-3
        text_raw = head[:_TEXT]
        # EBCDIC text headers start with 'C' = 0xC3; ASCII ones with 0x43.
        text = text_raw.decode("cp500" if text_raw[:1] == b"\xc3" else "latin-1", errors="replace")
        return cls(
            path=path,
            endian=endian,
            format_code=code,
            n_traces=n_traces,
            nt=nt,
            dt=dt_s,
            t0=t0,
            data_offset=data_offset,
            text=text.replace("\x00", " "),
            dt_source=dt_source,
            nt_source=nt_source,
            anomalies=tuple(anomalies),
            measurement_system=_int(binary, 55, 2, endian),
        )

    @property
    def trace_bytes(self) -> int:
        """Size of one trace (240-byte header plus samples) in bytes."""
        return 240 + self.nt * SAMPLE_FORMATS[self.format_code][2]

    @property
    def time(self) -> np.ndarray:
        """Time of every sample in seconds, shape (nt,), float64."""
        return self.t0 + self.dt * np.arange(self.nt)

    def _map(self) -> np.memmap:
        return np.memmap(
            self.path,
            dtype=np.uint8,
            mode="r",
            offset=self.data_offset,
            shape=(self.n_traces, self.trace_bytes),
        )

    def header(self, byte: int, size: int) -> np.ndarray:
        """One trace-header field for every trace.

        Parameters
        ----------
        byte : int
            1-based byte position within the 240-byte trace header.
        size : {2, 4}

        Returns
        -------
        numpy.ndarray of int64, shape (n_traces,)
        """
        kind = "u" if byte in UNSIGNED_FIELDS else "i"
        column = np.ascontiguousarray(self._map()[:, byte - 1 : byte - 1 + size])
        return column.view(np.dtype(f"{kind}{size}").newbyteorder(self.endian)).ravel().astype(np.int64)

    def traces(self, index: np.ndarray | slice, dtype: np.dtype | type = np.float32) -> np.ndarray:
        """Decode the samples of the selected traces.

        Parameters
        ----------
        index : array of int or slice
            Trace indices (0-based, file order).
        dtype : numpy dtype
            Output dtype.

        Returns
        -------
        numpy.ndarray, shape (n_selected, nt)
        """
        raw = np.asarray(self._map()[index, 240:])
        return decode_samples(raw.reshape(-1, raw.shape[-1]), self.format_code, self.endian).astype(dtype)
