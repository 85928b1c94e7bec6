"""SEG-Y reading checked against segyio's answer key (../shared/data/README.md), through the manifests."""

from __future__ import annotations

import numpy as np
import pytest
import segyio

from geolearn.errors import SegyFormatError
from geolearn.io import SegyFile, load_dataset, read_survey, read_volume
from geolearn.io.layout import ibm_to_float

F3_TRACE10 = [0, -1170, 5198, -2213, -888]


@pytest.fixture(scope="module")
def testdata(data_dir):
    return load_dataset("segyio-testdata", data_dir=data_dir, download=False)


@pytest.mark.parametrize("name, endian", [("small.sgy", ">"), ("small-lsb.sgy", "<")])
def test_small_values_and_geometry(testdata, name, endian):
    vol = read_volume(testdata.path(name))
    assert vol.file.endian == endian and vol.file.format_code == 1
    assert vol.kind == "3d" and vol.data.shape == (5, 5, 50)
    assert vol.inlines.tolist() == [1, 2, 3, 4, 5]
    assert vol.crosslines.tolist() == [20, 21, 22, 23, 24]
    assert vol.file.dt == pytest.approx(0.004) and vol.file.nt_source == "binary"
    assert vol.data[3, 0, 0] == pytest.approx(4.20, abs=1e-6)
    assert vol.data[3, 4, 49] == pytest.approx(4.24049, abs=1e-6)
    il, xl, s = np.meshgrid(np.arange(1, 6), np.arange(20, 25), np.arange(50), indexing="ij")
    np.testing.assert_allclose(vol.data, il + xl / 100 + s / 1e5, atol=2e-6)


def test_small_ps_prestack_values(testdata):
    f = SegyFile.open(testdata.path("small-ps.sgy"))
    data = f.traces(slice(None), np.float64)
    assert data.shape == (24, 10)
    assert data[0, 0] == pytest.approx(101.01, abs=1e-5)
    assert data[1, 0] == pytest.approx(201.01, abs=1e-5)
    il, xl = f.header(189, 4), f.header(193, 4)
    off = f.header(37, 4)
    assert sorted(set(il)) == [1, 2, 3, 4] and sorted(set(xl)) == [1, 2, 3] and sorted(set(off)) == [1, 2]
    expected = off[:, None] * 100 + il[:, None] + xl[:, None] / 100 + np.arange(10) / 1e5
    np.testing.assert_allclose(data, expected, atol=2e-5)
    assert read_volume(testdata.path("small-ps.sgy")).kind == "unstructured"


@pytest.mark.parametrize("name", ["f3.sgy", "f3-lsb.sgy"])
def test_f3_answer_key_with_stale_trace_count(testdata, name):
    f = SegyFile.open(testdata.path(name))
    assert (f.n_traces, f.nt, f.format_code) == (414, 75, 3)
    (stale,) = f.findings
    assert stale.topic == "sample_count" and "462" in stale.claimed and len(stale.traces) == 414
    data = f.traces(slice(None), np.float64)
    assert data.sum() == 780251 and np.abs(data).max() == 10827
    assert data[10, 20:45:5].tolist() == F3_TRACE10
    assert f.t0 == pytest.approx(0.004)
    vol = read_volume(testdata.path(name))
    assert vol.data.shape == (23, 18, 75)
    assert vol.inlines[[0, -1]].tolist() == [111, 133] and vol.crosslines[[0, -1]].tolist() == [875, 892]
    assert vol.cdp_xy[0, 0, 0] == pytest.approx(620197.2)  # CDP_X 6201972 with scalar -10


MULTI = [f"multiformats/Format{c}{e}.sgy" for c in (1, 2, 3, 5, 6, 9) for e in ("msb", "lsb")]


@pytest.mark.parametrize("name", MULTI)
def test_multiformat_files_decode_to_f3(testdata, name):
    f3 = SegyFile.open(testdata.path("f3.sgy")).traces(slice(None), np.float64)
    f = SegyFile.open(testdata.path(name))
    assert f.format_code == int(name.split("Format")[1][0])
    assert f.endian == (">" if "msb" in name else "<")
    np.testing.assert_array_equal(f.traces(slice(None), np.float64), f3)


@pytest.mark.parametrize("name", ["multiformats/Format8msb.sgy", "multiformats/Format8lsb.sgy"])
def test_int8_files_hold_f3_wrapped_to_int8(testdata, name):
    f3 = SegyFile.open(testdata.path("f3.sgy")).traces(slice(None), np.int64)
    data = SegyFile.open(testdata.path(name)).traces(slice(None), np.float64)
    np.testing.assert_array_equal(data, f3.astype(np.int8))
    assert data[10, 20:45:5].tolist() == [0, 110, 78, 91, -120]


