"""Editing SEG-Y files in place (headers, binary header, samples) and reading measured wavelets."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import segyio

from geolearn.atomic import stale_temporaries
from geolearn.errors import ConfigError, SegyFormatError, ShapeError
from geolearn.io import (
    edit_binary_header,
    edit_headers,
    edit_samples,
    read_survey,
    read_wavelet,
    write_survey,
    write_wavelet,
)
from geolearn.io.layout import SAMPLE_FORMATS, decode_samples, encode_samples, float_to_ibm, ibm_to_float

N_SHOTS, N_REC, NT, DT = 2, 6, 50, 0.004


@pytest.fixture()
def survey_file(tmp_path):
    rng = np.random.default_rng(3)
    data = rng.standard_normal((N_SHOTS, N_REC, NT)).astype(np.float32)
    src = np.column_stack([[100.0, 150.0], [5.0, 5.0]])
    rec = np.stack([np.column_stack([20.0 * np.arange(N_REC), np.full(N_REC, 8.0)])] * N_SHOTS)
    path = write_survey(tmp_path / "line.sgy", data, src, rec, DT)
    return path, data.reshape(-1, NT)


def headers(path, field):
    with segyio.open(path, ignore_geometry=True) as f:
        return np.array([h[field] for h in f.header])


def test_edit_headers_by_name_byte_and_segyio_name_on_selected_traces(survey_file):
    path, _ = survey_file
    before = path.read_bytes()
    edit_headers(path, {"coordinate_units": 3})  # every trace, logical name
    edit_headers(path, {"SourceX": [7, 8]}, traces=[1, 4])  # segyio name, one value per trace
    mask = np.zeros(N_SHOTS * N_REC, dtype=bool)
    mask[-2:] = True
    edit_headers(path, {115: 999, (233, 4): -5}, traces=mask)  # byte position, non-standard field
    assert np.all(headers(path, segyio.TraceField.CoordinateUnits) == 3)
    src_x = headers(path, segyio.TraceField.SourceX)
    assert src_x[1] == 7 and src_x[4] == 8 and src_x[0] == src_x[2] == 100
    assert headers(path, segyio.TraceField.TRACE_SAMPLE_COUNT).tolist() == [NT] * 10 + [999] * 2
    assert headers(path, 233).tolist() == [0] * 10 + [-5] * 2
    after = path.read_bytes()
    assert len(after) == len(before)
    changed = {i for i, (a, b) in enumerate(zip(before, after)) if a != b}
    trace = 240 + 4 * NT
    assert all((i - 3600) % trace < 240 for i in changed)  # headers only, never a sample
    assert not stale_temporaries(path)


def test_edit_headers_refuses_bad_values_before_touching_the_file(survey_file):
    path, _ = survey_file
    before = path.read_bytes()
    with pytest.raises(SegyFormatError, match=r"byte 89 .*-32768\.\.32767.*40000"):
        edit_headers(path, {"coordinate_units": 40000})
    with pytest.raises(SegyFormatError, match="holds integers"):
        edit_headers(path, {"source_x": 10.5})
    with pytest.raises(SegyFormatError, match="not the start of a field"):
        edit_headers(path, {75: 1})
    with pytest.raises(ShapeError, match=r"outside 0\.\.11"):
        edit_headers(path, {"source_x": 1}, traces=[12])
    with pytest.raises(ShapeError, match="one per selected trace"):
        edit_headers(path, {"source_x": [1, 2, 3]}, traces=[0, 1])
    assert path.read_bytes() == before and not stale_temporaries(path)


def test_edit_binary_header_and_the_reader_sees_it(survey_file):
    path, _ = survey_file
    edit_binary_header(path, {"Interval": 2000, 3255: 2})
    with segyio.open(path, ignore_geometry=True) as f:
        assert f.bin[segyio.BinField.Interval] == 2000
        assert f.bin[segyio.BinField.MeasurementSystem] == 2
    assert read_survey(path).dt == pytest.approx(0.002)
    with pytest.raises(SegyFormatError, match="unknown binary-header field 'Intervall'"):
        edit_binary_header(path, {"Intervall": 1})
    with pytest.raises(SegyFormatError, match="not a field start"):
        edit_binary_header(path, {3218: 1})


def test_edit_samples_reverses_and_kills_traces_in_the_file_format(survey_file):
    path, data = survey_file
    edit_samples(path, lambda d: -d, traces=[2])
    edit_samples(path, 0.0, traces=slice(5, 7))
    with segyio.open(path, ignore_geometry=True) as f:
        out = f.trace.raw[:]
    expected = data.copy()
    expected[2] *= -1
    expected[5:7] = 0
    np.testing.assert_array_equal(out, expected)
    with pytest.raises(ShapeError, match="do not fit 1 traces of 50 samples"):
        edit_samples(path, np.zeros(49), traces=[0])


def test_edit_samples_of_an_ibm_float_file(data_dir, tmp_path):
    path = shutil.copy(data_dir / "segyio-testdata" / "small.sgy", tmp_path / "small.sgy")
    with segyio.open(path) as f:
        assert f.bin[segyio.BinField.Format] == 1  # IBM floats
        original = f.trace.raw[:]
    new = np.full(original.shape[1], 118.625)
    new[::2] = -0.15625
    edit_samples(path, new, traces=[3])
    edit_samples(path, lambda d: -d, traces=[4])
    with segyio.open(path) as f:
        out = f.trace.raw[:]
    np.testing.assert_array_equal(out[3], new.astype(np.float32))
    np.testing.assert_array_equal(out[4], -original[4])
    np.testing.assert_array_equal(np.delete(out, [3, 4], axis=0), np.delete(original, [3, 4], axis=0))


def test_float_to_ibm_inverts_ibm_to_float():
    words = float_to_ibm(np.array([0.0, 1.0, -118.625, 0.1, 16.0**-65]))
    assert [hex(w) for w in words] == ["0x0", "0x41100000", "0xc276a000", "0x4019999a", "0x100000"]
    rng = np.random.default_rng(0)
    x = rng.standard_normal(10000) * 10.0 ** rng.integers(-40, 40, 10000)
    rel = np.abs(ibm_to_float(float_to_ibm(x)) - x) / np.abs(x)
    assert rel.max() <= 2.0**-21  # 24-bit fraction, up to 3 leading zero bits, rounded
    with pytest.raises(SegyFormatError, match="NaN"):
        float_to_ibm(np.array([np.nan]))


@pytest.mark.parametrize("code", sorted(SAMPLE_FORMATS))
@pytest.mark.parametrize("endian", [">", "<"])
def test_encode_samples_inverts_decode_samples(code, endian):
    values = np.array([[0.0, 1.0, 2.0, 100.0], [3.0, 4.0, 5.0, 127.0]])
    raw = encode_samples(values, code, endian)
    assert raw.shape == (2, 4 * SAMPLE_FORMATS[code][2])
    np.testing.assert_array_equal(decode_samples(raw, code, endian), values)


def test_encode_samples_refuses_what_an_integer_format_cannot_hold():
    with pytest.raises(SegyFormatError, match=r"2-byte signed integer: whole numbers in -32768\.\.32767"):
        encode_samples(np.array([[0.5, 40000.0]]), 3, ">")


def test_wavelet_text_files_round_trip_and_their_time_axis_is_checked(tmp_path):
    w = np.sin(np.linspace(0, 6, 40)) * np.exp(-np.linspace(0, 3, 40))
    path = write_wavelet(tmp_path / "sig.txt", w, 0.001, t0=-0.005)
    back = read_wavelet(path)
    np.testing.assert_allclose(back.samples, w, rtol=1e-8)
    assert back.dt == pytest.approx(0.001) and back.t0 == pytest.approx(-0.005)
    ms = tmp_path / "sig_ms.csv"
    ms.write_text("# t (ms), amplitude\n" + "\n".join(f"{2.0 * i},{v}" for i, v in enumerate(w)))
    assert read_wavelet(ms, time_unit="ms").dt == pytest.approx(0.002)
    with pytest.raises(ConfigError, match="time_unit='ms'"):
        read_wavelet(ms)
    irregular = tmp_path / "irregular.txt"
    irregular.write_text("0 1\n0.001 2\n0.003 3\n0.004 4\n")
    with pytest.raises(ConfigError, match=r"row 3 steps by 0\.002 s"):
        read_wavelet(irregular)
    with pytest.raises(ConfigError, match="contradicts the file's time column"):
        read_wavelet(path, dt=0.002)


def test_wavelet_from_npy_and_one_trace_segy(tmp_path):
    w = np.hanning(30)
    np.save(tmp_path / "w.npy", w)
    with pytest.raises(ConfigError, match="pass dt="):
        read_wavelet(tmp_path / "w.npy")
    assert read_wavelet(tmp_path / "w.npy", dt=0.002).samples.tolist() == pytest.approx(w.tolist())
    one = write_survey(tmp_path / "w.sgy", w[None, None].astype(np.float32), np.array([[0.0, 5.0]]),
                       np.array([[[10.0, 5.0]]]), 0.002, t0=-0.01)  # fmt: skip
    wavelet = read_wavelet(one)
    np.testing.assert_allclose(wavelet.samples, w, rtol=1e-6)
    assert (wavelet.dt, wavelet.t0) == (pytest.approx(0.002), pytest.approx(-0.01))
    many = write_survey(tmp_path / "two.sgy", np.ones((1, 2, 30), np.float32), np.array([[0.0, 5.0]]),
                        np.array([[[10.0, 5.0], [20.0, 5.0]]]), 0.002)  # fmt: skip
    with pytest.raises(SegyFormatError, match="2 traces; a wavelet file holds exactly one"):
        read_wavelet(many)
