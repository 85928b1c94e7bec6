"""Property tests: random geometries round trip exactly; corrupted files fail with SegyFormatError."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from geolearn.errors import GeolearnError, SegyFormatError
from geolearn.io import SegyFile, read_survey, write_survey
from geolearn.io.layout import SAMPLE_FORMATS

SETTINGS = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
centimetres = st.integers(-(10**8), 10**8).map(lambda v: v / 100)  # up to +-1000 km at 1 cm


@st.composite
def surveys(draw):
    ndim = draw(st.sampled_from([2, 3]))
    n_shots = draw(st.integers(1, 3))
    counts = [draw(st.integers(1, 5)) for _ in range(n_shots)]
    nt = draw(st.integers(1, 12))
    point = st.tuples(*[centimetres] * (ndim - 1), st.integers(0, 10**6).map(lambda v: v / 100))
    src = np.array([draw(point) for _ in range(n_shots)])
    rec = [np.array([draw(point) for _ in range(c)]) for c in counts]
    return {
        "src": src,
        "rec": rec,
        "nt": nt,
        "dt": draw(st.integers(1, 32767)) * 1e-6,
        "t0": draw(st.integers(-3000, 30000)) * 1e-4,  # 0.1 ms steps, within the int16 delay field
        "datum": draw(centimetres),
        "ids": draw(st.lists(st.integers(1, 10**6), min_size=n_shots, max_size=n_shots, unique=True)),
        "endian": draw(st.sampled_from([">", "<"])),
        "fmt": draw(st.sampled_from([5, 6])),
        "seed": draw(st.integers(0, 2**32 - 1)),
    }


@SETTINGS
@given(case=surveys())
def test_random_geometry_round_trips_exactly(case, tmp_path):
    rng = np.random.default_rng(case["seed"])
    dtype = np.float32 if case["fmt"] == 5 else np.float64
    data = [rng.standard_normal((len(r), case["nt"])).astype(dtype) for r in case["rec"]]
    path = write_survey(
        tmp_path / "r.sgy",
        data,
        case["src"],
        case["rec"],
        case["dt"],
        t0=case["t0"],
        datum=case["datum"],
        shot_ids=case["ids"],
        endian=case["endian"],
        sample_format=case["fmt"],
    )
    s = read_survey(path, dtype=dtype)
    ndim = case["src"].shape[1]
    assert s.file.endian == case["endian"] and s.file.format_code == case["fmt"]
    assert s.dt == pytest.approx(case["dt"], rel=1e-12) and s.t0 == pytest.approx(case["t0"], abs=1e-12)
    assert s.nt == case["nt"] and s.shot_ids.tolist() == case["ids"]
    for i, d in enumerate(data):
        np.testing.assert_array_equal(s.read(i), d)
        src, rec = s.model_positions(i, ndim=ndim, datum=case["datum"]) if _has_xy(case, i) else (None, None)
        if src is not None:
            np.testing.assert_allclose(src, case["src"][i], rtol=0, atol=1e-6)
            np.testing.assert_allclose(rec, case["rec"][i], rtol=0, atol=1e-6)


def _has_xy(case, i):
    # all-zero horizontal coordinates are refused for modelling (GeometryError), by design
    return np.any(case["src"][i][:-1]) or np.any(case["rec"][i][:, :-1])


@pytest.fixture(scope="module")
def valid_file(tmp_path_factory):
    rng = np.random.default_rng(0)
    path = tmp_path_factory.mktemp("valid") / "v.sgy"
    rec = [np.column_stack([np.arange(7) * 10.0, np.zeros(7)])] * 3
    write_survey(
        path, rng.standard_normal((3, 7, 11)).astype(np.float32), [[0, 0], [5, 0], [9, 0]], rec, 0.002
    )
    return path, path.read_bytes()


def _check_consistent(path, size):
    f = SegyFile.open(path)
    assert f.data_offset + f.n_traces * f.trace_bytes == size
    return f


@SETTINGS
@given(cut=st.integers(0, 3600 + 21 * (240 + 44) - 1))
def test_truncation_is_refused_or_a_whole_prefix(valid_file, cut, tmp_path):
    path, blob = valid_file
    bad = tmp_path / "t.sgy"
    bad.write_bytes(blob[:cut])
    if cut < 3840 or (cut - 3600) % (240 + 11 * 4):
        with pytest.raises(SegyFormatError):
            SegyFile.open(bad)
    else:  # cut on a trace boundary: a shorter but valid file whose traces are the original's
        f = _check_consistent(bad, cut)
        np.testing.assert_array_equal(f.traces(slice(None)), SegyFile.open(path).traces(slice(f.n_traces)))


@SETTINGS
@given(code=st.integers(-(2**15), 2**15 - 1))
def test_flipped_format_codes(valid_file, code, tmp_path):
    _, blob = valid_file
    swapped = int.from_bytes(code.to_bytes(2, "big", signed=True), "little", signed=True)
    usable = {c for c in SAMPLE_FORMATS if SAMPLE_FORMATS[c][2] == 4}
    assume(code != 5 and swapped not in SAMPLE_FORMATS and code not in usable)
    bad = tmp_path / "f.sgy"
    bad.write_bytes(blob[:3224] + code.to_bytes(2, "big", signed=True) + blob[3226:])
    # other 4-byte codes would be a valid reinterpretation; every other code changes the trace size
    # (refused by the size check) or is unknown/unsupported (refused by the format check)
    with pytest.raises(SegyFormatError, match=r"format code|not a whole number"):
        SegyFile.open(bad)


@SETTINGS
@given(ns=st.integers(0, 65535))
def test_absurd_sample_counts(valid_file, ns, tmp_path):
    _, blob = valid_file
    payload = len(blob) - 3600
    assume(ns != 11 and (ns == 0 or payload % (240 + 4 * ns)))
    bad = tmp_path / "n.sgy"
    bad.write_bytes(blob[:3220] + ns.to_bytes(2, "big") + blob[3222:])
    # the file size rules the binary count out; the trace headers' 11 fits it exactly
    f = SegyFile.open(bad)
    assert f.nt == 11 and f.nt_source == "trace" and f.n_traces == 21
    if ns == 0:  # an unset binary count is no contradiction
        assert f.findings == ()
    else:
        (finding,) = f.findings
        assert finding.topic == "sample_count" and f"{ns} samples" in finding.claimed
    # with the trace headers' count wrong too, nothing fits: refused, naming both counts
    worse = tmp_path / "w.sgy"
    buf = bytearray(bad.read_bytes())
    buf[3600 + 114 : 3600 + 116] = (12).to_bytes(2, "big")
    worse.write_bytes(bytes(buf))
    if ns != 12:
        with pytest.raises(SegyFormatError, match=f"not a whole number of {240 + 4 * (ns or 12)}-byte"):
            SegyFile.open(worse)


@SETTINGS
@given(
    where=st.lists(st.integers(3600, 3600 + 239), min_size=1, max_size=8),
    values=st.binary(min_size=8, max_size=8),
)
def test_garbage_in_trace_header_never_crashes(valid_file, where, values, tmp_path):
    _, blob = valid_file
    buf = bytearray(blob)
    for pos, v in zip(where, values):
        buf[pos] = v
    bad = tmp_path / "g.sgy"
    bad.write_bytes(bytes(buf))
    try:
        s = read_survey(bad)
    except GeolearnError:
        return
    assert sum(s.receivers_per_shot) == 21 and np.all(np.isfinite(s.source_positions))
    assert s.nt == 11 and s.dt > 0
