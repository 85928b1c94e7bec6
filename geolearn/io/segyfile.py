"""Low-level SEG-Y access: byte order, sample format, time axis, header columns and traces.

The file is memory-mapped; opening it reads the textual and binary headers and the first trace
header, and checks the sample count against the file size. Header columns are read on demand, one
2- or 4-byte field for every trace, and traces are decoded only when asked for, so a survey larger than
memory can be indexed and read shot by shot.

Time-axis rules (SEG-Y rev 1/2, as segyio's test files exercise them):

- sample count: the file size is the evidence. The binary header's count (bytes 3221-3222, unsigned, or
  3269-3272 when a rev-2 file leaves those at 0) when it splits the bytes after the headers into whole
  traces, else trace 0's count (bytes 115-116) when that does (a finding says so), else
  :class:`SegyFormatError` naming both. Trace-header counts that disagree with the chosen one (f3.sgy
  says 462 for 75) are stale: a finding lists them.
- sample interval: the caller's ``dt`` when given (a finding records a disagreeing header), else binary
  header bytes 3217-3218 when positive (a finding records a disagreeing trace 0), else the first trace
  header's bytes 117-118 when positive, else :class:`SegyFormatError`.
- start time: delay recording time (bytes 109-110, ms) times the time scalar (bytes 215-216).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from geolearn.errors import SegyFormatError
from geolearn.io.findings import Finding
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


def _values(values: np.ndarray, limit: int = 6) -> str:
    shown = ", ".join(str(int(v)) for v in values[:limit])
    return shown + (", ..." if len(values) > limit else "")


def _sample_count(
    binary: bytes, first: bytes, endian: str, payload: int, bps: int, path: Path, findings: list[Finding]
) -> tuple[int, str]:
    """The sample count that splits the file into whole traces, preferring the binary header's."""
    nt, source = _int(binary, 21, 2, endian, signed=False), "binary"
    if nt == 0 and binary[300] >= 2 and _int(binary, 69, 4, endian) > 0:
        nt, source = _int(binary, 69, 4, endian), "binary (extended, bytes 3269-3272)"
    trace_nt = _int(first, 115, 2, endian, signed=False)
    fits = lambda n: n > 0 and payload % (240 + n * bps) == 0  # noqa: E731
    if fits(nt):
        return nt, source
    if fits(trace_nt):
        if nt > 0:
            findings.append(
                Finding(
                    "sample_count",
                    f"{nt} samples per trace in the {source} header (bytes 3221-3222)",
                    f"{payload} bytes of traces are not a whole number of {240 + nt * bps}-byte traces, "
                    f"but are {payload // (240 + trace_nt * bps)} traces of the {trace_nt} samples that "
                    "trace 0 (bytes 115-116) declares",
                    f"{trace_nt} samples (trace header)",
                )
            )
        return trace_nt, "trace"
    if nt <= 0 and trace_nt <= 0:
        raise SegyFormatError(
            f"{path}: sample count is 0 in the binary header (bytes 3221-3222) and in trace 0 (bytes 115-116)"
        )
    nt = nt if nt > 0 else trace_nt
    raise SegyFormatError(
        f"{path}: {payload} bytes of traces after the headers is not a whole number of "
        f"{240 + nt * bps}-byte traces for {nt} samples of {bps} bytes ({source} header), nor of "
        f"{240 + trace_nt * bps}-byte traces for trace 0's {trace_nt}; the file is truncated or its "
        "sample count is wrong"
    )


