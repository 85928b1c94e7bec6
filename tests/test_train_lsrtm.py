"""`geolearn train-lsrtm` and the learned gradient network's weights file, on a tiny synthetic SEG-Y survey.

Training a network for one survey (:func:`train_for_survey`), resuming it after an interruption,
the weights file (kind ``learned_gradient``) read back as data, applying it with ``geolearn
migrate --method learned``, and bad inputs refused before any wave-equation solve. The quality of
trained learned gradient networks is asserted over seeds in test_learned_gradient.py; these tests
check the plumbing on a few steps.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from geolearn.cli import main
from geolearn.errors import ConfigError, GeolearnError
from geolearn.imaging import ShotProblem, model_survey, problem_from_survey
from geolearn.io import write_model
from geolearn.learned_inversion import DataSafeguard, LearnedGradientLSRTM, learned_lsrtm
from geolearn.learned_inversion import survey_training as st
from geolearn.learned_inversion.migration import learned_migrate
from geolearn.learned_inversion.persistence import load_learned, save_learned
from geolearn.learned_inversion.survey_training import SurveyTraining, train_for_survey
from geolearn.operators import Convolution2D
from geolearn.runs.train_config import load_train_config

SPACING = (10.0, 10.0)
F0 = 10.0
OPTIONS = {"f0": F0, "space_order": 4, "nbl": 8}
TINY = {"models": 4, "steps": 4, "layers": 2, "features": 4, "depth": 2, "memory": 1, "checkpoint_every": 2}


@pytest.fixture(scope="module")
def survey(tmp_path_factory) -> dict[str, Path]:
    """3 shots over 30 x 20 cells at 10 m (water on a layered rock), and a smoothed migration velocity."""
    from scipy.ndimage import gaussian_filter

    root = tmp_path_factory.mktemp("train_lsrtm")
    vp = np.full((30, 20), 1500.0)
    vp[:, 5:] = 1800.0
    vp[:, 12:] = 2100.0
    model_survey(vp, SPACING, source_spacing=120.0, receiver_spacing=10.0, record_length=0.3, f0=F0,
                 space_order=4, nbl=8, output=root / "shots.sgy", progress=False)  # fmt: skip
    v0 = vp.copy()
    v0[:, 5:] = gaussian_filter(vp, 2.0, mode="nearest")[:, 5:]
    write_model(root / "v0.sgy", v0.astype(np.float32), SPACING)
    return {"root": root, "shots": root / "shots.sgy", "velocity": root / "v0.sgy"}


@pytest.fixture(scope="module")
def problem(survey) -> ShotProblem:
    return problem_from_survey(survey["shots"], survey["velocity"], **OPTIONS)[0]


def _config(survey: dict[str, Path], directory: Path, **training) -> Path:
    lines = ["[survey]", f"path = '{survey['shots']}'", "[velocity]", f"path = '{survey['velocity']}'",
             "[wavelet]", f"peak_frequency = {F0}", "[modelling]", "space_order = 4", "nbl = 8", "[training]",
             *(f"{k} = {v!r}" for k, v in {**TINY, **training}.items()), "[output]", "weights = 'out/net.pt'",
             "work_dir = 'work'"]  # fmt: skip
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "train.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _ok(result) -> str:
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.stdout


# ------------------------------------------------------------------------------------ weights file
def _geometry():
    p = ShotProblem.create(np.full((16, 12), 1500.0), SPACING, np.array([[80.0, 10.0]]),
                           np.stack([np.arange(16) * 10.0, np.full(16, 10.0)], 1), record_length=0.2, f0=F0)  # fmt: skip
    return p.to_wave()[1]


def test_learned_gradient_weights_round_trip(tmp_path):
    net = LearnedGradientLSRTM(
        2, features=5, depth=3, memory=1, activation="silu", seed=3, dtype=torch.float64
    )
    with torch.no_grad():  # trained-like weights: the last convolutions are no longer zero
        for p in net.parameters():
            p.add_(
                0.05 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel()), dtype=p.dtype)
            )
    path = save_learned(tmp_path / "lg.pt", net, kind="learned_gradient", geometry=_geometry())
    loaded = load_learned(path)
    assert loaded.kind == "learned_gradient"
    assert loaded.hyper == {"n_layers": 2, "features": 5, "depth": 3, "memory": 1, "classical": "cg",
                            "activation": "silu", "seed": 0}  # fmt: skip
    blur = Convolution2D(torch.ones(3, 3, dtype=torch.float64) / 9, (16, 12))
    y = blur(torch.randn(2, 16, 12, generator=torch.Generator().manual_seed(1), dtype=torch.float64))
    with torch.no_grad():
        expected = net.eval()(y, blur)
        got = loaded.net(y, blur)
        guarded = loaded.net(y, blur, safeguard=DataSafeguard())
    assert torch.equal(got, expected) and got.abs().max() > 0
    assert torch.equal(guarded, net(y, blur, safeguard=DataSafeguard()))


def test_wrong_or_corrupt_weights_files_are_refused(tmp_path):
    net = LearnedGradientLSRTM(2, features=4, depth=2)
    with pytest.raises(ConfigError, match="do not fit a learned_gradient network"):
        save_learned(tmp_path / "x.pt", net, kind="learned_gradient", geometry=_geometry(),
                     hyper={"n_layers": 3, "features": 4, "depth": 2})  # fmt: skip
    with pytest.raises(ConfigError, match="needs hyper"):
        save_learned(
            tmp_path / "x.pt", learned_lsrtm(2, scale=1.0), kind="learned_lsrtm", geometry=_geometry()
        )
    good = save_learned(tmp_path / "good.pt", net, kind="learned_gradient", geometry=_geometry())
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    with pytest.raises(ConfigError, match="not a readable geolearn weights file"):
        load_learned(corrupt)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(ConfigError, match="not a geolearn learned-inversion file"):
        load_learned(foreign)
    payload = torch.load(good, weights_only=True)
    for change, message in (({"kind": "learned_cnn"}, "unknown kind 'learned_cnn'"),
                            ({"hyper": {**payload["hyper"], "features": 6}}, "do not fit"),
                            ({"hyper": {**payload["hyper"], "width": 6}}, "does not fit the learned_gradient builder")):  # fmt: skip
        torch.save({**payload, **change}, tmp_path / "bad.pt")
        with pytest.raises(ConfigError, match=message):
            load_learned(tmp_path / "bad.pt")


# ------------------------------------------------------------------------------------ training
def test_bad_inputs_are_refused_before_any_solve(survey, problem, tmp_path, monkeypatch, caplog):
    def no_solve(*args, **kwargs):
        raise AssertionError("a Born operator was built before the inputs were checked")

    monkeypatch.setattr(st, "BornOperator", no_solve)
    vp = problem.reference
    with pytest.raises(ConfigError, match="models = 0 is invalid"):
        SurveyTraining(models=0)
    with pytest.raises(ConfigError, match="encoding must be one of"):
        SurveyTraining(encoding="hadamard")
    with pytest.raises(GeolearnError, match="shape"):
        train_for_survey(problem, vp[:-1], tmp_path / "w", SurveyTraining(**TINY))
    with pytest.raises(ConfigError, match="subset = 9 shots, but the survey has 3"):
        train_for_survey(problem, vp, tmp_path / "w", SurveyTraining(**TINY, encoding="subset", subset=9))
    with pytest.raises(ConfigError, match=r"velocity range .* is empty"):
        train_for_survey(problem, vp, tmp_path / "w", SurveyTraining(**TINY, velocity_range=(9000.0, 9500.0)))
    assert not (tmp_path / "w" / "training.json").exists()  # nothing claimed by a refused run
    # A training model clipped flat to the velocity range has nothing to image (J·0 = 0): dropped, and
    # a pool of only such models refused, before any solve (it used to stop training midway).
    flat = np.full((2, *vp.shape), 1800.0)
    monkeypatch.setattr(st, "draw_training_velocities", lambda *a, **k: (flat.copy(), flat.copy()))
    with pytest.raises(ConfigError, match=r"every training model is flat .* widen velocity_range"):
        train_for_survey(problem, vp, tmp_path / "w", SurveyTraining(**TINY))
    varied = flat.copy()
    varied[1, :, 10:] = 2000.0
    monkeypatch.setattr(st, "draw_training_velocities", lambda *a, **k: (varied.copy(), flat.copy()))
    with caplog.at_level("INFO", logger=st.logger.name), pytest.raises(AssertionError, match="Born operator"):
        train_for_survey(problem, vp, tmp_path / "w2", SurveyTraining(**TINY))
    assert "1 of 2 training models have no perturbation left" in caplog.text
    # The CLI: one line naming the key, before the survey is even read.
    cases = {"training.models=0": "training.models = 0 is invalid", "training.encoding=hadamard": "training.encoding",
             "training.modes=3": "did you mean 'training.models'",
             "training.velocity_range=[3000.0, 2000.0]": "v_min < v_max"}  # fmt: skip
    config = _config(survey, tmp_path / "cli")
    for setting, message in cases.items():
        result = CliRunner().invoke(main, ["-q", "train-lsrtm", str(config), "--set", setting])
        assert result.exit_code == 2 and message in result.stderr, result.stderr
    config = _config(survey, tmp_path / "c_estimate")
    config.write_text(config.read_text().replace("[wavelet]\n", "[wavelet]\nkind = 'estimate'\n"))
    with pytest.raises(ConfigError, match="training needs a fixed source"):
        load_train_config(config)
    config.write_text(config.read_text().replace("weights = 'out/net.pt'\n", ""))
    with pytest.raises(ConfigError, match=r"output\.weights is required"):
        load_train_config(config)


def test_training_resumes_where_it_was_interrupted(problem, tmp_path, monkeypatch):
    settings = SurveyTraining(**TINY)
    whole = train_for_survey(problem, problem.reference, tmp_path / "whole", settings, progress=False)
    assert whole.steps == 4 and whole.encoding == "rademacher" and whole.solves > 0
    built = []

    class Interrupted(st.BornOperator):  # the run is killed while step 4 builds its operator
        def __init__(self, *args, **kwargs):
            built.append(1)
            if len(built) == 4:
                raise KeyboardInterrupt
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(st, "BornOperator", Interrupted)
    with pytest.raises(KeyboardInterrupt):
        train_for_survey(problem, problem.reference, tmp_path / "cut", settings, progress=False)
    assert torch.load(tmp_path / "cut" / "checkpoint.pt", weights_only=True)["step_count"] == 2
    monkeypatch.undo()
    resumed = train_for_survey(problem, problem.reference, tmp_path / "cut", settings, progress=False)
    assert resumed.steps == 4 and len(resumed.history.train_loss) == 4
    # Steps 3 and 4 after the checkpoint draw what they drew in the uninterrupted run.
    np.testing.assert_allclose(resumed.history.train_loss, whole.history.train_loss, rtol=1e-4)
    for a, b in zip(resumed.net.state_dict().values(), whole.net.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
    # Every step costs the same solves; the interruption cost step 3 once more (step 4 died first).
    assert resumed.solves == pytest.approx(whole.solves * 5 / 4)
    other = SurveyTraining(**{**TINY, "steps": 5})
    with pytest.raises(ConfigError, match=r"other settings \(steps differ\)"):
        train_for_survey(problem, problem.reference, tmp_path / "cut", other, progress=False)


def test_train_then_migrate_from_the_command_line(survey, tmp_path):
    runner = CliRunner()
    assert "[training] keys" in _ok(runner.invoke(main, ["train-lsrtm", "--help"]))
    help_text = _ok(runner.invoke(main, ["train-lsrtm", "--help"]))
    for key in ("models", "steps", "layers", "seed", "weights", "work_dir"):
        assert f".{key} " in help_text
    example = tmp_path / "example.toml"
    example.write_text(_ok(runner.invoke(main, ["train-lsrtm", "--example"])))
    assert load_train_config(example, overrides={"survey.path": str(survey["shots"]),
                                                 "velocity.path": str(survey["velocity"])}).training.models == 32  # fmt: skip
    config = _config(survey, tmp_path / "run", steps=2)
    out = _ok(runner.invoke(main, ["-q", "train-lsrtm", str(config)]))
    weights = tmp_path / "run" / "out" / "net.pt"
    assert "trained 2 steps (rademacher supershots, 4 models" in out and f"wrote {weights}" in out
    assert "geolearn migrate" in out and "--method learned" in out
    assert load_learned(weights).kind == "learned_gradient"
    image = tmp_path / "learned.sgy"
    args = ["-q", "migrate", str(survey["shots"]), "--velocity", str(survey["velocity"]), "--method", "learned",
            "--weights", str(weights), "--f0", str(F0), "--space-order", "4", "--nbl", "8", "-o", str(image)]  # fmt: skip
    assert "learned image 30 x 20" in _ok(runner.invoke(main, args))
    from geolearn.io import read_model, read_volume

    expected = learned_migrate(survey["shots"], read_model(survey["velocity"]), weights, **OPTIONS)
    written = read_volume(image).data.reshape(expected.shape)
    assert np.abs(expected).max() > 0
    np.testing.assert_allclose(
        written, expected.astype(np.float32), rtol=1e-5, atol=1e-6 * np.abs(expected).max()
    )
    unguarded = learned_migrate(
        survey["shots"], read_model(survey["velocity"]), weights, safeguard=False, **OPTIONS
    )
    assert unguarded.shape == expected.shape
    result = runner.invoke(main, [*args[:-2], "--no-safeguard", "--noise-level", "0.1", "-o", str(image)])
    assert result.exit_code == 2 and "--no-safeguard" in result.stderr
