"""Defects real field files carry: each one written into a small marine survey, then read back.

For every defect, read_survey and inspect must report the same findings (claimed / evidence / chosen),
choose the reading that the data support, and the override must change the choice.
"""

from __future__ import annotations

import numpy as np
import pytest
import segyio

from geolearn.errors import ConfigError, GeometryError, SegyFormatError
from geolearn.io import HeaderMapping, inspect, read_survey, write_survey

N_SHOTS, N_REC, NT, DT = 4, 48, 400, 0.004
REC_X = 25.0 * np.arange(N_REC)  # receivers every 25 m from 0
SRC_X = 1037.0 + 25.0 * np.arange(N_SHOTS)  # sources at 1037..1112 m: not degrees


def ricker(t: np.ndarray, f0: float = 15.0) -> np.ndarray:
    a = (np.pi * f0 * t) ** 2
    return (1 - 2 * a) * np.exp(-a)


def marine_gathers() -> np.ndarray:
    """(n_shots, n_rec, nt): direct wave at 1500 m/s and two reflections, 15 Hz Ricker."""
    t = DT * np.arange(NT)
    data = np.zeros((N_SHOTS, N_REC, NT))
    for s, sx in enumerate(SRC_X):
        h = REC_X - sx
        arrivals = [(np.abs(h) / 1500.0, 1.0)]
        arrivals += [(np.sqrt(t0**2 + (h / v) ** 2), 0.5) for t0, v in ((0.45, 1600.0), (0.9, 2000.0))]
        for times, amp in arrivals:
            data[s] += amp * ricker(t[None, :] - 0.05 - times[:, None])
    return data.astype(np.float32)


def write_marine(path, data=None, **kwargs):
    data = marine_gathers() if data is None else data
    src = np.column_stack([SRC_X, np.full(N_SHOTS, 6.0)])  # (x, depth) in the modelling frame
    rec = np.stack([np.column_stack([REC_X, np.full(N_REC, 8.0)])] * N_SHOTS)
    return write_survey(path, data, src, rec, DT, **kwargs)


def patch(path, fields: dict[int, object], traces=None) -> None:
    """Overwrite trace-header fields (byte -> value or one value per trace) with segyio."""
    with segyio.open(path, "r+", ignore_geometry=True) as f:
        for i in range(f.tracecount) if traces is None else traces:
            f.header[i] = {byte: int(v[i] if np.ndim(v) else v) for byte, v in fields.items()}


def same_report(path, **options):
    """read_survey and inspect agree on the findings; returns the survey."""
    survey = read_survey(path, **options)
    assert inspect(path, **options).findings == survey.findings
    return survey


def only(survey, topic):
    found = [f for f in survey.findings if f.topic == topic]
    assert len(found) == 1, [str(f) for f in survey.findings]
    return found[0]


@pytest.fixture
def clean(tmp_path):
    return write_marine(tmp_path / "clean.sgy")


def test_clean_survey_has_no_findings(clean):
    s = same_report(clean)
    assert s.findings == [] and s.coordinate_units == "m" and s.z_positive == "up"
    src, rec = s.model_positions(0)
    np.testing.assert_allclose(src, [SRC_X[0], 6.0])
    np.testing.assert_allclose(rec[:, 0], REC_X)
    np.testing.assert_allclose(rec[:, 1], 8.0)


def test_byte_89_degrees_claim_against_metre_values(clean):
    patch(clean, {segyio.TraceField.CoordinateUnits: 3})  # "decimal degrees"
    s = same_report(clean)
    f = only(s, "coordinate_units")
    assert "byte 89 = 3" in f.claimed and "3255-3256 = 1 (metres)" in f.claimed
    assert "x reaches 1175" in f.evidence and "180" in f.evidence  # beyond any longitude
    assert f.chosen == "metres" and "coordinate_units" in f.override
    assert s.coordinate_units == "m"
    np.testing.assert_allclose(s.model_positions(3)[0], [SRC_X[3], 6.0])
    # forcing the header's claim: the wave frame refuses, naming the values and the fix
    forced = same_report(clean, coordinate_units="deg")
    f = only(forced, "coordinate_units")
    assert f.chosen == "decimal degrees, as the caller said" and "although x reaches 1175" in f.evidence
    with pytest.raises(GeometryError, match=r"decimal degrees \(source x 1037\.\.1037.*coordinate_units='m'"):
        forced.model_positions(0)


