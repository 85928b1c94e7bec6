"""`geolearn fwi` killed with SIGKILL after its first saved iteration, then `geolearn resume`: the run
directory holds exactly the files of an uninterrupted run, with equal contents.

What "equal" means, file by file (decided here, and in docs/checkpoint.md):

- ``config.toml``, ``model.sgy``: bitwise (the configuration stores ``output_dir = "."``; the SEG-Y
  writer puts nothing run-specific in its headers);
- ``fwi.png``: bitwise — the figure shows the models, the first gradient, misfit and model error
  against iteration, nothing run-specific (no time, no path), and matplotlib writes no date in a PNG;
- ``fwi_inputs.npz``, ``state.npz``: every array and value equal bitwise, except the wall-clock
  ``history["time"]`` and ``elapsed`` of the state (the ``.npz`` archives themselves carry zip
  timestamps, so their bytes differ).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from geolearn.io import write_model
from geolearn.io.state import load_state

WALL_CLOCK = {"elapsed", "time"}


def _config(tmp_path: Path) -> Path:
    vp = np.full((60, 30), 1500.0, dtype=np.float32)
    vp[:, 12:] = 1900.0
    vp[:, 22:] = 2300.0
    velocity = write_model(tmp_path / "layered.sgy", vp, (10.0, 10.0))
    text = f"""
[run]
workflow = "fwi"
progress = false

[velocity]
path = "{velocity}"
true_path = "{velocity}"
smoothing = 60.0

[acquisition]
source_spacing = 290.0
receiver_spacing = 20.0
record_length = 0.6

[wavelet]
peak_frequency = 8.0

[modelling]
space_order = 4
nbl = 20

[fwi]
iterations = 2
bands = [6.0, 9.0]
bounds = [1400.0, 2400.0]
water_depth = 100.0
"""
    path = tmp_path / "fwi.toml"
    path.write_text(text)
    return path


def _geolearn(*args: str) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    code = 'from geolearn.cli import main; main(prog_name="geolearn")'
    return subprocess.Popen([sys.executable, "-c", code, *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip


def _finish(proc: subprocess.Popen) -> str:
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    return out


def _assert_same(a: Any, b: Any, where: str) -> None:
    if isinstance(a, dict):
        keys = set(a) - WALL_CLOCK
        assert keys == set(b) - WALL_CLOCK, where
        for k in keys:
            _assert_same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and np.array_equal(a, b), where
    else:
        assert type(a) is type(b) and a == b, where


def _assert_same_file(a: Path, b: Path) -> None:
    if a.name == "state.npz":
        _assert_same(load_state(a.parent), load_state(b.parent), "state")
    elif a.suffix == ".npz":
        with np.load(a, allow_pickle=False) as x, np.load(b, allow_pickle=False) as y:
            _assert_same({k: x[k] for k in x.files}, {k: y[k] for k in y.files}, a.name)
    else:
        assert a.read_bytes() == b.read_bytes(), a.name


def test_killed_and_resumed_cli_run_writes_every_file_of_the_uninterrupted_run(tmp_path):
    config = _config(tmp_path)
    full, killed = tmp_path / "full", tmp_path / "killed"
    _finish(_geolearn("fwi", str(config), "--set", f'run.output_dir="{full}"'))

    proc = _geolearn("fwi", str(config), "--set", f'run.output_dir="{killed}"')
    deadline = time.monotonic() + 300
    while not (killed / "state.npz").exists():  # the first iteration has been saved
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[1][-3000:]
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    interrupted = load_state(killed)["iteration"]
    assert 1 <= interrupted < 4 and not (killed / "model.sgy").exists(), interrupted

    out = _finish(_geolearn("resume", str(killed)))
    assert "4 iterations" in out and "model.sgy" in out
    names = sorted(p.name for p in full.iterdir())
    assert names == ["config.toml", "fwi.png", "fwi_inputs.npz", "model.sgy", "state.npz"]
    assert sorted(p.name for p in killed.iterdir()) == names  # no leftover of the interrupted write
    for name in names:
        _assert_same_file(full / name, killed / name)
