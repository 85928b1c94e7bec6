"""``read_survey``: index a prestack SEG-Y file by shot, deciding every header question on evidence.

One engine for :func:`read_survey` and :func:`~geolearn.io.inspect`: headers are read once, each
contradiction is settled by :mod:`geolearn.io.evidence` (header against header and against plausible
values) and :mod:`geolearn.io.trace_evidence` (header against samples), and the outcome is a list of
:class:`~geolearn.io.findings.Finding` on the survey. Nothing is raised for a file whose headers can be read
sensibly; the wave frame refuses only what cannot be modelled (angular coordinates, no geometry).
"""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np

from geolearn.errors import ConfigError
from geolearn.io.evidence import (
    METRES_PER_UNIT,
    decide_coordinate_units,
    decide_elevation_sign,
    decide_scalar,
    typical_spacing,
)
from geolearn.io.findings import Finding
from geolearn.io.layout import HeaderMapping, apply_scalar
from geolearn.io.line import fit_line
from geolearn.io.segyfile import SegyFile
from geolearn.io.survey import Survey
from geolearn.io.trace_evidence import scan_shots

__all__ = ["read_survey"]

log = logging.getLogger("geolearn.io.reader")

_POLARITY = ("auto", "as_recorded")


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


def _listing(values: np.ndarray, limit: int = 8) -> str:
    shown = ", ".join(str(int(v)) for v in values[:limit])
    return f"[{shown}{', ...' if len(values) > limit else ''}]"


def _positions(
    h: Any, file: SegyFile, overrides: dict[str, Any], findings: list[Finding]
) -> tuple[dict[str, np.ndarray], str, str]:
    """Sources and receivers (n_traces, 3): x, y in metres (or an angular unit), elevation positive up."""
    raw_xy = np.column_stack([h("source_x"), h("source_y"), h("group_x"), h("group_y")])
    raw_z = np.column_stack(
        [
            h(k)
            for k in (
                "receiver_elevation",
                "source_surface_elevation",
                "source_depth",
                "water_depth_source",
                "water_depth_group",
            )
        ]
    )
    cscal, found = decide_scalar(
        h("coordinate_scalar"), raw_xy, "coordinate", 71, overrides["coordinate_scalar"]
    )
    findings += found
    escal, found = decide_scalar(h("elevation_scalar"), raw_z, "elevation", 69, overrides["elevation_scalar"])
    findings += found
    xy = apply_scalar(raw_xy, cscal[:, None])
    units, found = decide_coordinate_units(
        h("coordinate_units"),
        file.measurement_system,
        xy,
        typical_spacing(xy[:, :2], xy[:, 2:]),
        overrides["coordinate_units"],
    )
    findings += found
    # Elevations are lengths in the binary header's system, unless the caller named a length unit.
    length = (
        units
        if units in METRES_PER_UNIT and overrides["coordinate_units"]
        else ("ft" if file.measurement_system == 2 else "m")
    )
    z = METRES_PER_UNIT[length] * apply_scalar(raw_z, escal[:, None])
    z_positive, found = decide_elevation_sign(z[:, 0], z[:, 1], z[:, 2], z[:, 3:], overrides["z_positive"])
    findings += found
    if z_positive == "up":
        rec_z, src_z = z[:, 0], z[:, 1] - z[:, 2]
    else:  # depths: the source sits at (surface depth + depth below it), both positive down
        rec_z, src_z = -z[:, 0], -(z[:, 1] + z[:, 2])
    xy = xy * METRES_PER_UNIT.get(units, 1.0)
    positions = {
        "sources": np.column_stack([xy[:, :2], src_z]),
        "receivers": np.column_stack([xy[:, 2:], rec_z]),
        "offsets": h("offset").astype(np.float64),
    }
    return positions, units, z_positive


def _line_finding(positions: dict[str, np.ndarray], units: str, findings: list[Finding]):
    """Fit the survey's straight line; a finding when positions leave it or it does not run along x."""
    # sources or receivers whose x/y are all zero are unset, not points of the line
    sets = [p[:, :2] for p in (positions["sources"], positions["receivers"]) if np.any(p[:, :2])]
    xy = np.unique(np.vstack(sets), axis=0) if sets else np.zeros((0, 2))
    if units not in METRES_PER_UNIT or len(xy) < 2:
        return None
    line = fit_line(xy)
    extent = float(np.ptp(line.along(xy)))
    if np.ptp(xy[:, 1]) <= 1e-6 * max(1.0, np.abs(xy[:, 1]).max()):
        return line
    shape = (
        f"up to {line.max_distance:.3g} m off their best straight line"
        if line.max_distance > 1e-6 * max(1.0, extent)
        else "on a straight line that does not run along x"
    )
    findings.append(
        Finding(
            "line_geometry",
            "x/y coordinates (bytes 73/77, 81/85) of a survey read as one 2D line",
            f"sources and receivers lie {shape} (azimuth {line.azimuth:.1f} deg, {extent:.4g} m long)",
            "positions kept as recorded; 2D modelling needs them projected onto that line "
            "(geolearn.processing.project_to_line, preprocess step 'project')",
        )
    )
    return line


