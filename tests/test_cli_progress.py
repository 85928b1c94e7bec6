"""Progress on the command line: ``run.progress = false`` silences every bar, and log lines never share
a line with a bar (logging goes through ``tqdm.write`` while bars are shown)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from geolearn.cli import main
from geolearn.io import write_model

BAR = "%|"  # tqdm's "42%|████" marker


def _config(tmp_path: Path, progress: bool) -> Path:
    vp = np.full((40, 20), 1500.0, dtype=np.float32)
    vp[:, 10:] = 1900.0
    velocity = write_model(tmp_path / "v.sgy", vp, (10.0, 10.0))
    path = tmp_path / f"fwi_{progress}.toml"
    path.write_text(f"""
[run]
workflow = "fwi"
output_dir = "{tmp_path / f"run_{progress}"}"
progress = {str(progress).lower()}

[velocity]
path = "{velocity}"
true_path = "{velocity}"
smoothing = 50.0

[acquisition]
source_spacing = 190.0
receiver_spacing = 20.0
record_length = 0.4

[wavelet]
peak_frequency = 10.0

[modelling]
space_order = 4
nbl = 10

[fwi]
iterations = 2
bounds = [1400.0, 2200.0]
""")
    return path


@pytest.mark.parametrize("command", ["run", "fwi"])
def test_progress_false_in_the_configuration_silences_every_bar(tmp_path, command):
    result = CliRunner().invoke(main, [command, str(_config(tmp_path, progress=False))])
    assert result.exit_code == 0, result.output
    assert BAR not in result.stderr and "FWI iteration 2" in result.stderr  # logs, but no bar


def test_bars_and_log_lines_never_share_a_line(tmp_path):
    config = _config(tmp_path, progress=True)
    result = CliRunner().invoke(main, ["fwi", str(config)])
    assert result.exit_code == 0, result.output
    assert BAR in result.stderr  # bars were drawn (FWI iterations, shots)
    logged = [line for line in result.stderr.split("\n") if "INFO geolearn" in line]
    assert any("FWI iteration 1" in line for line in logged)  # logged while the FWI bar was open
    for line in logged:
        # A bar redraws itself after '\r'; a log line written through tqdm starts a fresh segment.
        assert line.split("\r")[-1].startswith("INFO geolearn"), repr(line)
    quiet = CliRunner().invoke(main, ["-q", "resume", str(tmp_path / "run_True")])
    assert quiet.exit_code == 0 and BAR not in quiet.stderr and "INFO" not in quiet.stderr
