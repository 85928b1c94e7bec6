"""Measured source wavelets from files: NumPy arrays, two-column text, one-trace SEG-Y.

A marine source signature comes as a far-field measurement or a modelled array signature, usually
as a text file of time and amplitude, sometimes as a one-trace SEG-Y or a NumPy array. Whatever the
file, :func:`read_wavelet` returns a :class:`SourceWavelet`: samples, sample interval and the time
of the first sample relative to the shot (negative for a wavelet centred on zero). Putting it on a
modelling time axis is the imaging layer's job (:func:`geolearn.imaging.problem_from_survey`).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from geolearn.atomic import atomic_write
from geolearn.errors import ConfigError, SegyFormatError, ShapeError
from geolearn.io.segyfile import SegyFile

__all__ = ["SourceWavelet", "read_wavelet", "write_wavelet"]

log = logging.getLogger("geolearn.io.wavelet_file")

_TIME_UNITS = {"s": 1.0, "ms": 1e-3}
_SEGY_SUFFIXES = (".sgy", ".segy", ".sg")
_LONGEST_INTERVAL = 0.05  # s: a wavelet sampled more coarsely than 20 Hz is not a wavelet


@dataclass(frozen=True)
class SourceWavelet:
    """A source signature on a regular time axis.

    Attributes
    ----------
    samples : numpy.ndarray of float64, shape (n,)
        Amplitudes (any unit; a wavelet estimate absorbs the scale).
    dt : float
        Sample interval, seconds.
    t0 : float
        Time of the first sample relative to the shot, seconds (negative for acausal wavelets).
    origin : str
        Where it came from (a file name), for messages.
    """

    samples: np.ndarray
    dt: float
    t0: float = 0.0
    origin: str = ""

    def __post_init__(self) -> None:
        w = np.asarray(self.samples, dtype=np.float64)
        if w.ndim != 1 or w.size < 2:
            raise ShapeError(
                f"{self.origin or 'wavelet'}: need a 1-D wavelet of >= 2 samples, got shape {w.shape}"
            )
        if not np.all(np.isfinite(w)) or not np.any(w):
            raise ConfigError(f"{self.origin or 'wavelet'}: samples must be finite and not all zero")
        if not 0 < self.dt <= _LONGEST_INTERVAL:
            raise ConfigError(
                f"{self.origin or 'wavelet'}: sample interval {self.dt!r} s is not in (0, {_LONGEST_INTERVAL}] s; "
                "times in milliseconds? pass time_unit='ms'"
            )
        object.__setattr__(self, "samples", w)

    @property
    def time(self) -> np.ndarray:
        """Sample times relative to the shot, seconds, shape (n,)."""
        return self.t0 + self.dt * np.arange(self.samples.size)


def _text(path: Path, dt: float | None, t0: float | None, unit: float) -> SourceWavelet:
    delimiter = "," if path.suffix.lower() == ".csv" else None
    try:
        table = np.loadtxt(path, delimiter=delimiter, comments="#", ndmin=2)
    except ValueError as exc:
        raise ConfigError(f"{path}: not a table of numbers ({exc})") from None
    if table.shape[1] == 1:
        if dt is None:
            raise ConfigError(
                f"{path}: one column of amplitudes needs dt= (seconds); or write time, amplitude"
            )
        return SourceWavelet(table[:, 0], dt, t0 or 0.0, path.name)
    if table.shape[1] != 2 or table.shape[0] < 2:
        raise ShapeError(
            f"{path}: expected two columns (time, amplitude) and >= 2 rows, got shape {table.shape}"
        )
    time = table[:, 0] * unit
    steps = np.diff(time)
    step = float(np.median(steps)) if steps.size else 0.0
    irregular = np.flatnonzero(np.abs(steps - step) > 1e-6 * max(abs(step), 1e-12))
    if step <= 0 or irregular.size:
        row = int(irregular[0]) + 1 if irregular.size else 1
        raise ConfigError(
            f"{path}: times must increase by a constant step; row {row + 1} steps by {steps[row - 1]:g} s, "
            f"the median step is {step:g} s (resample the file onto a regular axis first)"
        )
    if dt is not None and not np.isclose(dt, step, rtol=1e-6):
        raise ConfigError(
            f"{path}: dt={dt:g} s contradicts the file's time column ({step:g} s); leave dt out"
        )
    if t0 is not None and not np.isclose(t0, time[0], atol=1e-9):
        raise ConfigError(
            f"{path}: t0={t0:g} s contradicts the file's first time ({time[0]:g} s); leave t0 out"
        )
    return SourceWavelet(table[:, 1], step, float(time[0]), path.name)


def read_wavelet(
    path: str | os.PathLike, *, dt: float | None = None, t0: float | None = None, time_unit: str = "s"
) -> SourceWavelet:
    """Read a measured source wavelet.

    Parameters
    ----------
    path : path-like
        ``.npy``: a 1-D array (``dt`` required). ``.sgy``/``.segy``: a one-trace SEG-Y (interval and
        delay from its headers, ``dt`` overrides the interval). Anything else: a text table (``#``
        comments; ``.csv`` comma-separated, otherwise whitespace) of two columns, time and
        amplitude, on a regular time axis, or one column of amplitudes with ``dt``.
    dt : float, optional
        Sample interval in seconds, for files that do not carry one.
    t0 : float, optional
        Time of the first sample relative to the shot, seconds (default 0 where the file has none).
    time_unit : {'s', 'ms'}
        Unit of a text file's time column.

    Returns
    -------
    SourceWavelet

    Raises
    ------
    ConfigError
        A missing ``dt``, an irregular time column, a ``dt``/``t0`` that contradicts the file, an
        implausible interval (over 50 ms: milliseconds read as seconds), all-zero samples.
    SegyFormatError
        A SEG-Y file with more than one trace.
    """
    path = Path(path)
    if time_unit not in _TIME_UNITS:
        raise ConfigError(f"time_unit must be one of {sorted(_TIME_UNITS)}, got {time_unit!r}")
    if not path.is_file():
        raise FileNotFoundError(f"no wavelet file at {path}")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        if dt is None:
            raise ConfigError(f"{path}: a .npy wavelet carries no sample interval; pass dt= (seconds)")
        wavelet = SourceWavelet(np.load(path, allow_pickle=False), dt, t0 or 0.0, path.name)
    elif suffix in _SEGY_SUFFIXES:
        file = SegyFile.open(path, dt=dt)
        if file.n_traces != 1:
            raise SegyFormatError(f"{path}: {file.n_traces} traces; a wavelet file holds exactly one")
        wavelet = SourceWavelet(
            file.traces([0], np.float64)[0], file.dt, file.t0 if t0 is None else t0, path.name
        )
    else:
        wavelet = _text(path, dt, t0, _TIME_UNITS[time_unit])
    log.info(
        "%s: wavelet of %d samples at %g s from t = %g s", path, wavelet.samples.size, wavelet.dt, wavelet.t0
    )
    return wavelet


def write_wavelet(path: str | os.PathLike, samples: np.ndarray, dt: float, *, t0: float = 0.0) -> Path:
    """Write a wavelet as a two-column text file (time in seconds, amplitude) that :func:`read_wavelet` reads.

    Parameters
    ----------
    path : path-like
    samples : numpy.ndarray, shape (n,)
    dt, t0 : float
        Sample interval and time of the first sample, seconds.

    Returns
    -------
    pathlib.Path
    """
    wavelet = SourceWavelet(samples, dt, t0, str(path))
    with atomic_write(path, "w") as fh:
        fh.write(f"# source wavelet: time (s), amplitude; {wavelet.samples.size} samples at {dt:g} s\n")
        np.savetxt(fh, np.column_stack([wavelet.time, wavelet.samples]), fmt="%.9g")
    return Path(path)
