"""Surveys, header mappings, writers and models: geolearn writes what it reads, exactly."""

from __future__ import annotations

import numpy as np
import pytest
import segyio
import torch

from geolearn.errors import ConfigError, GeometryError, ModelError, SegyFormatError, ShapeError
from geolearn.io import (
    HeaderMapping,
    load_dataset,
    read_model,
    read_survey,
    read_volume,
    write_image,
    write_model,
    write_survey,
)
from geolearn.io.writers import choose_scalar


@pytest.fixture(scope="module")
def judi(data_dir):
    return load_dataset("judi-shots", data_dir=data_dir, download=False)


def test_judi_read_write_read_is_exact(judi, tmp_path):
    survey = read_survey(judi.path("unit_test_shot_records_2.segy"), z_positive="down")
    pos = [survey.model_positions(i) for i in range(survey.n_shots)]
    out = write_survey(
        tmp_path / "copy.sgy",
        [s.data for s in survey],
        np.array([p[0] for p in pos]),
        [p[1] for p in pos],
        survey.dt,
        shot_ids=survey.shot_ids,
        z_positive="down",
    )
    again = read_survey(out, z_positive="down")
    assert again.shot_ids.tolist() == [1, 2] and (again.dt, again.nt, again.t0) == (
        survey.dt,
        survey.nt,
        survey.t0,
    )
    for i in range(2):
        np.testing.assert_array_equal(again.read(i), survey.read(i))
        np.testing.assert_array_equal(again.receiver_positions(i), survey.receiver_positions(i))
        np.testing.assert_array_equal(again.source_positions[i], survey.source_positions[i])
    # another SEG-Y reader sees the same geometry and samples
    with segyio.open(out, ignore_geometry=True) as f:
        h = f.header[120]
        assert (h[segyio.TraceField.SourceX], h[segyio.TraceField.SourceGroupScalar]) == (1100000, -1000)
        assert (f.header[1][segyio.TraceField.GroupX], f.header[1][segyio.TraceField.SourceGroupScalar]) == (
            59244,
            -1000,
        )
        np.testing.assert_array_equal(f.trace[5], survey.read(0)[5])
        assert segyio.tools.dt(f) == 2000


def test_geometry_round_trip_with_datum_and_3d(tmp_path):
    src = np.array([[10.5, 3.25, 5.0], [20.0, -7.75, 6.0]])
    rec = [np.array([[0.0, 1.0, 2.0], [1.01, 2.0, 3.0]]), np.array([[5.0, 5.0, 0.0]])]
    data = [np.ones((2, 4), np.float32), np.full((1, 4), 2.0, np.float32)]
    path = write_survey(tmp_path / "g.sgy", data, src, rec, 0.0005, t0=0.25, datum=100.0)
    s = read_survey(path)
    assert (
        s.receivers_per_shot.tolist() == [2, 1]
        and s.t0 == pytest.approx(0.25)
        and s.dt == pytest.approx(5e-4)
    )
    for i in range(2):
        a, b = s.model_positions(i, ndim=3, datum=100.0)
        np.testing.assert_allclose(a, src[i], atol=1e-9)
        np.testing.assert_allclose(b, rec[i], atol=1e-9)
    # elevations are positive up: depth 5 m below a datum at 100 m is elevation 95 m
    assert s.source_positions[0, 2] == pytest.approx(95.0)
    with pytest.raises(GeometryError, match="y varies"):
        s.model_positions(0, ndim=2)


def test_zero_coordinates_refused_for_modelling(data_dir):
    testdata = load_dataset("segyio-testdata", data_dir=data_dir, download=False)
    s = read_survey(testdata.path("shot-gather.sgy"))
    with pytest.raises(GeometryError, match=r"shot-gather\.sgy, shot 0 .*all zero"):
        s.model_positions(0)


def test_header_mapping_validation_and_custom_key(judi):
    with pytest.raises(SegyFormatError, match="byte 74 is not the start"):
        HeaderMapping({"source_x": 74})
    with pytest.raises(SegyFormatError, match="outside the 240-byte"):
        HeaderMapping({"source_x": (239, 4)})
    with pytest.raises(ConfigError, match="unknown header mapping key"):
        HeaderMapping({"sauce_x": 73})
    assert HeaderMapping({"source_x": "CDP_X"}).spec("source_x") == (181, 4)
    path = judi.path("unit_test_shot_records_2.segy")
    by_xy = read_survey(path, key="source_xy")
    assert by_xy.receivers_per_shot.tolist() == [120, 120]
    # group x read as source x through the mapping: every trace becomes its own "shot" position
    swapped = read_survey(path, header={"source_x": 81}, key="source_xy")
    assert swapped.n_shots == 120 and swapped.source_positions[0, 0] == 50.0
    by_byte = read_survey(path, key=13)
    assert by_byte.n_shots == 240


def test_shot_dataset_view(judi):
    survey = read_survey(judi.path("unit_test_shot_records_2.segy"), z_positive="down")
    ds = survey.as_dataset(dtype=torch.float64)
    assert isinstance(ds, torch.utils.data.Dataset) and len(ds) == 2
    item = ds[1]
    assert item["data"].shape == (120, 501) and item["data"].dtype == torch.float64
    assert item["source"][0].item() == 1100.0 and item["shot_id"] == 2
    torch.testing.assert_close(item["data"], torch.from_numpy(survey.read(1).astype(np.float64)))
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=2)))
    assert batch["data"].shape == (2, 120, 501)


