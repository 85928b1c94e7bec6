"""Prestack SEG-Y surveys: traces grouped into shots with their acquisition geometry.

Positions follow SEG-Y: x and y (bytes 73/77 for sources, 81/85 for receivers) scaled by the
coordinate scalar at byte 71, and *elevations positive up* (receiver group elevation at byte 41; source
elevation = surface elevation at source, byte 45, minus source depth below surface, byte 49) scaled by
the elevation scalar at byte 69, both applied per trace. How the headers are interpreted where they
contradict each other or the data (units, scalars, elevation sign, sample counts, dead, duplicate and
reversed traces) is decided by :func:`~geolearn.io.read_survey` and listed in :attr:`Survey.findings`.
:meth:`Survey.model_positions` converts to the depth-positive-down (x, z) or (x, y, z) frame the wave
operators take.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from geolearn.errors import ConfigError, GeometryError
from geolearn.io.evidence import COORDINATE_UNITS, METRES_PER_UNIT
from geolearn.io.findings import Finding
from geolearn.io.layout import HeaderMapping
from geolearn.io.line import StraightLine
from geolearn.io.segyfile import SegyFile

__all__ = ["Shot", "Survey", "to_model_frame"]


@dataclass(frozen=True)
class Shot:
    """One shot gather.

    Attributes
    ----------
    shot_id : int
        Value of the grouping key (field record number by default).
    data : numpy.ndarray, shape (n_receivers, nt)
        Samples, time last (dead-flagged and non-finite traces zeroed, reversed traces flipped, as
        the survey's findings say).
    source : numpy.ndarray of float64, shape (3,)
        Source x, y, elevation in metres (elevation positive up).
    receivers : numpy.ndarray of float64, shape (n_receivers, 3)
        Receiver x, y, elevation in metres (elevation positive up).
    offsets : numpy.ndarray of float64, shape (n_receivers,)
        Signed offsets from trace-header byte 37, as stored.
    t0, dt : float
        Time of the first sample and sample interval, seconds.
    traces : numpy.ndarray of int64, shape (n_receivers,)
        Trace indices in the file.
    """

    shot_id: int
    data: np.ndarray
    source: np.ndarray
    receivers: np.ndarray
    offsets: np.ndarray
    t0: float
    dt: float
    traces: np.ndarray

    @property
    def time(self) -> np.ndarray:
        """Sample times in seconds, shape (nt,)."""
        return self.t0 + self.dt * np.arange(self.data.shape[-1])


def to_model_frame(
    source: np.ndarray, receivers: np.ndarray, *, ndim: int = 2, datum: float = 0.0, where: str = "shot"
) -> tuple[np.ndarray, np.ndarray]:
    """Positions x, y, elevation (metres, up) to the wave operators' frame, depth positive down.

    Parameters
    ----------
    source : numpy.ndarray, shape (3,)
        x, y, elevation of the source, metres.
    receivers : numpy.ndarray, shape (n_receivers, 3)
    ndim : {2, 3}
        2 gives (x, z), valid only when y is constant; 3 gives (x, y, z).
    datum : float
        Elevation (metres, positive up) of the model's z = 0 plane: ``z = datum - elevation``.
    where : str
        Names the shot in error messages.

    Returns
    -------
    source : numpy.ndarray of float64, shape (ndim,)
    receivers : numpy.ndarray of float64, shape (n_receivers, ndim)

    Raises
    ------
    GeometryError
        All x, y are zero, or ``ndim=2`` while y varies (project the line first, see
        :func:`geolearn.processing.project_to_line`).
    """
    if ndim not in (2, 3):
        raise ConfigError(f"ndim must be 2 or 3, got {ndim}")
    pts = np.vstack([np.asarray(source, dtype=np.float64)[None], np.asarray(receivers, dtype=np.float64)])
    if not np.any(pts[:, :2]):
        raise GeometryError(
            f"{where}: source and receiver coordinates (bytes 73/77, 81/85) are all zero; "
            "the file has no geometry, give a header mapping that points at the coordinates"
        )
    if ndim == 2 and np.ptp(pts[:, 1]) > 1e-6 * max(1.0, np.abs(pts[:, 1]).max()):
        raise GeometryError(
            f"{where}: y varies by {np.ptp(pts[:, 1]):.3f} m; project the line onto a straight 2D line "
            "(geolearn.processing.project_to_line, preprocess step 'project') or use ndim=3"
        )
    out = pts[:, [0, 2] if ndim == 2 else [0, 1, 2]].copy()
    out[:, -1] = datum - out[:, -1]
    return out[0], out[1:]


class Survey:
    """A prestack SEG-Y file indexed by shot (one header scan; samples read lazily per shot).

    Use :func:`~geolearn.io.read_survey` to build one. ``len(survey)`` is the number of shots,
    ``survey[i]`` reads shot ``i`` (a :class:`Shot`), and iterating yields every shot in file order.

    Attributes
    ----------
    file : SegyFile
        Format, byte order, time axis and the findings made while opening.
    shot_ids : numpy.ndarray of int64, shape (n_shots,)
    source_positions : numpy.ndarray of float64, shape (n_shots, 3)
        x, y, elevation (metres, elevation positive up) of each shot's first trace; in the file's
        angular unit when :attr:`coordinate_units` is angular.
    coordinate_units : str
        Units the x/y coordinates were read in (a key of ``COORDINATE_UNITS``; 'ft' values are
        already converted to metres).
    z_positive : {'up', 'down'}
        How the elevation fields were read ('down': they hold depths).
    line : StraightLine or None
        Least-squares straight line through every source and receiver (None without geometry).
    dead_traces : numpy.ndarray of int64
        File indices of dead traces (trace id 2 at byte 29, or all samples zero when scanned).
    findings : list of Finding
        Every header contradiction or defect seen, with the reading chosen.
    t0, dt : float
        Start time and sample interval, seconds.
    nt : int
        Samples per trace.
    """

    def __init__(
        self,
        file: SegyFile,
        shot_ids: np.ndarray,
        shot_traces: list[np.ndarray],
        positions: dict[str, np.ndarray],
        mapping: HeaderMapping,
        dtype: Any,
        *,
        findings: list[Finding],
        coordinate_units: str,
        z_positive: str,
        line: StraightLine | None,
        trace_sign: np.ndarray,
        dead_traces: np.ndarray,
    ) -> None:
        self.file = file
        self.shot_ids = shot_ids
        self._shot_traces = shot_traces
        self._receivers = positions["receivers"]
        self._sources = positions["sources"]
        self._offsets = positions["offsets"]
        self.mapping = mapping
        self.dtype = np.dtype(dtype)
        self.findings = findings
        self.coordinate_units = coordinate_units
        self.z_positive = z_positive
        self.line = line
        self._sign = trace_sign
        self.dead_traces = dead_traces
        self.source_positions = np.stack([self._sources[t[0]] for t in shot_traces])

    @property
    def path(self) -> Path:
        return self.file.path

    @property
    def t0(self) -> float:
        return self.file.t0

    @property
    def dt(self) -> float:
        return self.file.dt

    @property
    def nt(self) -> int:
        return self.file.nt

    @property
    def time(self) -> np.ndarray:
        """Sample times in seconds, shape (nt,), float64."""
        return self.file.time

    @property
    def n_shots(self) -> int:
        return len(self._shot_traces)

    @property
    def n_traces(self) -> int:
        return self.file.n_traces

    @property
    def receivers_per_shot(self) -> np.ndarray:
        """Number of traces in each shot, shape (n_shots,)."""
        return np.array([t.size for t in self._shot_traces], dtype=np.int64)

    def __len__(self) -> int:
        return self.n_shots

    def _check(self, i: int) -> int:
        if not -self.n_shots <= i < self.n_shots:
            raise IndexError(f"shot index {i} out of range for {self.n_shots} shots")
        return i % self.n_shots

    def trace_indices(self, i: int) -> np.ndarray:
        """File trace indices of shot ``i`` (0-based position, not shot id), shape (n_receivers,)."""
        return self._shot_traces[self._check(i)]

    def receiver_positions(self, i: int) -> np.ndarray:
        """x, y, elevation (metres, elevation positive up) of shot ``i``'s receivers, shape (n_receivers, 3)."""
        return self._receivers[self.trace_indices(i)]

    def offsets(self, i: int) -> np.ndarray:
        """Header offsets (byte 37, as stored) of shot ``i``, shape (n_receivers,)."""
        return self._offsets[self.trace_indices(i)]

    def read(self, i: int) -> np.ndarray:
        """Samples of shot ``i``, shape (n_receivers, nt), dtype :attr:`dtype`.

        Traces flagged dead (byte 29) or holding non-finite samples come back as zeros, and
        reversed-polarity traces flipped, as :attr:`findings` say.
        """
        idx = self.trace_indices(i)
        data = self.file.traces(idx, np.float64)
        data[~np.all(np.isfinite(data), axis=1)] = 0.0
        return (data * self._sign[idx, None]).astype(self.dtype)

    def __getitem__(self, i: int) -> Shot:
        idx = self.trace_indices(i)
        return Shot(
            shot_id=int(self.shot_ids[self._check(i)]),
            data=self.read(i),
            source=self.source_positions[self._check(i)].copy(),
            receivers=self._receivers[idx].copy(),
            offsets=self._offsets[idx].copy(),
            t0=self.t0,
            dt=self.dt,
            traces=idx.copy(),
        )

    def __iter__(self) -> Iterator[Shot]:
        for i in range(self.n_shots):
            yield self[i]

    def model_positions(self, i: int, *, ndim: int = 2, datum: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """Source and receiver positions of shot ``i`` in the wave operators' frame (see :func:`to_model_frame`).

        Depth is positive down from the datum: ``z = datum - elevation`` (metres).

        Returns
        -------
        source : numpy.ndarray of float64, shape (ndim,)
        receivers : numpy.ndarray of float64, shape (n_receivers, ndim)

        Raises
        ------
        GeometryError
            Coordinates in angular units, all coordinates zero, or ``ndim=2`` for a line that varies in y.
        """
        idx = self.trace_indices(i)
        where = f"{self.path}, shot {i} (id {self.shot_ids[self._check(i)]}, traces {idx[0]}..{idx[-1]})"
        if self.coordinate_units not in METRES_PER_UNIT:
            xy = self._sources[idx, :2]
            raise GeometryError(
                f"{where}: coordinates are {COORDINATE_UNITS[self.coordinate_units]} (source x "
                f"{xy[:, 0].min():g}..{xy[:, 0].max():g}, y {xy[:, 1].min():g}..{xy[:, 1].max():g}); "
                "project them to metres (e.g. UTM) first, or pass coordinate_units='m' "
                "(CLI --coordinate-units m) if the values are metres"
            )
        return to_model_frame(
            self.source_positions[self._check(i)], self._receivers[idx], ndim=ndim, datum=datum, where=where
        )

    def as_dataset(self, dtype: Any = None) -> Any:
        """A :class:`torch.utils.data.Dataset` view of the shots (see :class:`~geolearn.io.shot_dataset.ShotDataset`)."""
        from geolearn.io.shot_dataset import ShotDataset

        return ShotDataset(self, dtype=dtype)

    def __repr__(self) -> str:
        rps = self.receivers_per_shot
        return (
            f"Survey({str(self.path)!r}: {self.n_shots} shots, {self.n_traces} traces, "
            f"{rps.min()}..{rps.max()} receivers/shot, nt={self.nt}, dt={self.dt * 1e3:g} ms, t0={self.t0:g} s, "
            f"{len(self.findings)} findings)"
        )