def test_degrees_under_a_length_claim_are_recognised(tmp_path):
    # a line at 2.31 E, 51.5 N with receivers 0.000225 deg (25 m) apart, byte 89 left at 1 (length)
    path = tmp_path / "geo.sgy"
    lon = 2.31 + 0.000225 * np.arange(N_REC)
    src = np.column_stack([lon[[10, 20, 30, 40]], np.full(N_SHOTS, 51.5), np.full(N_SHOTS, 6.0)])
    rec = np.stack([np.column_stack([lon, np.full(N_REC, 51.5), np.full(N_REC, 8.0)])] * N_SHOTS)
    write_survey(path, marine_gathers(), src, rec, DT)
    s = same_report(path)
    f = only(s, "coordinate_units")
    assert f.chosen == "decimal degrees" and "0.0002" in f.evidence
    with pytest.raises(GeometryError, match=r"decimal degrees.*project them to metres"):
        s.model_positions(0, ndim=3)
    assert same_report(path, coordinate_units="m").coordinate_units == "m"


def test_stale_trace_sample_count_and_wrong_binary_count(clean, tmp_path):
    patch(clean, {segyio.TraceField.TRACE_SAMPLE_COUNT: 462})
    s = same_report(clean)
    f = only(s, "sample_count")
    assert "462" in f.claimed and f.chosen.startswith(f"{NT} samples") and len(f.traces) == N_SHOTS * N_REC
    assert s.nt == NT
    # the binary header wrong instead: the file size rules it out, the trace headers' count fits
    other = write_marine(tmp_path / "bin.sgy")
    with segyio.open(other, "r+", ignore_geometry=True) as g:
        g.bin.update({segyio.BinField.Samples: 462})
    s = same_report(other)
    f = only(s, "sample_count")
    assert (
        "462 samples per trace in the binary header" in f.claimed
        and f.chosen == f"{NT} samples (trace header)"
    )
    np.testing.assert_array_equal(s.read(0), marine_gathers()[0])


def test_elevations_holding_depths(clean, tmp_path):
    # a streamer at 8 m and a source at 6 m written as positive "elevations" with a source depth
    patch(clean, {41: 800, 45: 0, 49: 600, 69: -100})
    s = same_report(clean)
    f = only(s, "elevation_sign")
    assert "positive up" in f.claimed and "below a surface at elevation 0" in f.evidence
    assert s.z_positive == "down"
    src, rec = s.model_positions(0)
    assert src[1] == pytest.approx(6.0) and np.allclose(rec[:, 1], 8.0)
    up = same_report(clean, z_positive="up")  # the override is obeyed, and the contradiction still shown
    assert only(up, "elevation_sign").chosen.endswith("as the caller said")
    assert up.model_positions(0)[1][0, 1] == pytest.approx(-8.0)
    # marine evidence from the water depth at bytes 61/65
    wet = write_marine(tmp_path / "wet.sgy")
    patch(wet, {41: 800, 45: 600, 49: 0, 61: 50000, 65: 50000, 69: -100})
    s = same_report(wet)
    assert "water depth 500..500 m" in only(s, "elevation_sign").evidence
    assert s.model_positions(1)[0][1] == pytest.approx(6.0)


def test_non_zero_delay(tmp_path):
    path = write_marine(tmp_path / "delay.sgy", t0=0.1)
    s = same_report(path)
    f = only(s, "delay")
    assert "100 ms" in f.claimed and "t0 = 0.1 s" in f.chosen and s.t0 == pytest.approx(0.1)
    assert s[0].time[0] == pytest.approx(0.1)
    patch(path, {109: 120}, traces=[5, 6])
    s = same_report(path)
    varying = [f for f in s.findings if f.topic == "delay" and f.traces]
    assert len(varying) == 1 and varying[0].traces == (5, 6)


