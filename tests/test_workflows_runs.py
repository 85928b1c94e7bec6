"""Shot-parallel gradients on Dask, killed-and-resumed FWI runs, and runs driven by a TOML configuration."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _workflow_helpers import PROPAGATION, SPACING, default_threads, layered, smooth

from geolearn.fwi import fwi_gradient
from geolearn.imaging import ShotProblem
from geolearn.imaging.modeling import model_records
from geolearn.imaging.shots import executor
from geolearn.io import read_model, read_survey, read_volume
from geolearn.runs import resume, run_from_config

__all__ = ["default_threads"]

TESTS = Path(__file__).resolve().parent

SCRIPT = """
import json, os, signal, sys
import numpy as np
sys.path.insert(0, {tests!r})
from _workflow_helpers import PROPAGATION, SPACING, layered, smooth
from geolearn.fwi import fwi
from geolearn.imaging import model_survey
from geolearn.runs import resume

mode, run_dir, out, optimizer = sys.argv[1:5]
kill_after = int(sys.argv[5]) if len(sys.argv) > 5 else -1
vp = layered()
v0 = smooth(vp, 5.0)
v0[:, :3] = 1500.0

def callback(iteration, entry):
    if iteration == kill_after:
        os.kill(os.getpid(), signal.SIGKILL)

if mode == "resume":
    result = resume(run_dir)
else:
    survey = model_survey(vp, SPACING, source_spacing=150.0, receiver_spacing=20.0, record_length=0.5, f0=10.0,
                          **PROPAGATION)
    options = dict(bands=(6.0, 10.0), iterations=2, bounds=(1400.0, 3000.0), water_depth=20.0, optimizer=optimizer)
    if optimizer == "adam":
        options.update(learning_rate=20.0, shots_per_iteration=2, seed=7)
    else:
        options.update(estimate_wavelet=True)
    result = fwi(survey, v0, true=vp, run_dir=run_dir, callback=callback, **options)
np.save(out, result.velocity)
with open(out + ".json", "w") as fh:
    json.dump({{k: v for k, v in result.history.items() if k != "time"}}, fh)
