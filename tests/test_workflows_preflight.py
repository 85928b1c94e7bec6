"""Nothing is spent before the inputs are known good: every workflow fails in one line, before any
wave-equation solve, on an unwritable output, a full disk, a source outside the model, an unstable
time step or a grid too coarse for the wavelet."""

from __future__ import annotations

import dataclasses
import shutil
from collections import namedtuple
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from geolearn.cli import main
from geolearn.errors import GeometryError, ModelError, OutputError, StabilityError
from geolearn.fwi import fwi
from geolearn.imaging import ShotProblem, lsrtm, model_survey, preflight, rtm
from geolearn.imaging.preflight import segy_bytes
from geolearn.io import write_model
from geolearn.runs import resume, run_from_config

SPACING = (10.0, 10.0)
BOUNDS = (1400.0, 2100.0)  # stable for the small problem's dt


@pytest.fixture()
def no_solve(monkeypatch):
    """Every per-shot task (modelling, Born, migration, FWI gradient) builds its propagator here."""

    def refuse(*args, **kwargs):
        raise AssertionError("a wave-equation solve was started")

    monkeypatch.setattr("geolearn.imaging.shots.ShotPropagator", refuse)


@pytest.fixture()
def full_disk(monkeypatch):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 1000, 1000))


def small_problem(**kwargs) -> ShotProblem:
    vp = np.full((40, 20), 1500.0)
    vp[:, 10:] = 2000.0
    sources = np.array([[100.0, 10.0], [300.0, 10.0]])
    receivers = np.column_stack([np.arange(0.0, 400.0, 20.0), np.full(20, 10.0)])
    return ShotProblem.create(vp, SPACING, sources, receivers, record_length=0.3, space_order=4, nbl=10,
                              **{"f0": 10.0, **kwargs})  # fmt: skip


def survey(problem: ShotProblem) -> tuple[ShotProblem, np.ndarray]:
    return problem, np.ones(problem.record_shape)


def test_a_missing_output_directory_stops_every_workflow_before_a_solve(no_solve, tmp_path):
    problem = small_problem()
    target = tmp_path / "missing" / "out.sgy"
    message = rf"cannot write {target}: directory {target.parent} does not exist"
    with pytest.raises(OutputError, match=message):
        model_survey(problem.reference, SPACING, source_spacing=100.0, receiver_spacing=20.0, record_length=0.3,
                     output=target)  # fmt: skip
    with pytest.raises(OutputError, match=message):
        rtm(survey(problem), problem.reference, output=target)
    with pytest.raises(OutputError, match=message):
        lsrtm(survey(problem), problem.reference, output=target)
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    with pytest.raises(OutputError, match=rf"cannot create {a_file / 'run'} .* {a_file} is not a directory"):
        fwi(survey(problem), problem.reference, run_dir=a_file / "run", iterations=1, bounds=BOUNDS)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]  # nothing was written either


def test_too_little_free_disk_stops_imaging_and_fwi_before_a_solve(no_solve, full_disk, tmp_path):
    problem = small_problem()
    size = segy_bytes(problem.shape[0], problem.shape[1]) / 1e6
    with pytest.raises(
        OutputError, match=rf"not enough free disk .* {tmp_path}: about {size:.1f} MB needed, 0.0 MB"
    ):
        rtm(survey(problem), problem.reference, output=tmp_path / "image.sgy")
    with pytest.raises(OutputError, match="not enough free disk"):
        fwi(survey(problem), problem.reference, run_dir=tmp_path / "run", iterations=1, bounds=BOUNDS)
    assert not (tmp_path / "run").exists()


def test_a_receiver_outside_the_model_is_named_with_the_model_extent():
    problem = small_problem()
    moved = list(problem.rec_positions)
    moved[1] = moved[1].copy()
    moved[1][7] = (455.0, 10.0)
    with pytest.raises(
        GeometryError, match=r"shot 1: receiver 7 at \(455.0, 10.0\) m lies outside .*\[0..390, 0..190\]"
    ):
        preflight(dataclasses.replace(problem, rec_positions=tuple(moved)))


