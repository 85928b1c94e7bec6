"""The `geolearn` command: outputs, exit status and one-line errors."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from geolearn.cli import main


@pytest.fixture()
def runner() -> CliRunner:
    return CliRunner()


def _one_line_error(result) -> str:
    assert result.exit_code != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("geolearn: error:")
    assert "Traceback" not in result.output
    return lines[0]


def test_demo_sparse_writes_plot_and_fista_needs_fewer_iterations(runner, tmp_path):
    result = runner.invoke(main, ["-q", "demo", "--kind", "sparse", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "sparse_convergence.png").stat().st_size > 10_000
    counts = dict(re.findall(r"(ISTA|FISTA)\s*: final objective [\d.]+; (\d+) iterations", result.stdout))
    assert int(counts["FISTA"]) < int(counts["ISTA"])


def test_inspect_reference_survey_and_figures(runner, data_dir, tmp_path):
    segy = data_dir / "judi-shots" / "unit_test_shot_records_2.segy"
    result = runner.invoke(
        main, ["-q", "inspect", str(segy), "--z-positive", "down", "--figures", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert re.search(r"shots\s+2 \(120\.\.120 receivers", result.stdout)
    assert "dt=2 ms" in result.stdout
    assert (tmp_path / "acquisition.png").exists() and (tmp_path / "gather_0.png").exists()


def test_inspect_truncated_file_is_one_line_error(runner, data_dir):
    line = _one_line_error(
        runner.invoke(main, ["-q", "inspect", str(data_dir / "segyio-testdata" / "broken.sgy")])
    )
    assert "SegyFormatError" in line and "broken.sgy" in line


def test_missing_file_is_one_line_error(runner, tmp_path):
    line = _one_line_error(runner.invoke(main, ["inspect", str(tmp_path / "nope.sgy")]))
    assert "does not exist" in line


def test_debug_shows_traceback(runner, data_dir):
    result = runner.invoke(
        main, ["--debug", "-q", "inspect", str(data_dir / "segyio-testdata" / "broken.sgy")]
    )
    assert result.exit_code != 0
    assert type(result.exception).__name__ == "SegyFormatError"


def test_seismic_demo_writes_segy_figures_and_quality(runner, tmp_path, monkeypatch):
    import numpy as np

    from geolearn.io import read_model

    monkeypatch.setenv("GEOLEARN_FAST", "1")
    result = runner.invoke(main, ["-q", "demo", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    for name in [
        "survey.sgy",
        "rtm.sgy",
        "lsrtm.sgy",
        "fwi_run/model.sgy",
        "fwi_run/fwi.png",
        "rtm.png",
        "lsrtm.png",
    ]:
        assert (tmp_path / name).stat().st_size > 0, name
    # One FWI model and figure: the run's, no copies beside them.
    assert {p.name for p in tmp_path.glob("*.sgy")} == set(
        ["survey.sgy", "true_velocity.sgy", "rtm.sgy", "lsrtm.sgy"]
    )
    assert not (tmp_path / "fwi.png").exists()
    err0, err1 = map(float, re.search(r"relative model error ([\d.]+) -> ([\d.]+)", result.stdout).groups())
    assert err1 < err0
    assert float(re.search(r"LSRTM  : correlation ([\d.]+)", result.stdout).group(1)) > 0.3
    fwi_model = read_model(tmp_path / "fwi_run" / "model.sgy")
    assert fwi_model.values.shape == (60, 30) and np.all(np.isfinite(fwi_model.values))
