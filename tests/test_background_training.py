"""Training over many backgrounds: geological (and Marmousi) models with migration backgrounds, one
Born operator per model, Adam over samples each imaged with its own operator, checkpoints and resume."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _learned_inversion_helpers import SHAPE, SPACING, single_torch_thread, tiny_problem

from geolearn import ledger
from geolearn.errors import ConfigError, ShapeError
from geolearn.learned_inversion.background_training import (
    BornTrainingSet,
    born_training_sets,
    draw_training_velocities,
    train_over_operators,
)
from geolearn.learned_inversion.born_sampler import BornSampler
from geolearn.learned_inversion.learned_gradient import LearnedGradientLSRTM, learned_gradient_loss
from geolearn.learned_inversion.training_models.geology import GeologyOptions
from geolearn.operators import Convolution2D
from geolearn.wave import BornOperator, SourceEncoding

_one_thread = pytest.fixture(scope="module", autouse=True)(single_torch_thread)

GEOLOGY = {"velocity_range": (1500.0, 3000.0), "options": GeologyOptions(salt_velocity=(2700.0, 3000.0))}


def _second_differences(v: np.ndarray) -> float:
    return float(np.abs(np.diff(v, 2, axis=-1)).mean() + np.abs(np.diff(v, 2, axis=-2)).mean())


def test_training_velocities_and_their_migration_backgrounds(data_dir):
    v, v0 = draw_training_velocities(
        6, SHAPE, SPACING, seed=3, water_depth=30.0, lengths_m=(50.0, 100.0), **GEOLOGY
    )
    assert v.shape == v0.shape == (6, *SHAPE)
    assert np.all(v[:, :, :3] == 1500.0) and np.all(v0[:, :, :3] == 1500.0)  # water rows kept exactly
    assert v.min() >= 1500.0 and v.max() <= 3000.0
    # Smooth below the sea floor, as a migration velocity (measured ratio 0.014 for seed 3).
    assert _second_differences(v0[..., 6:]) < 0.1 * _second_differences(v[..., 6:])
    again, _ = draw_training_velocities(6, SHAPE, SPACING, seed=3, water_depth=30.0, **GEOLOGY)
    np.testing.assert_array_equal(again, v)
    mixed, _ = draw_training_velocities(4, SHAPE, SPACING, seed=3, marmousi_fraction=0.5, data_dir=data_dir)
    # The last two are Marmousi crops: Marmousi's own 1028 m/s gas-sand cells or water at the top.
    np.testing.assert_array_equal(mixed[:2], draw_training_velocities(2, SHAPE, SPACING, seed=3)[0])
    assert not np.array_equal(mixed[2:], draw_training_velocities(4, SHAPE, SPACING, seed=3)[0][2:])
    with pytest.raises(ConfigError, match=r"marmousi_fraction must lie in \[0, 1\], got 1.5"):
        draw_training_velocities(4, SHAPE, SPACING, marmousi_fraction=1.5)


def test_each_set_has_the_born_operator_of_its_own_background():
    model, geometry, _ = tiny_problem(torch.float32)
    v, v0 = draw_training_velocities(2, SHAPE, SPACING, seed=1, water_depth=30.0, **GEOLOGY)
    with ledger.count_solves() as cost:
        sets = born_training_sets(model, geometry, v, v0)
    # One J per model for its data, counted by the model's own operator; 2 solves per shot, as the
    # first J stores the shot's background (kept for training) and then propagates the scattered field.
    assert [ts.J.applications for ts in sets] == [{"forward": 1, "adjoint": 0}] * 2
    assert cost.solves == 2 * 2 * geometry.n_shots
    for ts, vi, v0i in zip(sets, v, v0):
        background = torch.as_tensor(v0i, dtype=torch.float32)
        x = (torch.as_tensor(vi, dtype=torch.float32) - background)[None]
        torch.testing.assert_close(ts.x, x, rtol=0, atol=0)
        expected = BornOperator(model, geometry, background)(x)
        # Not bitwise: inside the whole suite (clean clone) samples near zero differed by up to 1.2e-37
        # (another rounding path of the Born sweep, subnormals flushed or not), so the absolute
        # tolerance is float32 rounding of the records' scale.
        torch.testing.assert_close(ts.y, expected, rtol=1e-6, atol=1e-6 * float(expected.abs().max()))
    noisy = born_training_sets(model, geometry, v, v0, noise=0.05, seed=2)
    for ts, clean in zip(noisy, sets):
        ratio = float((ts.y - clean.y).norm() / clean.y.norm())
        assert ratio == pytest.approx(0.05, rel=1e-4)
    with pytest.raises(ShapeError, match=r"must both be \(N, 40, 24\)"):
        born_training_sets(model, geometry, v[:, :-1], v0[:, :-1])
    with pytest.raises(ConfigError, match="noise must be >= 0"):
        born_training_sets(model, geometry, v, v0, noise=-0.1)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_training_over_two_operators_lowers_the_loss_on_both(seed):
    """Two blur operators with different kernels, images of random blocks: one network for both."""
    gen = torch.Generator().manual_seed(seed)
    sets = []
    for width in (3, 5):
        A = Convolution2D(torch.ones(width, width, dtype=torch.float64) / width**2, (16, 12))
        x = torch.kron(torch.randn(12, 4, 3, generator=gen, dtype=torch.float64), torch.ones(4, 4))
        sets.append(BornTrainingSet(A, A(x), x))
    net = LearnedGradientLSRTM(2, features=8, depth=3, memory=1, seed=seed, dtype=torch.float64)
    loss = learned_gradient_loss(0.3, 0.0)

    def losses():
        with torch.no_grad():
            return [float(loss(net, ts.y, ts.J, ts.x)) for ts in sets]

    before = losses()
    history = train_over_operators(
        net, sets, loss=loss, n_steps=150, lr=1e-2, batch_size=4, seed=seed, progress=False
    )
    after = losses()
    assert len(history.train_loss) == 150
    # Measured (seeds 0, 1, 2): the losses fall to 0.23-0.26 (3 x 3 blur) and 0.44-0.53 (5 x 5) of
    # the untrained network's (CG's).
    assert all(a < 0.7 * b for a, b in zip(after, before)), (before, after)


def test_training_arguments_are_checked():
    A = Convolution2D(torch.ones(3, 3, dtype=torch.float64) / 9, (16, 12))
    x = torch.randn(2, 16, 12, dtype=torch.float64)
    net = LearnedGradientLSRTM(1, features=4, depth=2, dtype=torch.float64)
    with pytest.raises(ConfigError, match="sets is empty"):
        train_over_operators(net, [])
    sets = [BornTrainingSet(A, A(x), x)]
    with pytest.raises(ConfigError, match="need n_steps >= 1"):
        train_over_operators(net, sets, n_steps=0)
    with pytest.raises(ConfigError, match="schedule must be 'cosine' or None"):
        train_over_operators(net, sets, schedule="step")
    with pytest.raises(ConfigError, match="data_weight must be >= 0"):
        train_over_operators(net, sets, data_weight=-1.0)


class _Interrupted(Exception):
    """The crash a test simulates (a killed run)."""


@pytest.fixture(scope="module")
def born_sets():
    """Two Born training sets on the tiny grid (2 shots each)."""
    model, geometry, _ = tiny_problem(torch.float32)
    v, v0 = draw_training_velocities(2, SHAPE, SPACING, seed=1, water_depth=30.0, **GEOLOGY)
    return born_training_sets(model, geometry, v, v0)


def _network(features: int = 4) -> LearnedGradientLSRTM:
    return LearnedGradientLSRTM(2, features=features, depth=2, memory=1, seed=0, dtype=torch.float32)


def test_an_interrupted_run_resumes_to_the_weights_and_losses_of_an_uninterrupted_one(tmp_path, born_sets):
    sets = born_sets
    plain = learned_gradient_loss(0.3, 1.0)
    settings = {"loss": plain, "n_steps": 4, "lr": 1e-2, "batch_size": 2, "seed": 5, "progress": False}
    reference = _network()
    expected = train_over_operators(reference, sets, **settings)

    calls = {"n": 0}

    def crashing(net, y, J, x):
        calls["n"] += 1
        if calls["n"] == 6:  # step 3's second sample: its last checkpoint is after step 2
            raise _Interrupted
        return plain(net, y, J, x)

    path = tmp_path / "run" / "checkpoint.pt"
    with pytest.raises(_Interrupted):
        train_over_operators(_network(), sets, **{**settings, "loss": crashing}, checkpoint_path=path,
                             checkpoint_every=2)  # fmt: skip
    assert torch.load(path, weights_only=True)["step_count"] == 2
    resumed = _network()
    with ledger.count_solves() as cost:
        history = train_over_operators(resumed, sets, **settings, checkpoint_path=path, checkpoint_every=2)
    assert cost.solves > 0  # steps 3 and 4 ran again, not read back
    assert history.steps == [1, 2, 3, 4]
    # Measured: losses and weights equal bitwise (the random stream, Adam and cosine state restored).
    np.testing.assert_allclose(history.train_loss, expected.train_loss, rtol=1e-5, atol=0)
    for a, b in zip(reference.parameters(), resumed.parameters()):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-7)
    assert not torch.equal(next(resumed.parameters()), next(_network().parameters()))  # it trained


def test_a_checkpoint_of_other_settings_or_another_network_is_refused_before_any_solve(tmp_path, born_sets):
    sets = born_sets
    path = tmp_path / "checkpoint.pt"
    train_over_operators(_network(), sets, n_steps=1, batch_size=1, progress=False, checkpoint_path=path)
    with ledger.count_solves() as cost:
        with pytest.raises(ConfigError, match=r"other settings \(lr: 0.001 there, 0.002 now\)"):
            train_over_operators(_network(), sets, n_steps=1, batch_size=1, lr=2e-3, progress=False,
                                 checkpoint_path=path)  # fmt: skip
        with pytest.raises(ConfigError, match=r"holds another model \(parameter shapes .*: \(4, .*\) there"):
            train_over_operators(_network(features=6), sets, n_steps=1, batch_size=1, progress=False,
                                 checkpoint_path=path)  # fmt: skip
    assert cost.solves == 0
    with pytest.raises(ConfigError, match="checkpoint_every"):
        train_over_operators(_network(), sets, checkpoint_path=path, checkpoint_every=0)


def test_born_sampler_draws_a_model_a_background_and_an_experiment_per_step():
    model, geometry, _ = tiny_problem(torch.float32)
    v, v0 = draw_training_velocities(
        3, SHAPE, SPACING, seed=1, water_depth=30.0, lengths_m=(50.0, 100.0), **GEOLOGY
    )
    backgrounds = np.stack([v0, draw_training_velocities(3, SHAPE, SPACING, seed=1, water_depth=30.0,
                                                         lengths_m=(200.0,), **GEOLOGY)[1]], 1)  # fmt: skip
    encoding = SourceEncoding(geometry, "subset", subset=1, seed=0)
    drawn = []

    def operator(background, gen):
        encoding.generator = gen
        drawn.append(background.clone())
        return BornOperator(model, encoding.draw(), background)

    sampler = BornSampler(v, backgrounds, operator, 0.1)
    gen = torch.Generator().manual_seed(5)
    operators, first = [], None
    for _ in range(4):
        y, x, J = sampler(1, gen)
        operators.append(J)
        first = y if first is None else first
        background = drawn[-1]
        i = int(np.argmin(np.abs(v - (x[0] + background).numpy()).max(axis=(1, 2))))
        # x = v_i − v0 of a pool model, v0 one of that model's backgrounds
        np.testing.assert_allclose((x[0] + background).numpy(), v[i], atol=1e-3)
        assert any(torch.equal(background, torch.as_tensor(b, dtype=torch.float32)) for b in backgrounds[i])
        assert J.geometry.n_shots == 1 and y.shape == (1, *J.range_shape)
        clean = J(x)  # the records are J x plus 10 % noise
        assert float((y - clean).norm() / clean.norm()) == pytest.approx(0.1, rel=1e-4)
    # Only the last operator keeps its background; the others were counted (2 J each, 3
    # propagations: the background, then a scattered field per J) and freed at the next draw.
    assert [J.background.shots for J in operators] == [[], [], [], [0]]
    assert sampler.applications == 6 and sampler.propagations == 9
    sampler.close()
    assert sampler.current is None and sampler.applications == 8 and operators[3].background.shots == []
    # The same generator seed draws the same steps (a resumed Trainer run).
    again = BornSampler(v, backgrounds, operator, 0.1)(1, torch.Generator().manual_seed(5))
    torch.testing.assert_close(again[0], first)
    with pytest.raises(ShapeError, match=r"need velocities \(N, nx, nz\)"):
        BornSampler(v, backgrounds[:2], operator, 0.1)
    with pytest.raises(ConfigError, match="noise must be in \\[0, 1\\)"):
        BornSampler(v, v0, operator, 1.5)
