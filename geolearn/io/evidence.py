"""Header claims weighed against evidence: coordinate units, scalars, elevation sign, delays, geometry.

Each function takes header columns (already read, one value per trace), decides which reading to use
and returns it with the :class:`~geolearn.io.findings.Finding` objects that explain any contradiction.
An explicit caller override always wins; it is recorded as a finding when the headers say otherwise.

Plausibility ranges (why a value cannot be what a header claims):

- a longitude lies in [-180, 180] degrees and a latitude in [-90, 90] (x is easting/longitude, y is
  northing/latitude in SEG-Y); seconds of arc are 3600 times larger, DMS (DDDMMSS) has minutes and
  seconds digits below 60;
- the spacing of neighbouring receivers (or shots) of a seismic survey lies between
  :data:`MIN_SPACING` and :data:`MAX_SPACING` metres, and angles are accepted only for spacings of
  :data:`MIN_ANGULAR_SPACING` to :data:`MAX_ANGULAR_SPACING` metres; one degree is about 111.2 km,
  one second of arc about 30.9 m.
"""

from __future__ import annotations

import numpy as np

from geolearn.errors import ConfigError
from geolearn.io.findings import Finding

__all__ = [
    "COORDINATE_UNITS",
    "MAX_SPACING",
    "MIN_SPACING",
    "decide_coordinate_units",
    "decide_elevation_sign",
    "decide_scalar",
    "typical_spacing",
]

COORDINATE_UNITS: dict[str, str] = {
    "m": "metres",
    "ft": "feet",
    "deg": "decimal degrees",
    "arcsec": "seconds of arc",
    "dms": "degrees, minutes, seconds (DDDMMSS)",
}
METRES_PER_UNIT = {"m": 1.0, "ft": 0.3048}
MIN_SPACING, MAX_SPACING = 0.1, 2000.0  # metres between neighbouring receivers or shots
# Narrower for angles: geographic coordinates are seismic only at ordinary group/shot intervals.
MIN_ANGULAR_SPACING, MAX_ANGULAR_SPACING = 1.0, 500.0
_METRES_PER_ANGLE = {"deg": 111_195.0, "arcsec": 111_195.0 / 3600}
_ANGLE_LIMIT = {"deg": 1.0, "arcsec": 3600.0, "dms": 10_000.0}  # (180, 90) times this
# Byte 89 (coordinate units), SEG-Y rev 1/2; 0 (unset) and 1 mean a length in the binary header's system.
_BYTE89 = {2: "arcsec", 3: "deg", 4: "dms"}
_SYSTEM = {1: "m", 2: "ft"}  # binary header bytes 3255-3256
_VALID_SCALARS = frozenset({1, 10, 100, 1000, 10000, -10, -100, -1000, -10000})


def _range(v: np.ndarray) -> str:
    return f"{np.min(v):g}..{np.max(v):g}"


def typical_spacing(sources: np.ndarray, receivers: np.ndarray) -> float:
    """Median distance between consecutive receivers of the same shot (file order), in file units.

    Falls back to the median distance between consecutive distinct shot positions; NaN when neither
    exists (one trace per shot at one position).

    Parameters
    ----------
    sources, receivers : numpy.ndarray, shape (n_traces, 2)
        Scaled x, y of each trace's source and receiver.
    """
    same_shot = np.all(sources[1:] == sources[:-1], axis=1)
    steps = np.hypot(*(receivers[1:] - receivers[:-1]).T)[same_shot]
    steps = steps[steps > 0]
    if steps.size == 0:
        steps = np.hypot(*(sources[1:] - sources[:-1]).T)
        steps = steps[steps > 0]
    return float(np.median(steps)) if steps.size else float("nan")


