"""`geolearn model / migrate / fwi / run / resume` end to end on tiny problems and the JUDI survey."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import segyio
from click.testing import CliRunner

from geolearn.cli import main
from geolearn.io import write_model

SPACING = (10.0, 10.0)


@pytest.fixture()
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture()
def layered(tmp_path: Path) -> Path:
    vp = np.full((60, 30), 1500.0, dtype=np.float32)
    vp[:, 12:] = 1900.0
    vp[:, 22:] = 2300.0
    return write_model(tmp_path / "layered.sgy", vp, SPACING)


def _ok(result) -> str:
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.stdout


def _one_line_error(result) -> str:
    assert result.exit_code != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("geolearn: error:"), result.stderr
    return lines[0]


def test_model_then_lsrtm_from_the_command_line(runner, layered, tmp_path):
    shots = tmp_path / "shots.sgy"
    out = _ok(runner.invoke(main, ["-q", "model", str(layered), "-o", str(shots), "--source-spacing", "200",
                                   "--receiver-spacing", "20", "--record-length", "0.5", "--f0", "12",
                                   "--space-order", "4", "--nbl", "20"]))  # fmt: skip
    assert "3 shots, 30 receivers" in out
    with segyio.open(shots, ignore_geometry=True) as f:
        assert f.tracecount == 90
        assert f.header[0][segyio.TraceField.FieldRecord] != f.header[89][segyio.TraceField.FieldRecord]
    from scipy.ndimage import gaussian_filter

    from geolearn.io import read_model

    smooth = gaussian_filter(read_model(layered).values.astype(np.float64), 3.0, mode="nearest")
    migration_velocity = write_model(tmp_path / "smooth.sgy", smooth.astype(np.float32), SPACING)
    image = tmp_path / "lsrtm.sgy"
    out = _ok(runner.invoke(main, ["-q", "migrate", str(shots), "--velocity", str(migration_velocity), "--method", "lsrtm",
                                   "--iterations", "3", "--f0", "12", "--space-order", "4", "--nbl", "20",
                                   "-o", str(image)]))  # fmt: skip
    first, last = map(float, re.search(r"data misfit (\S+) -> (\S+)", out).groups())
    assert last < 0.5 * first
    assert image.with_suffix(".png").is_file()


def test_rtm_of_the_judi_reference_survey_keeps_geometry(runner, data_dir, tmp_path):
    velocity = write_model(tmp_path / "v.sgy", np.full((121, 61), 1500.0, dtype=np.float32), SPACING)
    image = tmp_path / "judi_rtm.sgy"
    survey = data_dir / "judi-shots" / "unit_test_shot_records_2.segy"
    _ok(runner.invoke(main, ["-q", "migrate", str(survey), "--velocity", str(velocity), "--z-positive", "down",
                             "--f0", "10", "--space-order", "4", "--nbl", "20", "-o", str(image)]))  # fmt: skip
    with segyio.open(image, ignore_geometry=True) as f:
        assert f.tracecount == 121 and len(f.samples) == 61
        scalar = f.header[0][segyio.TraceField.SourceGroupScalar]
        cdp_x = np.array([h[segyio.TraceField.CDP_X] for h in f.header], dtype=float)
        data = f.trace.raw[:]
    factor = 1.0 if scalar == 0 else (1 / -scalar if scalar < 0 else scalar)
    np.testing.assert_allclose(cdp_x * factor, 10.0 * np.arange(121))
    assert np.isfinite(data).all() and np.abs(data).max() > 0
    # The reflector of the JUDI model (~0.7 s two-way at 1.5 km/s) images near 500 m depth.
    assert 40 <= int(np.argmax(np.abs(data[30:90]).sum(axis=0)[20:])) + 20 <= 60


def test_judi_with_wrong_elevation_convention_is_a_one_line_geometry_error(runner, data_dir, tmp_path):
    velocity = write_model(tmp_path / "v.sgy", np.full((121, 61), 1500.0, dtype=np.float32), SPACING)
    survey = data_dir / "judi-shots" / "unit_test_shot_records_2.segy"
    line = _one_line_error(runner.invoke(main, ["-q", "migrate", str(survey), "--velocity", str(velocity),
                                                "-o", str(tmp_path / "x.sgy")]))  # fmt: skip
    assert "GeometryError" in line and "outside the model" in line
    assert not (tmp_path / "x.sgy").exists()


def _fwi_config(tmp_path: Path, velocity: Path, **fwi) -> Path:
    settings = {"iterations": 2, "bands": [8.0], "bounds": [1400.0, 2400.0], "water_depth": 100.0, **fwi}
    lines = ["[run]", 'workflow = "fwi"', f'output_dir = "{tmp_path / "run"}"', "",
             "[velocity]", f'path = "{velocity}"', f'true_path = "{velocity}"', "smoothing = 60.0", "",
             "[acquisition]", "source_spacing = 290.0", "receiver_spacing = 20.0", "record_length = 0.6", "",
             "[wavelet]", "peak_frequency = 8.0", "",
             "[modelling]", "space_order = 4", "nbl = 20", "",
             "[parallel]", 'client = "serial"', "", "[fwi]"]  # fmt: skip
    lines += [f"{k} = {v!r}".replace("'", '"') for k, v in settings.items()]
    path = tmp_path / "fwi.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_fwi_config_run_refuses_to_overwrite_then_resumes(runner, layered, tmp_path):
    config = _fwi_config(tmp_path, layered)
    out = _ok(runner.invoke(main, ["-q", "fwi", str(config), "--set", "fwi.iterations=1"]))
    first, last = map(float, re.search(r"misfit (\S+) -> (\S+)", out).groups())
    assert last < first and "relative model error" in out
    assert (tmp_path / "run" / "state.npz").is_file()
    line = _one_line_error(runner.invoke(main, ["-q", "fwi", str(config)]))
    assert "geolearn resume" in line
    out = _ok(runner.invoke(main, ["-q", "resume", str(tmp_path / "run")]))
    assert "1 iterations" in out  # the saved run had finished: resume returns it unchanged


def test_bad_configuration_is_a_one_line_error_naming_the_key(runner, layered, tmp_path):
    config = _fwi_config(tmp_path, layered, iteratons=3)
    line = _one_line_error(runner.invoke(main, ["-q", "fwi", str(config)]))
    assert "fwi.iteratons" in line and "fwi.iterations" in line
    line = _one_line_error(
        runner.invoke(main, ["-q", "fwi", str(_fwi_config(tmp_path, layered, misfit="l3"))])
    )
    assert "fwi.misfit" in line and "'l2'" in line
    line = _one_line_error(runner.invoke(main, ["-q", "run", str(config), "--set", "nonsense"]))
    assert "section.key=value" in line


def test_learned_migration_from_the_command_line(runner, tmp_path):
    import torch

    from geolearn.imaging import model_survey
    from geolearn.io import read_model
    from geolearn.learned_inversion import learned_lsrtm, learned_migrate, save_learned

    vp = np.full((30, 20), 1500.0)
    vp[:, 12:] = 1800.0
    survey = model_survey(vp, SPACING, source_spacing=140.0, receiver_spacing=20.0, record_length=0.35, f0=14.0,
                          space_order=4, nbl=8, output=tmp_path / "shots.sgy")  # fmt: skip
    v0 = np.full_like(vp, 1500.0)
    velocity = write_model(tmp_path / "v0.sgy", v0.astype(np.float32), SPACING)
    model = survey.problem.model()
    geometry = survey.problem.geometry(model)
    v0_t = torch.as_tensor(read_model(velocity).values, dtype=model.dtype)
    hyper = {"n_layers": 2, "scale": 1.0, "features": 4, "threshold": 1e-6, "seed": 0}
    net = learned_lsrtm(**hyper)  # the network takes its Born operator at call time
    weights = save_learned(tmp_path / "net.pt", net, kind="learned_lsrtm", hyper=hyper, geometry=geometry,
                           velocity=v0_t)  # fmt: skip
    image_path = tmp_path / "learned.sgy"
    args = ["-q", "migrate", str(tmp_path / "shots.sgy"), "--velocity", str(velocity), "--method", "learned",
            "--weights", str(weights), "--f0", "14", "--space-order", "4", "--nbl", "8", "-o", str(image_path)]  # fmt: skip
    assert "learned image 30 x 20" in _ok(runner.invoke(main, args))
    expected = learned_migrate(
        tmp_path / "shots.sgy", read_model(velocity), weights, f0=14.0, space_order=4, nbl=8
    )
    from geolearn.io import read_volume

    written = read_volume(image_path).data.reshape(expected.shape)
    assert np.abs(expected).max() > 0
    np.testing.assert_allclose(
        written, expected.astype(np.float32), rtol=1e-5, atol=1e-6 * np.abs(expected).max()
    )
    # Another absorbing layer is another Born operator, which the network takes at call time.
    other = [*args[:-4], "--nbl", "9", "-o", str(tmp_path / "x.sgy")]
    assert "learned image 30 x 20" in _ok(runner.invoke(main, other))
