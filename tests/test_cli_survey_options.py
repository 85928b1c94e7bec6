"""`geolearn inspect` and `geolearn migrate` take the reading overrides, the source and the image options."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from geolearn.cli import main
from geolearn.imaging import model_survey
from geolearn.io import edit_headers, read_volume, write_model

SPACING = (10.0, 10.0)


@pytest.fixture(scope="module")
def marine(tmp_path_factory) -> dict[str, Path]:
    """A small marine survey (sea bed at 100 m) whose byte 89 claims degrees, and a migration velocity."""
    tmp = tmp_path_factory.mktemp("marine")
    vp = np.full((60, 30), 1500.0)
    vp[:, 10:] = 1900.0
    vp[:, 20:] = 2300.0
    survey = model_survey(vp, SPACING, source_spacing=200.0, receiver_spacing=20.0, source_depth=10.0,
                          receiver_depth=10.0, record_length=0.5, f0=12.0, nbl=20, space_order=4,
                          output=tmp / "shots.sgy")  # fmt: skip
    edit_headers(survey.path, {"coordinate_units": 3})
    smooth = vp.copy()
    smooth[:, 10:] = 1900.0  # the sea bed kept, below it one velocity
    return {"survey": survey.path, "velocity": write_model(tmp / "v.sgy", smooth.astype(np.float32), SPACING)}


def one_line_error(result) -> str:
    """The error, in one line (the findings of the file, logged as warnings before it, aside)."""
    assert result.exit_code != 0
    lines = [line for line in result.stderr.splitlines() if line.strip() and not line.startswith("WARNING")]
    assert len(lines) == 1 and lines[0].startswith("geolearn: error:"), result.stderr
    return lines[0]


def test_inspect_reports_the_evidence_and_takes_the_overrides(marine):
    runner = CliRunner()
    out = runner.invoke(main, ["-q", "inspect", str(marine["survey"])])
    assert out.exit_code == 0 and "coordinate_units: headers claim byte 89 = 3" in out.stdout
    assert "chosen: metres" in out.stdout
    forced = runner.invoke(main, ["-q", "inspect", str(marine["survey"]), "--coordinate-units", "deg"])
    assert forced.exit_code == 0 and "as the caller said" in forced.stdout
    moved = runner.invoke(main, ["-q", "inspect", str(marine["survey"]), "--header", "source_x=81"])
    assert moved.exit_code == 0, moved.output  # sources read from the receivers' bytes: still a report
    line = one_line_error(
        runner.invoke(main, ["-q", "inspect", str(marine["survey"]), "--header", "source_x=75"])
    )
    assert "byte 75 is not the start of a field" in line and "73 (SourceX)" in line
    line = one_line_error(
        runner.invoke(main, ["-q", "inspect", str(marine["survey"]), "--header", "source_x"])
    )
    assert "NAME=BYTE" in line


def test_migrate_refuses_bad_source_and_preprocess_options_before_any_solve(marine, tmp_path):
    runner = CliRunner()
    base = ["-q", "migrate", str(marine["survey"]), "--velocity", str(marine["velocity"]), "-o"]
    out = runner.invoke(main, [*base, str(tmp_path / "a.sgy"), "--wavelet", "rickr"])
    assert out.exit_code == 2 and "neither 'estimate', 'ricker' nor an existing wavelet file" in out.stderr
    no_steps = tmp_path / "steps.toml"
    no_steps.write_text('[run]\nworkflow = "rtm"\n')
    line = one_line_error(
        runner.invoke(main, [*base, str(tmp_path / "b.sgy"), "--preprocess", str(no_steps)])
    )
    assert "no [[preprocess]] list" in line
    bad_step = tmp_path / "bad.toml"
    bad_step.write_text('[[preprocess]]\nstep = "bandpass"\nlow = 3.0\nhigh = 400.0\n')
    line = one_line_error(
        runner.invoke(main, [*base, str(tmp_path / "c.sgy"), "--preprocess", str(bad_step)])
    )
    assert "preprocess[0] (bandpass)" in line and "Nyquist" in line
    line = one_line_error(runner.invoke(main, [*base, str(tmp_path / "d.sgy"), "--coordinate-units", "deg"]))
    assert "GeometryError" in line and "coordinate_units='m'" in line
    assert not any(tmp_path.glob("*.sgy"))


def test_migrate_switches_the_image_conditioning(marine, tmp_path):
    runner = CliRunner()
    base = ["-q", "migrate", str(marine["survey"]), "--velocity", str(marine["velocity"]), "--f0", "12",
            "--space-order", "4", "--nbl", "20", "-o"]  # fmt: skip
    images = {}
    for name, options in (("default", []), ("raw", ["--no-illumination", "--no-laplacian", "--no-water-mute",
                                                    "--wavelet", "ricker", "--display-gain", "none"])):  # fmt: skip
        out = runner.invoke(main, [*base, str(tmp_path / f"{name}.sgy"), *options])
        assert out.exit_code == 0, out.output + repr(out.exception)
        images[name] = read_volume(tmp_path / f"{name}.sgy").data
        assert (tmp_path / f"{name}.png").is_file()
    # sea bed at 100 m (row 10): the default image is zero down to two rows above it, the raw one is not
    assert np.all(images["default"][:, :9] == 0) and np.abs(images["raw"][:, :9]).max() > 0
    # the reflector at 200 m (row 20) is where the filtered image peaks below the sea bed
    assert 18 <= int(np.argmax(np.abs(images["default"][10:50, 12:]).sum(axis=0))) + 12 <= 22