def _angular_reason(units: str, xy: np.ndarray, spacing: float) -> str | None:
    """Why ``xy`` cannot be angles in ``units`` (None when they can)."""
    lim = _ANGLE_LIMIT[units]
    x, y = np.abs(xy[:, 0::2]), np.abs(xy[:, 1::2])
    if x.max() > 180 * lim or y.max() > 90 * lim:
        return (
            f"x reaches {x.max():g} and y {y.max():g}, beyond a longitude's {180 * lim:g} or a "
            f"latitude's {90 * lim:g} in {COORDINATE_UNITS[units]}"
        )
    if units == "dms":
        whole = np.floor(np.abs(xy))
        if np.any((whole // 100) % 100 >= 60) or np.any(whole % 100 >= 60):
            return "minutes or seconds digits of 60 or more, impossible in DDDMMSS"
        return None
    if np.isfinite(spacing):
        metres = spacing * _METRES_PER_ANGLE[units]
        if not MIN_ANGULAR_SPACING <= metres <= MAX_ANGULAR_SPACING:
            return f"neighbouring receivers {spacing:g} apart would be {metres:.4g} m apart in {COORDINATE_UNITS[units]}"
    return None


def _length_reason(units: str, spacing: float) -> str | None:
    if np.isfinite(spacing):
        metres = spacing * METRES_PER_UNIT[units]
        if not MIN_SPACING <= metres <= MAX_SPACING:
            return f"neighbouring receivers would be {metres:.4g} m apart in {COORDINATE_UNITS[units]}"
    return None


def _reason(units: str, xy: np.ndarray, spacing: float) -> str | None:
    return _length_reason(units, spacing) if units in METRES_PER_UNIT else _angular_reason(units, xy, spacing)


def decide_coordinate_units(
    codes: np.ndarray,
    measurement_system: int,
    xy: np.ndarray,
    spacing: float,
    override: str | None = None,
) -> tuple[str, list[Finding]]:
    """Units of the x/y coordinates: byte 89 and the binary header, checked against the values.

    Parameters
    ----------
    codes : numpy.ndarray of int, shape (n_traces,)
        Byte 89 of every trace (1 length, 2 seconds of arc, 3 decimal degrees, 4 DMS; 0 unset).
    measurement_system : int
        Binary header bytes 3255-3256 (1 metres, 2 feet).
    xy : numpy.ndarray, shape (n_traces, 4)
        Scaled source x, y and receiver x, y, in the file's units.
    spacing : float
        :func:`typical_spacing` of the same coordinates.
    override : {'m', 'ft', 'deg', 'arcsec', 'dms'}, optional
        The caller's units; used as given.

    Returns
    -------
    units : str
        A key of :data:`COORDINATE_UNITS`.
    findings : list of Finding
    """
    if override is not None and override not in COORDINATE_UNITS:
        raise ConfigError(f"coordinate_units={override!r} is not one of {sorted(COORDINATE_UNITS)}")
    length = _SYSTEM.get(measurement_system, "m")
    distinct = np.unique(codes)
    claims = {_BYTE89.get(int(c), length) for c in distinct}
    claimed = _BYTE89.get(int(distinct[0]), length) if len(claims) == 1 else None
    claim_text = (
        f"byte 89 = {_values_text(distinct)} over {codes.size} traces, binary header bytes 3255-3256 = "
        f"{measurement_system} ({COORDINATE_UNITS.get(_SYSTEM.get(measurement_system, ''), 'unset, metres assumed')})"
    )
    if override is not None:
        reason = _reason(override, xy, spacing) if np.any(xy) else None
        if claimed == override and reason is None:
            return override, []
        evidence = f"the caller's coordinate_units={override!r}" + (f", although {reason}" if reason else "")
        chosen = f"{COORDINATE_UNITS[override]}, as the caller said"
        return override, [Finding("coordinate_units", claim_text, evidence, chosen)]
    if not np.any(xy):
        return claimed or length, []
    # Another reading is tried only where mistakes happen: angular claims over lengths, and lengths
    # holding decimal degrees; seconds of arc and DMS are taken only when byte 89 says so.
    candidates = [claimed] if claimed else sorted(claims)
    candidates += [u for u in (length, "deg") if u not in candidates]
    reasons = {u: _reason(u, xy, spacing) for u in candidates}
    chosen = next((u for u in candidates if reasons[u] is None), claimed or length)
    if chosen == claimed:
        return chosen, []
    why = "; ".join(
        f"not {COORDINATE_UNITS[u]}: {reasons[u]}" for u in candidates if reasons[u] and u != chosen
    )
    if claimed is None:
        why = f"traces disagree on byte 89; {why}" if why else "traces disagree on byte 89"
    if reasons[chosen] is not None:
        why += "; no reading is plausible, the header's is kept"
    elif chosen in METRES_PER_UNIT:
        why += f"; plausible as {COORDINATE_UNITS[chosen]} (receivers {spacing * METRES_PER_UNIT[chosen]:.4g} m apart)"
    return chosen, [Finding("coordinate_units", claim_text, why, COORDINATE_UNITS[chosen])]


def _values_text(values: np.ndarray, limit: int = 6) -> str:
    shown = ", ".join(str(int(v)) for v in values[:limit])
    return shown + (", ..." if len(values) > limit else "")


def decide_scalar(
    raw: np.ndarray, values: np.ndarray, what: str, byte: int, override: int | None = None
) -> tuple[np.ndarray, list[Finding]]:
    """Per-trace scalar for coordinates (byte 71) or elevations (byte 69).

    Parameters
    ----------
    raw : numpy.ndarray of int, shape (n_traces,)
        Scalar header values.
    values : numpy.ndarray of int, shape (n_traces, k)
        The raw header values the scalar applies to (a scalar of 0 matters only where they are not 0).
    what : {'coordinate', 'elevation'}
    byte : int
        Where the scalars came from (for the messages).
    override : int, optional
        The caller's scalar for every trace (same rule: positive multiplies, negative divides).

    Returns
    -------
    scalar : numpy.ndarray of int64, shape (n_traces,)
        The scalar to apply to each trace (0 read as 1).
    findings : list of Finding
    """
    topic = f"{what}_scalar"
    distinct = np.unique(raw)
    if override is not None:
        if isinstance(override, bool) or not isinstance(override, (int, np.integer)) or override == 0:
            raise ConfigError(f"{topic}={override!r} must be a non-zero integer such as 1, -100 or 10")
        found = [
            Finding(
                topic,
                f"{_values_text(distinct)} at byte {byte}",
                f"the caller's {topic}",
                f"{override} for every trace",
            )
        ]
        return np.full(raw.shape, int(override), dtype=np.int64), [] if distinct.tolist() == [
            override
        ] else found
    findings = []
    zero = np.flatnonzero((raw == 0) & np.any(values != 0, axis=1))
    if zero.size:
        findings.append(
            Finding(
                topic,
                f"0 at byte {byte} in {zero.size} of {raw.size} traces",
                "0 is not a SEG-Y rev 1 scalar (±1, ±10, ..., ±10000); rev 2 reads it as 1",
                "1 (values used as stored)",
                traces=zero,
            )
        )
    odd = [int(v) for v in distinct if v != 0 and int(v) not in _VALID_SCALARS]
    if odd:
        findings.append(
            Finding(
                topic,
                f"{_values_text(np.array(odd))} at byte {byte}",
                "not a power of ten",
                "applied as written",
            )
        )
    nonzero = distinct[distinct != 0]
    if nonzero.size > 1:
        findings.append(
            Finding(
                topic,
                f"different scalars at byte {byte}: {_values_text(nonzero)}",
                f"a file normally uses one {what} scalar",
                "each trace's own scalar applied to that trace",
            )
        )
    return np.where(raw == 0, 1, raw).astype(np.int64), findings


def decide_elevation_sign(
    receiver: np.ndarray,
    source_surface: np.ndarray,
    source_depth: np.ndarray,
    water_depth: np.ndarray,
    override: str | None = None,
) -> tuple[str, list[Finding]]:
    """Whether the elevation fields hold elevations (positive up, SEG-Y) or depths (positive down).

    Evidence that they hold depths (used when ``override`` is None):

    - a marine survey (non-zero water depth at bytes 61/65) whose sources and receivers would all
      lie at or above the sea surface, some above it;
    - sources recorded below a surface at elevation 0 (byte 45 zero, source depth at byte 49
      positive) while every receiver "elevation" (byte 41) is positive: receivers above the surface
      the sources were fired below, as a streamer's tow depth written with the wrong sign puts them.

    Parameters
    ----------
    receiver, source_surface, source_depth : numpy.ndarray of float64, shape (n_traces,)
        Scaled bytes 41, 45 and 49.
    water_depth : numpy.ndarray of float64, shape (n_traces, 2)
        Scaled bytes 61 and 65.
    override : {'up', 'down'}, optional

    Returns
    -------
    z_positive : {'up', 'down'}
    findings : list of Finding
    """
    if override not in (None, "up", "down"):
        raise ConfigError(f"z_positive must be 'up', 'down' or None (decide from evidence), got {override!r}")
    source = source_surface - source_depth
    claim = (
        f"elevations positive up (SEG-Y): receivers at {_range(receiver)} m (byte 41), sources at "
        f"{_range(source)} m (byte 45 minus depth at byte 49)"
    )
    above = np.all(receiver >= 0) and np.all(source >= 0) and (np.any(receiver > 0) or np.any(source > 0))
    evidence = None
    if np.any(water_depth != 0) and above:
        evidence = (
            f"water depth {_range(water_depth[water_depth != 0])} m (bytes 61/65) marks a marine survey, whose "
            "sources and receivers cannot all sit above the sea surface"
        )
    elif not np.any(source_surface) and np.all(source_depth > 0) and np.all(receiver > 0):
        evidence = (
            f"sources lie {_range(source_depth)} m below a surface at elevation 0 (bytes 45, 49) while every "
            f"receiver would be {_range(receiver)} m above it: the receiver values are depths"
        )
    if override is not None:
        if evidence is not None and override == "up":
            return "up", [
                Finding("elevation_sign", claim, evidence, "elevations positive up, as the caller said")
            ]
        return override, []
    if evidence is None:
        return "up", []
    return "down", [
        Finding("elevation_sign", claim, evidence, "the elevation fields hold depths, positive down")
    ]