def test_choose_scalar_keeps_centimetres():
    assert choose_scalar(np.array([100.0, 200.0]))[0] == 1
    scal, ints = choose_scalar(np.array([620197.2, 1.5]))
    assert scal == -10 and ints.tolist() == [6201972, 15]
    assert choose_scalar(np.array([0.01, 3.0]))[0] == -100
    scal, ints = choose_scalar(np.array([1e6 + 0.123456]))  # sub-mm: rounded at the finest fitting scalar
    assert scal == -1000 and ints.tolist() == [1000000123]
    with pytest.raises(GeometryError, match="do not fit"):
        choose_scalar(np.array([3e7 + 0.01]))


def test_writer_refuses_bad_input(tmp_path):
    d = np.zeros((1, 2, 3), np.float32)
    with pytest.raises(SegyFormatError, match="sample interval"):
        write_survey(tmp_path / "x.sgy", d, [[0.0, 0.0]], [[[1.0, 0.0], [2.0, 0.0]]], dt=1.5e-7)
    with pytest.raises(SegyFormatError, match="non-finite"):
        write_survey(tmp_path / "x.sgy", d * np.nan, [[0.0, 0.0]], [[[1.0, 0.0], [2.0, 0.0]]], dt=1e-3)
    with pytest.raises(ShapeError, match="disagree"):
        write_survey(tmp_path / "x.sgy", d, [[0.0, 0.0]], [[[1.0, 0.0]]], dt=1e-3)
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_image_and_model_round_trip(tmp_path):
    rng = np.random.default_rng(3)
    img = rng.standard_normal((4, 6)).astype(np.float32)
    write_image(tmp_path / "img.sgy", img, (12.5, 0.004), origin=(500.0, 0.1), sample_axis="time")
    vol = read_volume(tmp_path / "img.sgy")
    assert vol.kind == "2d" and vol.t0 == pytest.approx(0.1) and vol.dt == pytest.approx(0.004)
    np.testing.assert_array_equal(vol.data, img)
    np.testing.assert_allclose(vol.cdp_xy[:, 0], 500.0 + 12.5 * np.arange(4))
    vp = rng.uniform(1500, 4500, (3, 4, 5)).astype(np.float32)
    write_model(tmp_path / "vp.sgy", vp, (10.0, 20.0, 2.5), origin=(1000.0, 2000.0, 0.0))
    m = read_model(tmp_path / "vp.sgy")
    np.testing.assert_array_equal(m.values, vp)
    assert m.spacing == (10.0, 20.0, 2.5) and m.origin == (1000.0, 2000.0, 0.0)
    with pytest.raises(ModelError, match="finite and positive"):
        write_model(tmp_path / "bad.sgy", -vp, (10.0, 20.0, 2.5))


def test_marmousi_raw_model(data_dir, tmp_path):
    marm = load_dataset("marmousi", data_dir=data_dir, download=False)
    info = marm.info("vp_marmousi_bi")
    m = read_model(
        marm.path("vp_marmousi_bi"), shape=info["shape"], spacing=info["spacing"], unit=info["units"]
    )
    assert m.shape == (1601, 401) and m.spacing == (7.5, 7.5)
    assert m.values.min() == pytest.approx(1028.0, abs=0.01) and m.values.max() == pytest.approx(
        4700.0, abs=0.01
    )
    np.testing.assert_allclose(m.values[:, 0], 1500.0)  # water layer on top (z index 0)
    with pytest.raises(ModelError, match="implausible; was unit='km/s' meant"):
        read_model(marm.path("vp_marmousi_bi"), shape=(1601, 401), spacing=(7.5, 7.5))
    with pytest.raises(ModelError, match="2568004 bytes, but shape"):
        read_model(marm.path("vp_marmousi_bi"), shape=(1600, 401), spacing=(7.5, 7.5), unit="km/s")
    # a Fortran-ordered (z slow) big-endian copy reads back to the same array
    raw = tmp_path / "vp_zx.bin"
    m.values.T.astype(">f4").tofile(raw)
    same = read_model(raw, shape=(1601, 401), spacing=(7.5, 7.5), byte_order=">", axis_order="zx")
    np.testing.assert_array_equal(same.values, m.values)


def test_survey_from_wave_geometry_round_trips(tmp_path):
    from geolearn.wave import Geometry, Model

    model = Model(np.full((101, 51), 1500.0, np.float32), (10.0, 10.0), dtype=torch.float64)
    rec = np.column_stack([np.linspace(20.0, 980.0, 25), np.full(25, 12.5)])
    geom = Geometry(model, [[200.0, 5.0], [750.25, 7.5]], [rec, rec[::2]], tn=0.3, dt=0.001, f0=10.0)
    data = [
        np.random.default_rng(i).standard_normal((len(r), geom.nt)).astype(np.float32)
        for i, r in enumerate(geom.rec_positions)
    ]
    s = read_survey(
        write_survey(tmp_path / "geom.sgy", data, geom.src_positions, geom.rec_positions, geom.dt)
    )
    assert (s.nt, s.dt, s.t0) == (geom.nt, geom.dt, 0.0)
    for i in range(geom.n_shots):
        src, r = s.model_positions(i)
        np.testing.assert_array_equal(src, geom.src_positions[i])
        np.testing.assert_array_equal(r, geom.rec_positions[i])
        np.testing.assert_array_equal(s.read(i), data[i])