def _time_findings(h: Any, file: SegyFile, findings: list[Finding]) -> None:
    delays = h("delay")
    if file.t0 != 0:
        findings.append(
            Finding(
                "delay",
                f"delay recording time {delays[0]} ms at byte 109 (time scalar at byte 215)",
                f"the first sample is recorded {file.t0:g} s after the shot, not at the shot",
                f"time axis starts at t0 = {file.t0:g} s (Survey.t0, Shot.time); modelling must compare from there",
            )
        )
    if np.unique(delays).size > 1:
        changed = np.flatnonzero(delays != delays[0])
        findings.append(
            Finding(
                "delay",
                f"delay recording times {_listing(np.unique(delays))} ms at byte 109",
                f"{changed.size} traces start at a different time than trace 0",
                "every trace read on trace 0's time axis (not shifted)",
                traces=changed,
            )
        )


def _duplicates(h: Any, file: SegyFile, positions: dict, findings: list[Finding]) -> np.ndarray:
    """Traces repeating an earlier trace's record, positions and samples (dropped); a mask (n_traces,)."""
    keyed = np.column_stack([h("field_record"), positions["sources"][:, :2], positions["receivers"][:, :2]])
    drop = np.zeros(file.n_traces, dtype=bool)
    if not np.any(keyed[:, 1:]):
        return drop
    _, first, inverse = np.unique(keyed, axis=0, return_index=True, return_inverse=True)
    repeats = np.flatnonzero(first[inverse.ravel()] != np.arange(file.n_traces))
    if not repeats.size:
        return drop
    originals = first[inverse.ravel()][repeats]
    # bit-identical samples make a copy; anything else is a separate recording at the same place
    a, b = file.traces(repeats, np.float64), file.traces(originals, np.float64)
    copies = np.all((a == b) | (np.isnan(a) & np.isnan(b)), axis=1)
    drop[repeats[copies]] = True
    if copies.any():
        findings.append(
            Finding(
                "duplicate_traces",
                f"{copies.sum()} traces with the field record, source and receiver position of an earlier trace",
                "their samples are identical to that trace's: copies",
                "the later copies are left out of their shots",
                traces=repeats[copies],
            )
        )
    if (~copies).any():
        findings.append(
            Finding(
                "duplicate_traces",
                f"{(~copies).sum()} traces with the field record, source and receiver position of an earlier trace",
                "their samples differ from that trace's: separate recordings",
                "kept",
                traces=repeats[~copies],
            )
        )
    return drop