"""


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    script = tmp_path / "fwi_run.py"
    script.write_text(SCRIPT.format(tests=str(TESTS)))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, str(script), *args], env=env, capture_output=True, text=True, timeout=300
    )


@pytest.mark.parametrize(("optimizer", "kill_after"), [("lbfgs", 3), ("adam", 2)])
def test_fwi_killed_after_iteration_k_and_resumed_equals_the_uninterrupted_run(
    tmp_path, optimizer, kill_after
):
    full = _run(tmp_path, "run", str(tmp_path / "full"), str(tmp_path / "full.npy"), optimizer)
    assert full.returncode == 0, full.stderr[-2000:]
    killed = _run(
        tmp_path, "run", str(tmp_path / "killed"), str(tmp_path / "killed.npy"), optimizer, str(kill_after)
    )
    assert killed.returncode == -9, killed.stderr[-2000:]  # SIGKILL: no clean-up ran
    assert not (tmp_path / "killed.npy").exists()
    resumed = _run(tmp_path, "resume", str(tmp_path / "killed"), str(tmp_path / "resumed.npy"), optimizer)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    np.testing.assert_array_equal(np.load(tmp_path / "resumed.npy"), np.load(tmp_path / "full.npy"))
    h_full = json.loads((tmp_path / "full.npy.json").read_text())
    h_resumed = json.loads((tmp_path / "resumed.npy.json").read_text())
    assert h_resumed == h_full and len(h_full["misfit"]) == 4
    # Both ended in fwi.finish: the same files, the written model and figure bitwise equal.
    names = sorted(p.name for p in (tmp_path / "full").iterdir())
    assert names == ["fwi.png", "fwi_inputs.npz", "model.sgy", "state.npz"]
    assert sorted(p.name for p in (tmp_path / "killed").iterdir()) == names
    for name in ("model.sgy", "fwi.png"):
        assert (tmp_path / "full" / name).read_bytes() == (tmp_path / "killed" / name).read_bytes(), name


def test_dask_local_cluster_gives_the_serial_fwi_gradient():
    vp = layered(40, 30)
    src = np.array([[100.0, 10.0], [200.0, 10.0], [300.0, 10.0]])
    rec = np.column_stack([np.arange(0.0, 400.0, 20.0), np.full(20, 10.0)])
    problem = ShotProblem.create(
        vp, SPACING, src, rec, record_length=0.3, f0=12.0, dtype="float64", **PROPAGATION
    )
    with executor() as ex:
        observed = model_records(problem, vp, ex)
    v0 = smooth(vp)
    serial = fwi_gradient(problem, v0, observed, misfit="ncc")
    parallel = fwi_gradient(problem, v0, observed, misfit="ncc", client="local", n_workers=2)
    assert parallel[0] == pytest.approx(serial[0], rel=1e-12)
    np.testing.assert_allclose(parallel[1], serial[1], rtol=1e-10, atol=1e-12 * np.abs(serial[1]).max())
    assert np.abs(serial[1]).max() > 0


def _config(tmp_path: Path, data_dir: Path, workflow: str, **sections) -> dict:
    velocity = {
        "path": str(data_dir / "marmousi" / "vp_marmousi_bi"), "format": "bin", "units": "km/s",
        "shape": [1601, 401], "spacing": [7.5, 7.5], "crop": [4500.0, 5670.0, 0.0, 600.0], "resample": 30.0,
    }  # fmt: skip
    cfg = {
        "run": {"workflow": workflow, "output_dir": str(tmp_path / workflow), "progress": False},
        "velocity": velocity,
        "acquisition": {"source_spacing": 400.0, "receiver_spacing": 30.0, "source_depth": 30.0,
                        "receiver_depth": 30.0, "record_length": 0.8},
        "wavelet": {"peak_frequency": 5.0},
        "modelling": {"space_order": 4, "nbl": 20},
    }  # fmt: skip
    for name, table in sections.items():
        cfg.setdefault(name, {}).update(table)
    return cfg


def test_workflows_run_from_a_configuration(tmp_path, data_dir):
    survey = run_from_config(_config(tmp_path, data_dir, "model"))
    shots = tmp_path / "model" / "shots.sgy"
    assert (
        read_survey(shots).n_shots == survey.problem.n_shots == 3
        and (tmp_path / "model" / "survey.png").is_file()
    )
    image = run_from_config(_config(tmp_path, data_dir, "rtm", survey={"path": str(shots)}))
    volume = read_volume(tmp_path / "rtm" / "image.sgy")
    assert volume.data.shape == image.image.shape == (40, 21)
    np.testing.assert_allclose(volume.cdp_xy[:, 0], 4500.0 + 30.0 * np.arange(40))
    cfg = _config(tmp_path, data_dir, "fwi", velocity={"true_path": _config(tmp_path, data_dir, "x")["velocity"]["path"],
                                                      "smoothing": 120.0},
                  fwi={"iterations": 2, "bands": [4.0], "bounds": [1400.0, 2600.0], "water_depth": 210.0})  # fmt: skip
    result = run_from_config(cfg)
    out = tmp_path / "fwi"
    assert result.misfit_final < result.misfit_initial and np.isfinite(result.history["model_error"]).all()
    assert {"config.toml", "fwi_inputs.npz", "state.npz", "model.sgy", "fwi.png"} <= {
        p.name for p in out.iterdir()
    }
    np.testing.assert_allclose(read_model(out / "model.sgy").values, result.velocity.astype(np.float32))
    again = resume(out)  # a finished run returns its result without iterating
    np.testing.assert_array_equal(again.velocity, result.velocity)
    with pytest.raises(FileExistsError):
        run_from_config(cfg)