def test_dead_traces(clean):
    data = marine_gathers()
    patch(clean, {29: 2}, traces=[3])  # flagged dead but holding samples
    with segyio.open(clean, "r+", ignore_geometry=True) as f:
        f.trace[50] = np.zeros(NT, dtype=np.float32)  # live flag, all zero
    s = same_report(clean)
    flagged, zero = (f for f in s.findings if f.topic == "dead_traces")
    assert (
        flagged.traces == (3,) and "not all zero" in flagged.evidence and "zeroed on read" in flagged.chosen
    )
    assert zero.traces == (50,) and "kept as zero traces" in zero.chosen
    assert s.dead_traces.tolist() == [3, 50]
    shot0, shot1 = s.read(0), s.read(1)
    assert not shot0[3].any() and not shot1[2].any()
    np.testing.assert_array_equal(shot0[4:], data[0, 4:])
    assert inspect(clean).dead_traces == 2


def test_reversed_polarity(clean):
    data = marine_gathers()
    flipped = [7, 30, 31, N_REC + 12]  # two lone traces and an adjacent pair
    with segyio.open(clean, "r+", ignore_geometry=True) as f:
        for i in flipped:
            f.trace[i] = -f.trace[i]
    s = same_report(clean)
    f = only(s, "reversed_polarity")
    assert f.traces == tuple(flipped) and f.chosen == "multiplied by -1 on read"
    np.testing.assert_array_equal(s.read(0), data[0])  # flipped back
    np.testing.assert_array_equal(s.read(1), data[1])
    kept = same_report(clean, polarity="as_recorded")
    assert only(kept, "reversed_polarity").traces == tuple(flipped)
    np.testing.assert_array_equal(kept.read(0)[7], -data[0, 7])
    assert inspect(clean).reversed_traces == 4


def test_reversed_polarity_not_flagged_in_noise(tmp_path):
    rng = np.random.default_rng(0)
    path = write_marine(
        tmp_path / "noise.sgy", data=rng.standard_normal((N_SHOTS, N_REC, NT)).astype(np.float32)
    )
    assert read_survey(path).findings == []


def test_crooked_line(tmp_path):
    path = tmp_path / "crooked.sgy"
    y = lambda x: 30.0 * np.sin(2 * np.pi * x / 600.0)  # noqa: E731  (two full periods over 1175 m)
    src = np.column_stack([SRC_X, y(SRC_X), np.full(N_SHOTS, 6.0)])
    rec = np.stack([np.column_stack([REC_X, y(REC_X), np.full(N_REC, 8.0)])] * N_SHOTS)
    write_survey(path, marine_gathers(), src, rec, DT)
    s = same_report(path)
    f = only(s, "line_geometry")
    assert "off their best straight line" in f.evidence and "project_to_line" in f.chosen
    # brute force: the line through the centroid that minimises the squared distances
    xy = np.unique(np.vstack([src[:, :2], rec.reshape(-1, 3)[:, :2]]), axis=0)
    centred = xy - xy.mean(axis=0)
    angles = np.linspace(0, np.pi, 180001)
    across = centred @ np.stack([-np.sin(angles), np.cos(angles)])
    best = np.argmin((across**2).sum(axis=0))
    assert s.line.max_distance == pytest.approx(np.abs(across[:, best]).max(), rel=1e-4)
    assert s.line.azimuth == pytest.approx((90.0 - np.degrees(angles[best])) % 180, abs=1e-3)
    with pytest.raises(GeometryError, match=r"y varies.*project_to_line"):
        s.model_positions(0)
    assert s.model_positions(0, ndim=3)[0][1] == pytest.approx(y(SRC_X[0]), abs=1e-4)  # stored to 0.1 mm


