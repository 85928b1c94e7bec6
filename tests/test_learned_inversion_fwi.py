"""Learned FWI with adjoint-state gradients and the acquisition given at call time: improves held-back
models beyond GD + line search at equal gradients, falls back to GD on unseen Marmousi crops (safeguard),
Taylor test through F, transfer to another acquisition and grid."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _learned_inversion_helpers import (
    SEEDS,
    SHAPE,
    SPACING,
    flat_parameters,
    single_torch_thread,
    tiny_problem,
    transfer_problem,
)
from torch.func import functional_call

from geolearn import ledger
from geolearn.errors import ShapeError
from geolearn.io import marmousi_crop
from geolearn.learned_inversion.fwi import NOISE_FREE, LearnedFWI, fwi_training_loss, train_learned_fwi
from geolearn.learned_inversion.fwi_baseline import gd_fwi
from geolearn.learned_inversion.fwi_safeguard import safeguarded_fwi
from geolearn.learned_inversion.metrics import psnr, relative_misfit
from geolearn.learned_inversion.training_models.generator import (
    random_models,
    smooth_velocity,
    stack_models,
    starting_models,
)
from geolearn.operators import taylor_test
from geolearn.wave import WaveModeling

_one_thread = pytest.fixture(scope="module", autouse=True)(single_torch_thread)

MAX_DEPTH = (SHAPE[1] - 1) * SPACING[1]  # the training grid's depth, m
N_TRAIN, N_TEST = 48, 8
#: Varied backgrounds (top velocity, gradient, contrast, water depth) drawn per model.
RANGES = {
    "v_top": (1500.0, 2200.0),
    "gradient": (0.0, 6.0),
    "contrast": (150.0, 450.0),
    "water_depth_m": (0.0, 40.0),
}


def _records(model, geometry, velocities):
    F = WaveModeling(model, geometry)
    with torch.no_grad():
        return torch.stack([F(v) for v in velocities])


def _misfit(model, geometry, velocities, observed):
    return relative_misfit(_records(model, geometry, velocities), observed)


@pytest.fixture(scope="module")
def data(data_dir):
    """Varied generator models with mixed starts (backgrounds or smoothed truths), and two
    Marmousi crops started from the crop smoothed over 40 m; dt stable up to 4500 m/s."""
    model, geometry, _ = tiny_problem(torch.float32, vmax=4500.0)
    models = random_models(N_TRAIN + N_TEST, SHAPE, SPACING, seed=11, **RANGES)
    v_true = stack_models(models, "velocity")
    crop = np.stack([marmousi_crop(x0, *SHAPE, 8, data_dir=data_dir)[0] for x0 in (3000.0, 7800.0)])
    truth = torch.as_tensor(crop, dtype=torch.float32)
    return {"model": model, "geometry": geometry, "v_true": v_true, "v_start": starting_models(models, seed=3),
            "observed": _records(model, geometry, v_true), "crop_truth": truth,
            "crop_start": torch.as_tensor(np.stack([smooth_velocity(v, 40.0, SPACING) for v in crop]), dtype=torch.float32),
            "crop_observed": _records(model, geometry, truth)}  # fmt: skip


@pytest.fixture(scope="module")
def trained(data):
    """One learned FWI per seed (CNN weights and mini-batches), trained on the first N_TRAIN models."""
    out, train = {}, slice(0, N_TRAIN)
    v_true = data["v_true"][train]
    for seed in SEEDS:
        net = LearnedFWI(3, max_depth=MAX_DEPTH, max_update=200.0, features=8, seed=seed,
                         v_scale=(float(v_true.mean()), float(v_true.std())))  # fmt: skip
        hist = train_learned_fwi(net, data["geometry"], data["v_start"][train], data["observed"][train], v_true,
                                 steps_per_layer=150, lr=1e-2, batch_size=8, seed=seed, progress=False)  # fmt: skip
        out[seed] = (net, hist)
    return out


@pytest.mark.parametrize("seed", SEEDS)
def test_learned_fwi_improves_held_back_models_like_gd_at_equal_gradients(data, trained, seed):
    net, hist = trained[seed]
    geometry, test = data["geometry"], slice(N_TRAIN, None)
    assert hist["gradients"] == 3 * N_TRAIN  # greedy training: one gradient per layer and model
    n_shots = geometry.n_shots
    # The ledger agrees: a gradient is one forward and one adjoint solve per shot, and training
    # solves nothing else (the layers train on the cached gradients).
    assert hist["solves"] == 2 * n_shots * hist["gradients"]
    # Memory plan: per layer, (v_k, g_k, μ_k) of every training model and nothing else is held.
    assert hist["cache_bytes"] == [N_TRAIN * (2 * SHAPE[0] * SHAPE[1] + 1) * 4] * 3
    v0, v_true, obs = data["v_start"][test], data["v_true"][test], data["observed"][test]
    with torch.no_grad(), ledger.count_solves() as learned_cost:
        run = safeguarded_fwi(net, v0, obs, geometry, safeguard=NOISE_FREE)
    v_learned = run.velocity
    assert learned_cost.solves == run.solves
    # 3 gradients, at v0 and at the kept models (2 solves per shot), a forward check of each layer's
    # proposal (1) and >= 1 line-search trial per layer (1; noise-free data: no layer skips it).
    assert run.solves >= (3 * 2 + 3 + 3) * n_shots * N_TEST
    gd = gd_fwi(v0, geometry, obs, 3, step=50.0)
    v_gd = gd.velocity
    # Equal gradients (3 per model); GD's line searches add at least one modelling per gradient.
    assert gd.gradients == 3 * N_TEST and gd.solves >= 3 * (2 + 1) * n_shots * N_TEST
    p_learned, p_gd, p_start = (float(psnr(v, v_true).mean()) for v in (v_learned, v_gd, v0))
    # Start 21.38 dB, GD + line search 22.05 dB (198 solves). Safeguarded learned, seeds 0-4:
    # 22.20-23.01 dB, i.e. +0.15 (seed 3) to +0.96 dB above GD, spread 0.81 dB, for 256-270
    # solves (256-260 for seeds 0-2 since each proposal is checked by a forward modelling); each layer kept the learned update for 50-62 % (layer 1), 25-50 % and 0-38 % of the
    # models; the bare network: 22.07-23.15 dB.
    assert p_gd > p_start
    assert p_learned > p_start + 0.5, (p_start, p_learned)
    assert p_learned > p_gd, f"learned FWI {p_learned:.2f} dB vs GD {p_gd:.2f} dB"


@pytest.mark.parametrize("seed", SEEDS)
def test_trained_on_varied_models_and_starts_it_improves_unseen_marmousi_crops(data, trained, seed):
    # Without the safeguard (measured, seeds 0-4) the network fits crop 1 worse than GD does
    # (misfit 0.061-0.147 against GD's 0.040; 0.1415 at the start: the old fresh-clone failure) and
    # paints structure in crop 2 (+0.4 to +0.8 dB over GD there, misfit 0.056-0.087 against 0.076).
    # The safeguard compares every layer with GD's line-searched step: on these unseen crops it
    # refused every learned update for all five seeds, so the result is GD's (misfit 0.040 and
    # 0.076, PSNR gains +0.19 and +0.23 dB over the start) for 62 solves instead of GD's 50 (70
    # before each proposal was checked by a forward modelling instead of a gradient).
    net, _ = trained[seed]
    model, geometry = data["model"], data["geometry"]
    start, truth, obs = data["crop_start"], data["crop_truth"], data["crop_observed"]
    with torch.no_grad():
        v_learned = net(start, obs, geometry)
    gd = gd_fwi(start, geometry, obs, 3, step=50.0)
    mu_start, mu_learned, mu_gd = (_misfit(model, geometry, v, obs) for v in (start, v_learned, gd.velocity))
    gain = psnr(v_learned, truth) - psnr(start, truth)
    assert bool((mu_learned <= mu_gd * (1 + 1e-6)).all()), (mu_gd, mu_learned)
    assert bool((mu_learned < 0.9 * mu_start).all()), (mu_start, mu_learned)
    assert float(gain.mean()) > 0.1, gain


def test_safeguard_keeps_every_model_from_fitting_the_data_worse():
    model, geometry, _ = tiny_problem(torch.float32)
    models = random_models(2, SHAPE, SPACING, seed=4)
    v0, v_true = stack_models(models, "background"), stack_models(models, "velocity")
    obs = _records(model, geometry, v_true)
    net = LearnedFWI(2, max_depth=MAX_DEPTH, max_update=150.0, step_init=0.9, features=4)
    with torch.no_grad():
        for cnn in net.nets:  # a network that pushes every velocity up by ~max_update, whatever the data
            cnn[-1].bias.fill_(-20.0)
    with torch.no_grad():
        with ledger.count_solves() as cost:
            unguarded = net(v0, obs, geometry, safeguard=None)
        assert cost.solves == 2 * 2 * 2 * geometry.n_shots  # 2 layers' gradients for 2 models, no check
        guarded = net(v0, obs, geometry)
    mu0, mu_bad, mu_safe = (_misfit(model, geometry, v, obs) for v in (v0, unguarded, guarded))
    assert bool((mu_bad > mu0).all()), (mu0, mu_bad)  # the bad network does raise the misfit ...
    # ... so every update is refused: the result is gradient descent with the same 2 gradients.
    gd = gd_fwi(v0, geometry, obs, 2, step=50.0)
    assert bool((mu_safe < mu0).all())
    torch.testing.assert_close(guarded, gd.velocity, rtol=0, atol=1e-3)


def test_a_network_runs_on_another_acquisition_and_grid():
    net = LearnedFWI(2, max_depth=MAX_DEPTH, max_update=50.0, features=4)
    model, geometry, v0 = transfer_problem(torch.float32)  # 3 shots, 15 receivers, tn 0.3 s
    true_v = v0 + 100.0 * (torch.arange(SHAPE[1]) >= 12).float()[None, :]
    obs = _records(model, geometry, true_v[None])
    with torch.no_grad():
        v = net(v0[None], obs, geometry)
    assert v.shape == (1, *SHAPE)
    assert float(_misfit(model, geometry, v, obs)[0]) < float(_misfit(model, geometry, v0[None], obs)[0])
    # The preconditioner lives on knots in metres: exact at knots, linear between, constant below.
    with torch.no_grad():
        net.log_precond[0].copy_(torch.linspace(0.0, 1.5, net.log_precond.shape[1]))
    knots = net.knot_depths
    depths = torch.tensor([0.0, float(knots[3]), 0.5 * float(knots[3] + knots[4]), MAX_DEPTH, 2 * MAX_DEPTH])
    expected = torch.exp(torch.tensor([0.0, 0.3, 0.35, 1.5, 1.5]))
    torch.testing.assert_close(net.preconditioner(0, depths), expected, rtol=1e-6, atol=0)


class _LayerLoss(torch.nn.Module):
    def __init__(self, net, geometry):
        super().__init__()
        self.net, self.geometry = net, geometry

    def forward(self, v, g, misfit, v_true, obs):
        return fwi_training_loss(self.net, self.geometry, 0, v, g, misfit, v_true, obs, data_weight=10.0)


def test_taylor_training_loss_through_F():
    model, geometry, _ = tiny_problem(torch.float64)
    models = random_models(1, SHAPE, SPACING, seed=4)
    v0, v_true = (
        stack_models(models, "background", torch.float64),
        stack_models(models, "velocity", torch.float64),
    )
    obs = _records(model, geometry, v_true)
    net = LearnedFWI(1, max_depth=MAX_DEPTH, max_update=80.0, features=4, activation="silu",
                     v_scale=(2200.0, 200.0), seed=2, dtype=torch.float64)  # fmt: skip
    with torch.no_grad():
        net.nets[0][-1].weight.normal_(0.0, 0.2, generator=torch.Generator().manual_seed(1))
        net.step_slope.fill_(0.3)  # the misfit-dependent step is among the parameters tested
        net.log_precond.normal_(0.0, 0.3, generator=torch.Generator().manual_seed(2))
    g, misfit = net.gradients(v0, obs, geometry)
    theta0, unflatten = flat_parameters(net)
    wrapper = _LayerLoss(net, geometry)

    def loss(theta):
        # The data term ½‖F(v₁) − d‖² back-propagates through F by the adjoint-state method.
        params = {f"net.{k}": v for k, v in unflatten(theta).items()}
        return functional_call(wrapper, params, (v0, g, misfit, v_true, obs))

    gen = torch.Generator().manual_seed(3)
    dtheta = torch.randn(theta0.shape, generator=gen, dtype=torch.float64) * (theta0.abs() + 0.05) * 0.1
    result = taylor_test(loss, theta0, dtheta, h0=1.0, n_halvings=8, n_fit=5)
    assert result.passed, result.table()


def test_step_follows_the_misfit_and_stays_within_max_update():
    net = LearnedFWI(2, max_depth=MAX_DEPTH, max_update=150.0, step_init=0.4, dtype=torch.float64)
    mu = torch.tensor([1e-3, 0.05, 0.5, 2.0], dtype=torch.float64)
    torch.testing.assert_close(net.steps(mu), torch.full((4, 2), 60.0, dtype=torch.float64))  # slope 0: fixed
    with torch.no_grad():
        net.step_slope.copy_(torch.tensor([0.5, 2.0]))
        net.raw_step.fill_(0.0)
    steps = net.steps(mu)
    torch.testing.assert_close(steps[2, 1], 150.0 * torch.sigmoid(2.0 * torch.log(mu[2])))
    assert bool((steps[1:] > steps[:-1]).all())  # a larger misfit gets a larger step
    assert bool((steps > 0).all()) and bool((steps <= 150.0).all())


def test_learned_fwi_shape_errors():
    _, geometry, v0 = tiny_problem(torch.float32)
    net = LearnedFWI(1, max_depth=MAX_DEPTH)
    with pytest.raises(ShapeError, match="v0 must be"):
        net(v0, torch.zeros(1, *geometry.record_shape), geometry)
    with pytest.raises(ShapeError, match="observed must be"):
        net(v0[None], torch.zeros(2, *geometry.record_shape), geometry)