def _sample_interval(
    binary: bytes, first: bytes, endian: str, dt: float | None, path: Path, findings: list[Finding]
) -> tuple[float, str]:
    """Sample interval (s): the caller's, else the binary header's, else trace 0's."""
    bin_dt, trace_dt = _int(binary, 17, 2, endian), _int(first, 117, 2, endian)
    if dt is not None:
        if not dt > 0:
            raise SegyFormatError(f"{path}: dt={dt!r} must be a positive number of seconds")
        header = bin_dt if bin_dt > 0 else trace_dt
        if header > 0 and not np.isclose(header * 1e-6, dt):
            findings.append(
                Finding(
                    "sample_interval",
                    f"{header} us ({'binary header bytes 3217-3218' if bin_dt > 0 else 'trace 0 bytes 117-118'})",
                    f"the caller gave dt={dt:g} s",
                    f"{dt:g} s (caller)",
                )
            )
        return float(dt), "user"
    if bin_dt > 0:
        if trace_dt > 0 and trace_dt != bin_dt:
            findings.append(
                Finding(
                    "sample_interval",
                    f"{trace_dt} us in trace 0 (bytes 117-118)",
                    f"the binary header (bytes 3217-3218) says {bin_dt} us; the data cannot tell them apart",
                    f"{bin_dt * 1e-6:g} s (binary header, the SEG-Y rule)",
                )
            )
        return bin_dt * 1e-6, "binary"
    if trace_dt > 0:
        log.info("%s: binary sample interval is %d us; using trace header's %d us", path, bin_dt, trace_dt)
        return trace_dt * 1e-6, "trace"
    raise SegyFormatError(
        f"{path}: no positive sample interval: binary header (bytes 3217-3218) {bin_dt} us, "
        f"trace 0 (bytes 117-118) {trace_dt} us; pass dt= in seconds"
    )


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
    findings : tuple of Finding
        Header contradictions found while opening (sample count, sample interval) and the reading
        chosen for each.
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
    findings: tuple[Finding, ...]
    measurement_system: int = 1

    @classmethod
    def open(cls, path: str | os.PathLike, *, dt: float | None = None) -> SegyFile:
        """Read the headers of ``path`` and validate them against the file size.

        Parameters
        ----------
        path : path-like
        dt : float, optional
            Sample interval in seconds. When given it overrides the headers (a finding records any
            disagreement); otherwise the binary header's interval is used, else the first trace's.

        Raises
        ------
        SegyFormatError
            Truncated file, unknown or unsupported format code, no sample count that splits the file
            into whole traces, no usable sample interval.
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
        findings: list[Finding] = []
        bps = SAMPLE_FORMATS[code][2]
        nt, nt_source = _sample_count(binary, first, endian, size - data_offset, bps, path, findings)
        dt_s, dt_source = _sample_interval(binary, first, endian, dt, path, findings)
        delay = _int(first, 109, 2, endian)
        t0 = float(apply_scalar(delay, _int(first, 215, 2, endian))) * 1e-3
        text_raw = head[:_TEXT]
        # EBCDIC text headers start with 'C' = 0xC3; ASCII ones with 0x43.
        text = text_raw.decode("cp500" if text_raw[:1] == b"\xc3" else "latin-1", errors="replace")
        file = cls(
            path=path,
            endian=endian,
            format_code=code,
            n_traces=(size - data_offset) // (240 + nt * bps),
            nt=nt,
            dt=dt_s,
            t0=t0,
            data_offset=data_offset,
            text=text.replace("\x00", " "),
            dt_source=dt_source,
            nt_source=nt_source,
            findings=(),
            measurement_system=_int(binary, 55, 2, endian),
        )
        counts = file.header(115, 2)
        stale = np.flatnonzero((counts != 0) & (counts != nt))
        if stale.size:
            values = np.unique(counts[stale])
            findings.insert(
                0,
                Finding(
                    "sample_count",
                    f"{_values(values)} samples per trace in {stale.size} of {file.n_traces} trace headers "
                    "(bytes 115-116)",
                    f"the {nt_source} header says {nt}, and {file.n_traces} traces of {nt} samples fill "
                    f"the file exactly",
                    f"{nt} samples (the trace-header counts are stale)",
                    traces=stale,
                ),
            )
        return replace(file, findings=tuple(findings))

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
