"""Prestack SEG-Y surveys: traces grouped into shots with their acquisition geometry.

Positions follow SEG-Y: x and y (bytes 73/77 for sources, 81/85 for receivers) scaled by the
coordinate scalar at byte 71, and *elevations positive up* (receiver group elevation at byte 41; source
elevation = surface elevation at source, byte 45, minus source depth below surface, byte 49) scaled by
the elevation scalar at byte 69, both applied per trace (0 means 1, negative divides). Some writers
(JUDI, Devito-based codes) store depths positive down in the elevation fields; read those with
``z_positive="down"``. :meth:`Survey.model_positions` converts to the depth-positive-down (x, z) or
(x, y, z) frame the wave operators take.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from geolearn.errors import ConfigError, GeometryError
from geolearn.io.layout import HeaderMapping, apply_scalar
from geolearn.io.segyfile import SegyFile

__all__ = ["Shot", "ShotDataset", "Survey", "read_survey"]

log = logging.getLogger("geolearn.io.survey")

_FEET = 0.3048
# Coordinate units (byte 89): 2 = seconds of arc, 3 = decimal degrees, 4 = degrees-minutes-seconds.
_ANGULAR_UNITS = {2: "seconds of arc", 3: "decimal degrees", 4: "degrees, minutes, seconds"}


@dataclass(frozen=True)
class Shot:
    """One shot gather.

    Attributes
    ----------
    shot_id : int
        Value of the grouping key (field record number by default).
    data : numpy.ndarray, shape (n_receivers, nt)
        Samples, time last.
    source : numpy.ndarray of float64, shape (3,)
        Source x, y, elevation in metres (elevation positive up).
    receivers : numpy.ndarray of float64, shape (n_receivers, 3)
        Receiver x, y, elevation in metres (elevation positive up).
    offsets : numpy.ndarray of float64, shape (n_receivers,)
        Signed offsets from trace-header byte 37, metres.
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