def test_shot_gather_grouping(testdata):
    survey = read_survey(testdata.path("shot-gather.sgy"))
    assert survey.shot_ids.tolist() == [2, 3, 5, 8]
    assert survey.receivers_per_shot.tolist() == [10, 12, 13, 26]
    assert survey.dt == pytest.approx(0.001) and survey.nt == 25
    for shot in survey:
        np.testing.assert_array_equal(shot.data[:, 0], shot.shot_id)


def test_delay_scalar_time_axis(testdata):
    f = SegyFile.open(testdata.path("delay-scalar.sgy"))
    assert f.t0 == pytest.approx(1.000, abs=1e-12)
    assert f.time[0] == pytest.approx(1.0) and f.time[-1] == pytest.approx(1.0 + 250 * 0.004)


def test_interval_fallbacks(testdata):
    assert SegyFile.open(testdata.path("interval-pos-bin-neg-trace.sgy")).dt == pytest.approx(0.002)
    f = SegyFile.open(testdata.path("interval-neg-bin-pos-trace.sgy"))
    assert f.dt == pytest.approx(0.004) and f.dt_source == "trace"
    with pytest.raises(SegyFormatError, match=r"no positive sample interval.*-2000.*pass dt="):
        SegyFile.open(testdata.path("interval-neg-bin-neg-trace.sgy"))
    f = SegyFile.open(testdata.path("interval-neg-bin-neg-trace.sgy"), dt=0.003)
    assert f.dt == 0.003 and f.dt_source == "user"


def test_broken_is_refused(testdata):
    with pytest.raises(SegyFormatError, match=r"broken\.sgy.*836 bytes.*truncated"):
        SegyFile.open(testdata.path("broken.sgy"))


def test_long_unsigned_sample_count(testdata):
    f = SegyFile.open(testdata.path("long.sgy"))
    assert (f.n_traces, f.nt) == (3, 60000)


def test_small_files_and_text_headers(testdata):
    assert SegyFile.open(testdata.path("multi-text.sgy")).data_offset == 3600 + 4 * 3200
    assert (
        SegyFile.open(testdata.path("1x1.sgy")).n_traces,
        SegyFile.open(testdata.path("tiny.sgy")).n_traces,
    ) == (
        4,
        6,
    )
    nul = SegyFile.open(testdata.path("text-embed-null.sgy"))
    assert "\x00" not in nul.text and len(nul.text) == 3200
    np.testing.assert_array_equal(
        nul.traces(slice(None)), SegyFile.open(testdata.path("small.sgy")).traces(slice(None))
    )


def test_ibm_decoder_against_segyio(testdata):
    # segyio decodes IBM floats in C; our numpy decoder must agree bit for bit on float32.
    path = testdata.path("small.sgy")
    with segyio.open(path, ignore_geometry=True) as f:
        reference = segyio.tools.collect(f.trace[:])
    np.testing.assert_array_equal(SegyFile.open(path).traces(slice(None)), reference)
    words = np.array([0x42640000, 0xC276A000, 0x00000000, 0x41100000], dtype=np.uint32)
    np.testing.assert_array_equal(ibm_to_float(words), [100.0, -118.625, 0.0, 1.0])


def test_judi_geometry(data_dir):
    judi = load_dataset("judi-shots", data_dir=data_dir, download=False)
    survey = read_survey(judi.path("unit_test_shot_records_2.segy"), z_positive="down")
    assert survey.n_shots == 2 and survey.receivers_per_shot.tolist() == [120, 120]
    assert survey.shot_ids.tolist() == [1, 2]
    assert survey.dt == pytest.approx(0.002) and survey.nt == 501 and survey.t0 == 0.0
    np.testing.assert_array_equal(survey.source_positions[:, 0], [100.0, 1100.0])
    for i in range(2):
        rec = survey.receiver_positions(i)
        assert rec[0, 0] == 50.0 and rec[-1, 0] == 1150.0
        assert np.all(np.diff(rec[:, 0]) > 0)
        src, rz = survey.model_positions(i)
        assert src.tolist() == [[100.0, 1100.0][i], 20.0]
        np.testing.assert_array_equal(rz[:, 1], 50.0)
    one = read_survey(judi.path("unit_test_shot_records_1.segy"))
    assert one.file.dt_source == "trace" and one.dt == pytest.approx(0.002) and one.n_shots == 1
    assert not np.any(one.read(0))