def test_mixed_coordinate_scalars(clean):
    # traces of shot 0 stored in decimetres (scalar -10), the rest in centimetres (scalar -100)
    with segyio.open(clean, "r+", ignore_geometry=True) as f:
        for i in range(f.tracecount):
            scal = -10 if i < N_REC else -100
            h = f.header[i]
            f.header[i] = {
                71: scal,
                73: round(SRC_X[i // N_REC] * -scal),
                81: round(REC_X[i % N_REC] * -scal),
            }
            assert h[89] == 1
    s = same_report(clean)
    f = only(s, "coordinate_scalar")
    assert "-100, -10" in f.claimed and f.chosen == "each trace's own scalar applied to that trace"
    for i in (0, 2):
        src, rec = s.model_positions(i)
        np.testing.assert_allclose(rec[:, 0], REC_X)
        assert src[0] == pytest.approx(SRC_X[i])


def test_zero_scalar_and_its_override(clean):
    with segyio.open(clean, "r+", ignore_geometry=True) as f:
        for i in range(f.tracecount):
            f.header[i] = {71: 0, 73: int(SRC_X[i // N_REC] * 100), 81: int(REC_X[i % N_REC] * 100)}
    s = same_report(clean)
    f = only(s, "coordinate_scalar")
    assert "0 at byte 71" in f.claimed and f.chosen == "1 (values used as stored)"
    assert s.model_positions(0)[1][1, 0] == pytest.approx(2500.0)  # centimetres read as metres
    fixed = same_report(clean, coordinate_scalar=-100)
    assert "the caller's coordinate_scalar" in only(fixed, "coordinate_scalar").evidence
    np.testing.assert_allclose(fixed.model_positions(0)[1][:, 0], REC_X)
    with pytest.raises(ConfigError, match="coordinate_scalar=0 must be a non-zero integer"):
        read_survey(clean, coordinate_scalar=0)


def test_duplicate_and_nonfinite_traces(clean):
    with segyio.open(clean, "r+", ignore_geometry=True) as f:
        f.header[11] = dict(f.header[10])  # trace 11 claims trace 10's position ...
        f.trace[11] = f.trace[10]  # ... and is a copy of it
        f.header[13] = dict(f.header[12])  # same position, its own samples
        bad = np.array(f.trace[60])
        bad[100] = np.nan
        f.trace[60] = bad
    s = same_report(clean)
    copies, separate = (f for f in s.findings if f.topic == "duplicate_traces")
    assert copies.traces == (11,) and "left out" in copies.chosen
    assert separate.traces == (13,) and separate.chosen == "kept"
    assert s.receivers_per_shot.tolist() == [N_REC - 1, N_REC, N_REC, N_REC]
    assert 11 not in s.trace_indices(0)
    assert only(s, "nonfinite_samples").traces == (60,)
    assert np.all(np.isfinite(s.read(1))) and not s.read(1)[60 - N_REC].any()


def test_header_byte_overrides(clean):
    # coordinates moved to the CDP fields (181/185) and byte 73/81 cleared: a non-standard file
    with segyio.open(clean, "r+", ignore_geometry=True) as f:
        for i in range(f.tracecount):
            h = f.header[i]
            f.header[i] = {181: h[73], 185: h[81], 73: 0, 81: 0}
    assert [f.topic for f in read_survey(clean).findings] == ["no_geometry"]
    mapping = HeaderMapping.from_assignments(["source_x=181", "group_x=CDP_Y"])
    for header in (mapping, {"source_x": 181, "group_x": 185}):
        s = same_report(clean, header=header)
        assert s.findings == []
        np.testing.assert_allclose(s.model_positions(2)[1][:, 0], REC_X)
    with pytest.raises(
        SegyFormatError, match=r"byte 75 is not the start.*nearest: 73 \(SourceX\), 77 \(SourceY\)"
    ):
        read_survey(clean, header={"source_x": 75})
    with pytest.raises(ConfigError, match=r"unknown header mapping key.*valid keys"):
        HeaderMapping.from_assignments(["sauce_x=73"])
    with pytest.raises(ConfigError, match="is not NAME=BYTE"):
        HeaderMapping.from_assignments(["source_x"])
    assert HeaderMapping.from_assignments(["source_x=75:4"]).spec("source_x") == (75, 4)