def test_an_unstable_time_step_names_dt_the_limit_and_the_velocity():
    problem = small_problem()
    with pytest.raises(
        StabilityError, match=rf"dt = {problem.dt:g} s exceeds .* largest velocity of the models, 9000"
    ):
        preflight(problem, velocities=[np.full(problem.shape, 9000.0)])
    with pytest.raises(StabilityError, match=r"upper velocity bound, 8000 m/s"):
        preflight(problem, vmax=8000.0)


def test_a_grid_too_coarse_for_the_wavelet_names_spacing_frequency_and_what_would_do():
    with pytest.warns(UserWarning, match="points per wavelength"):  # the wave layer's accuracy warning
        problem = small_problem(f0=60.0)
    # 1500 m/s on 10 m cells needs f < 1500 / (2 x 10) = 75 Hz; the 60 Hz Ricker reaches ~140 Hz.
    with pytest.raises(ModelError, match=r"grid spacing 10 m gives 1\.\d+ points per wavelength .* 1500 m/s; .*"
                                         r"use spacing <= \d+\.?\d* m or a wavelet below 75 Hz"):  # fmt: skip
        preflight(problem)


def test_a_velocity_on_another_grid_is_refused():
    problem = small_problem()
    with pytest.raises(ModelError, match=r"velocity 0 has shape \(30, 20\); the survey's grid is \(40, 20\)"):
        preflight(problem, velocities=[np.full((30, 20), 2000.0)])


def test_a_configuration_run_checks_before_modelling_its_synthetic_data(no_solve, tmp_path):
    velocity = write_model(tmp_path / "v.sgy", small_problem().reference.astype(np.float32), SPACING)
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    cfg = {
        "run": {"workflow": "fwi", "output_dir": str(a_file / "run"), "progress": False},
        "velocity": {"path": str(velocity), "true_path": str(velocity)},
        "acquisition": {"source_spacing": 200.0, "receiver_spacing": 20.0, "record_length": 0.3, "dt": 0.002},
        "modelling": {"space_order": 4, "nbl": 10},
        "fwi": {"bounds": list(BOUNDS)},
    }
    with pytest.raises(OutputError, match="is not a directory"):
        run_from_config(cfg)
    cfg["run"]["output_dir"] = str(tmp_path / "run")
    cfg["fwi"]["bounds"] = [1400.0, 9000.0]
    with pytest.raises(StabilityError, match="upper velocity bound, 9000"):
        run_from_config(cfg)
    assert not (tmp_path / "run").exists()


def test_resume_checks_the_disk_before_continuing(tmp_path, request):
    problem = small_problem()
    fwi(survey(problem), problem.reference, run_dir=tmp_path / "run", iterations=1, bounds=BOUNDS)
    (tmp_path / "run" / "model.sgy").unlink()
    request.getfixturevalue("full_disk")
    request.getfixturevalue("no_solve")
    with pytest.raises(OutputError, match="not enough free disk"):
        resume(tmp_path / "run")
    assert not (tmp_path / "run" / "model.sgy").exists()


def test_cli_migrate_to_a_missing_directory_fails_in_one_line_before_reading_or_solving(
    no_solve, data_dir, tmp_path
):
    velocity = write_model(tmp_path / "v.sgy", np.full((121, 61), 1500.0, dtype=np.float32), SPACING)
    survey_file = data_dir / "judi-shots" / "unit_test_shot_records_2.segy"
    missing = tmp_path / "missing" / "image.sgy"
    for args in (["migrate", str(survey_file), "--velocity", str(velocity)],
                 ["model", str(velocity), "--space-order", "4"]):  # fmt: skip
        result = CliRunner().invoke(main, ["-q", *args, "-o", str(missing)])
        assert result.exit_code == 2, result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("geolearn: error: OutputError: cannot write"), lines
        assert str(missing.parent) in lines[0] and "does not exist" in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.sgy"]


def test_free_disk_is_measured_where_the_output_will_be(tmp_path):
    preflight(outputs={tmp_path / "new" / "dir" / "x.sgy": 10}, create_parents=True)  # an ancestor exists
    assert shutil.disk_usage(tmp_path).free > 10
    with pytest.raises(OutputError, match="it is a directory"):
        preflight(outputs={tmp_path: 10})
    assert Path(tmp_path).is_dir()