def _shots(
    h: Any, file: SegyFile, key: str | int, positions: dict[str, np.ndarray], findings: list[Finding]
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Shot ids and the file traces of each shot (copies of other traces left out)."""
    keys = positions["sources"][:, :2] if key == "source_xy" else h(key)[:, None]
    if not np.any(positions["sources"][:, :2]) and not np.any(positions["receivers"][:, :2]):
        findings.append(
            Finding(
                "no_geometry",
                "source and receiver x/y at bytes 73/77, 81/85",
                "all coordinates are zero",
                "no acquisition geometry: shots can be read, not modelled",
            )
        )
    drop = _duplicates(h, file, positions, findings)
    first, shot_traces = _group(keys)
    shot_ids = np.arange(len(shot_traces)) if key == "source_xy" else keys[first, 0].astype(np.int64)
    moving = [
        sid for sid, t in zip(shot_ids, shot_traces) if np.ptp(positions["sources"][t], axis=0).max() > 0
    ]
    if moving:
        findings.append(
            Finding(
                "moving_source",
                "one source per shot",
                f"the source position varies within shots {_listing(np.array(moving))}",
                "each shot uses its first trace's source position",
            )
        )
    return shot_ids, [t[~drop[t]] for t in shot_traces]


def _dead_findings(
    masks: dict[str, np.ndarray] | None, flagged: np.ndarray, polarity: str, findings: list[Finding]
) -> None:
    """Findings about dead, non-finite and reversed traces; ``masks`` None when samples were not scanned."""

    def add(topic: str, mask: np.ndarray, claimed: str, evidence: str, chosen: str) -> None:
        if mask.any():
            findings.append(
                Finding(topic, claimed.format(n=mask.sum()), evidence, chosen, traces=np.flatnonzero(mask))
            )

    flag = "{n} traces dead (trace id 2 at byte 29)"
    if masks is None:
        add(
            "dead_traces",
            flagged,
            flag,
            "samples not scanned (scan_samples=False)",
            "dead, as flagged: zeroed on read",
        )
        return
    add(
        "dead_traces",
        flagged & ~masks["dead"],
        flag,
        "their samples are not all zero",
        "dead, as flagged: zeroed on read",
    )
    add("dead_traces", flagged & masks["dead"], flag, "their samples are all zero", "dead: zero traces")
    add(
        "dead_traces",
        ~flagged & masks["dead"],
        "{n} live traces (byte 29 is not 2)",
        "every sample is zero",
        "dead: kept as zero traces (the processing step 'edit' drops them)",
    )
    add(
        "nonfinite_samples",
        masks["nonfinite"],
        "{n} traces of numbers",
        "they hold NaN or infinite samples",
        "zeroed on read (treated as dead)",
    )
    chosen = "multiplied by -1 on read" if polarity == "auto" else "kept as recorded (polarity='as_recorded')"
    add(
        "reversed_polarity",
        masks["reversed"],
        "{n} traces of the same polarity as the rest (no header marks a flip)",
        "each is anti-correlated with its neighbours in the shot gather",
        chosen,
    )


def read_survey(
    path: str | os.PathLike,
    *,
    key: str | int = "field_record",
    header: HeaderMapping | dict | None = None,
    coordinate_units: str | None = None,
    coordinate_scalar: int | None = None,
    elevation_scalar: int | None = None,
    z_positive: str | None = None,
    dt: float | None = None,
    scan_samples: bool = True,
    polarity: str = "auto",
    dtype: Any = np.float32,
    progress: bool = False,
) -> Survey:
    """Index a prestack SEG-Y file by shot, settling every header contradiction on evidence.

    Parameters
    ----------
    path : path-like
    key : str or int
        Grouping key: a logical header name of :class:`HeaderMapping` (default ``"field_record"``,
        byte 9), a byte position, or ``"source_xy"`` to group by scaled source coordinates.
    header : HeaderMapping or dict, optional
        Non-standard byte positions, e.g. ``{"source_x": 181}`` (see :class:`HeaderMapping`).
    coordinate_units : {'m', 'ft', 'deg', 'arcsec', 'dms'}, optional
        Units of the x/y coordinates; by default byte 89 and the binary measurement system, unless the
        values cannot be in those units (a finding says which reading was chosen and why).
    coordinate_scalar, elevation_scalar : int, optional
        Scalar applied to every trace instead of bytes 71 / 69 (positive multiplies, negative divides).
    z_positive : {'up', 'down'}, optional
        ``'up'``: the elevation fields hold elevations (SEG-Y); ``'down'``: they hold depths (JUDI,
        Devito writers). By default 'up' unless the headers show depths (see
        :func:`~geolearn.io.evidence.decide_elevation_sign`). Positions are returned as elevations.
    dt : float, optional
        Sample interval in seconds, overriding the headers.
    scan_samples : bool
        Decode every shot once to find dead, non-finite and reversed-polarity traces (one extra read
        of the data; ``False`` indexes from the headers alone).
    polarity : {'auto', 'as_recorded'}
        'auto' flips traces the scan finds reversed whenever a shot is read.
    dtype : numpy dtype
        dtype of the samples returned (float32 default).
    progress : bool
        Show a progress bar while scanning samples.

    Returns
    -------
    Survey
        With :attr:`Survey.findings` listing each contradiction, its evidence and the reading chosen.

    Raises
    ------
    SegyFormatError
        A file that cannot be read at all (see :meth:`SegyFile.open`), a header mapping outside the
        240-byte trace header.
    ConfigError
        An unknown option value.
    """
    if polarity not in _POLARITY:
        raise ConfigError(f"polarity must be one of {_POLARITY}, got {polarity!r}")
    if isinstance(key, bool) or not isinstance(key, (str, int)):
        raise ConfigError(f"key must be a header name, a byte position or 'source_xy', got {key!r}")
    mapping = header if isinstance(header, HeaderMapping) else HeaderMapping(header or {})
    if dtype is None or not np.issubdtype(np.dtype(dtype), np.floating):
        raise ConfigError(f"dtype must be a floating dtype such as float32 or float64, got {dtype!r}")
    overrides = {
        "coordinate_units": coordinate_units,
        "coordinate_scalar": coordinate_scalar,
        "elevation_scalar": elevation_scalar,
        "z_positive": z_positive,
    }
    file = SegyFile.open(path, dt=dt)
    findings = list(file.findings)
    h = lambda name: file.header(*mapping.spec(name))  # noqa: E731
    positions, units, z_sign = _positions(h, file, overrides, findings)
    _time_findings(h, file, findings)
    shot_ids, shot_traces = _shots(h, file, key, positions, findings)
    line = _line_finding(positions, units, findings)
    flagged = h("trace_id") == 2
    masks = scan_shots(file, shot_traces, progress=progress) if scan_samples else None
    _dead_findings(masks, flagged, polarity, findings)
    sign = np.where(flagged, 0.0, 1.0)
    dead = flagged.copy()
    if masks is not None:
        sign[masks["reversed"] & (polarity == "auto")] *= -1.0
        dead |= masks["dead"] | masks["nonfinite"]
    for f in findings:
        log.warning("%s: %s", file.path, f)
    return Survey(
        file,
        shot_ids,
        shot_traces,
        positions,
        mapping,
        dtype,
        findings=findings,
        coordinate_units=units,
        z_positive=z_sign,
        line=line,
        trace_sign=sign,
        dead_traces=np.flatnonzero(dead),
    )