class Survey:
    """A prestack SEG-Y file indexed by shot (one header scan; samples read lazily per shot).

    Use :func:`read_survey` to build one. ``len(survey)`` is the number of shots, ``survey[i]``
    reads shot ``i`` (a :class:`Shot`), and iterating yields every shot in file order.

    Attributes
    ----------
    file : SegyFile
        Format, byte order, time axis and anomalies found while opening.
    shot_ids : numpy.ndarray of int64, shape (n_shots,)
    source_positions : numpy.ndarray of float64, shape (n_shots, 3)
        x, y, elevation (metres, elevation positive up) of each shot's first trace.
    t0, dt : float
        Start time and sample interval, seconds.
    nt : int
        Samples per trace.
    anomalies : list of str
        Everything inconsistent seen in the headers (stale counts, varying scalars, ...).
    """

    def __init__(
        self,
        file: SegyFile,
        shot_ids: np.ndarray,
        shot_traces: list[np.ndarray],
        receivers: np.ndarray,
        sources: np.ndarray,
        offsets: np.ndarray,
        mapping: HeaderMapping,
        dtype: np.dtype,
        anomalies: list[str],
        angular_units: str | None,
    ) -> None:
        self.file = file
        self.shot_ids = shot_ids
        self._shot_traces = shot_traces
        self._receivers = receivers
        self._sources = sources
        self._offsets = offsets
        self.mapping = mapping
        self.dtype = np.dtype(dtype)
        self.anomalies = anomalies
        self._angular_units = angular_units
        self.source_positions = np.stack([sources[t[0]] for t in shot_traces])

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
        """Header offsets (byte 37, metres) of shot ``i``, shape (n_receivers,)."""
        return self._offsets[self.trace_indices(i)]

    def read(self, i: int) -> np.ndarray:
        """Samples of shot ``i``, shape (n_receivers, nt), dtype :attr:`dtype`."""
        return self.file.traces(self.trace_indices(i), self.dtype)

    def __getitem__(self, i: int) -> Shot:
        idx = self.trace_indices(i)
        return Shot(
            shot_id=int(self.shot_ids[self._check(i)]),
            data=self.file.traces(idx, self.dtype),
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
        """Source and receiver positions of shot ``i`` in the wave operators' frame.

        Depth is positive down from the datum: ``z = datum - elevation`` (metres).

        Parameters
        ----------
        i : int
            Shot index (position, not id).
        ndim : {2, 3}
            2 gives (x, z), valid only for lines at constant y; 3 gives (x, y, z).
        datum : float
            Elevation (metres, positive up) of the model's z = 0 plane.

        Returns
        -------
        source : numpy.ndarray of float64, shape (ndim,)
        receivers : numpy.ndarray of float64, shape (n_receivers, ndim)

        Raises
        ------
        GeometryError
            All coordinates are zero, coordinates are angular, or ``ndim=2`` for a line that varies in y.
        """
        if ndim not in (2, 3):
            raise ConfigError(f"ndim must be 2 or 3, got {ndim}")
        idx = self.trace_indices(i)
        src, rec = self.source_positions[self._check(i)], self._receivers[idx]
        where = f"{self.path}, shot {i} (id {self.shot_ids[self._check(i)]}, traces {idx[0]}..{idx[-1]})"
        if self._angular_units:
            raise GeometryError(
                f"{where}: coordinates are in {self._angular_units} (byte 89); project them to metres first"
            )
        if not np.any(src[:2]) and not np.any(rec[:, :2]):
            raise GeometryError(
                f"{where}: source and receiver coordinates (bytes 73/77, 81/85) are all zero; "
                "the file has no geometry, give a header mapping that points at the coordinates"
            )
        pts = np.vstack([src, rec])
        if ndim == 2 and np.ptp(pts[:, 1]) > 1e-6 * max(1.0, np.abs(pts[:, 1]).max()):
            raise GeometryError(
                f"{where}: y varies by {np.ptp(pts[:, 1]):.3f} m; use ndim=3 for a 3D geometry"
            )
        cols = [0, 2] if ndim == 2 else [0, 1, 2]
        out = pts[:, cols].copy()
        out[:, -1] = datum - out[:, -1]
        return out[0], out[1:]

    def as_dataset(self, dtype: Any = None) -> ShotDataset:
        """A :class:`torch.utils.data.Dataset` view of the shots (see :class:`ShotDataset`)."""
        return ShotDataset(self, dtype=dtype)

    def __repr__(self) -> str:
        rps = self.receivers_per_shot
        return (
            f"Survey({str(self.path)!r}: {self.n_shots} shots, {self.n_traces} traces, "
            f"{rps.min()}..{rps.max()} receivers/shot, nt={self.nt}, dt={self.dt * 1e3:g} ms, t0={self.t0:g} s)"
        )


def _shot_view():
    from torch.utils.data import Dataset

    return Dataset


class ShotDataset(_shot_view()):
    """Shots of a :class:`Survey` as a :class:`torch.utils.data.Dataset`.

    ``dataset[i]`` is a dict with ``"data"`` (tensor (n_receivers, nt)), ``"source"`` (tensor (3,)),
    ``"receivers"`` (tensor (n_receivers, 3)) — positions x, y, elevation in metres, elevation positive
    up — ``"t0"``, ``"dt"`` (seconds) and ``"shot_id"``. Shots with different receiver counts cannot be
    stacked by the default collate; use ``batch_size=1`` or a custom ``collate_fn`` then.
    """

    def __init__(self, survey: Survey, dtype: Any = None) -> None:
        import torch

        self.survey = survey
        self.dtype = dtype if dtype is not None else torch.float32

    def __len__(self) -> int:
        return len(self.survey)

    def __getitem__(self, i: int) -> dict[str, Any]:
        import torch

        shot = self.survey[i]
        return {
            "data": torch.as_tensor(shot.data).to(self.dtype),
            "source": torch.as_tensor(shot.source).to(self.dtype),
            "receivers": torch.as_tensor(shot.receivers).to(self.dtype),
            "t0": shot.t0,
            "dt": shot.dt,
            "shot_id": shot.shot_id,
        }


def _group(keys: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Group trace indices by key rows, shots in order of first appearance, traces in file order."""
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    shot_of_trace = rank[inverse]
    by_shot = np.argsort(shot_of_trace, kind="stable")
    bounds = np.cumsum(np.bincount(shot_of_trace, minlength=order.size))[:-1]
    return first[order], np.split(by_shot, bounds)


def read_survey(
    path: str | os.PathLike,
    *,
    key: str | int = "field_record",
    mapping: HeaderMapping | dict | None = None,
    z_positive: str = "up",
    dt: float | None = None,
    dtype: Any = np.float32,
) -> Survey:
    """Index a prestack SEG-Y file by shot from one scan of its trace headers.

    Parameters
    ----------
    path : path-like
    key : str or int
        Grouping key: a logical header name of :class:`HeaderMapping` (default ``"field_record"``,
        byte 9), a byte position, or ``"source_xy"`` to group by scaled source coordinates.
    mapping : HeaderMapping or dict, optional
        Non-standard header byte positions (validated against the 240-byte layout).
    z_positive : {'up', 'down'}
        How the file stores elevations: ``'up'`` is SEG-Y (elevations); ``'down'`` means the elevation
        fields hold depths (JUDI/Devito writers). Positions are returned as elevations either way.
    dt : float, optional
        Sample interval in seconds, used only when no header holds a positive one.
    dtype : numpy dtype
        dtype of the samples returned (float32 default).

    Returns
    -------
    Survey

    Raises
    ------
    SegyFormatError
        Malformed file or header mapping (see :meth:`SegyFile.open`).
    """
    if z_positive not in ("up", "down"):
        raise ConfigError(f"z_positive must be 'up' or 'down', got {z_positive!r}")
    if not isinstance(mapping, HeaderMapping):
        mapping = HeaderMapping(mapping or {})
    if dtype is None or not np.issubdtype(np.dtype(dtype), np.floating):
        raise ConfigError(f"dtype must be a floating dtype such as float32 or float64, got {dtype!r}")
    file = SegyFile.open(path, dt=dt)
    anomalies = list(file.anomalies)

    def h(name: str) -> np.ndarray:
        return file.header(*mapping.spec(name))

    cscal, escal = h("coordinate_scalar"), h("elevation_scalar")
    for name, s in (("coordinate scalar (byte 71)", cscal), ("elevation scalar (byte 69)", escal)):
        if np.unique(s).size > 1:
            anomalies.append(f"varying {name}: values {np.unique(s)[:8].tolist()}")
    unit = 1.0
    if file.measurement_system == 2:
        unit = _FEET
        log.info("%s: measurement system is feet (byte 3255); converting to metres", file.path)
    units = np.unique(h("coordinate_units"))
    angular = next((_ANGULAR_UNITS[int(u)] for u in units if int(u) in _ANGULAR_UNITS), None)
    xy = lambda a, b: unit * apply_scalar(np.stack([h(a), h(b)], axis=1), cscal[:, None])  # noqa: E731
    elev = lambda a: unit * apply_scalar(h(a), escal)  # noqa: E731
    sign = 1.0 if z_positive == "up" else -1.0
    rec = np.column_stack([xy("group_x", "group_y"), sign * elev("receiver_elevation")])
    src_z = elev("source_surface_elevation") - elev("source_depth") * sign
    src = np.column_stack([xy("source_x", "source_y"), sign * src_z])
    if key == "source_xy":
        keys = src[:, :2]
    elif isinstance(key, (str, int)):
        keys = h(key)[:, None]  # type: ignore[arg-type]
    else:
        raise ConfigError(f"key must be a header name, a byte position or 'source_xy', got {key!r}")
    first, shot_traces = _group(keys)
    shot_ids = np.arange(len(shot_traces)) if key == "source_xy" else keys[first, 0].astype(np.int64)
    moving = [int(sid) for sid, t in zip(shot_ids, shot_traces) if np.ptp(src[t], axis=0).max() > 0]
    if moving:
        anomalies.append(
            f"source position varies within {len(moving)} of {len(shot_traces)} shots "
            f"(ids {moving[:5]}{'...' if len(moving) > 5 else ''}); each shot uses its first trace's source"
        )
    delays = h("delay")
    if np.unique(delays).size > 1:
        anomalies.append(
            f"delay recording time varies across traces ({np.unique(delays)[:8].tolist()} ms); t0 from trace 0"
        )
    for a in anomalies:
        log.warning("%s: %s", file.path, a)
    return Survey(
        file,
        shot_ids,
        shot_traces,
        rec,
        src,
        h("offset").astype(np.float64),
        mapping,
        dtype,
        anomalies,
        angular,
    )
