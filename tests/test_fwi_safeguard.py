"""Learned FWI's data-misfit safeguard against a line-searched gradient step: a network that makes the
fit worse is replaced by gradient descent exactly, at the extra cost the ledger measures; below the
noise level every learned update is kept without a line search."""

from __future__ import annotations

import pytest
import torch
from _learned_inversion_helpers import SHAPE, SPACING, single_torch_thread, tiny_problem

from geolearn import ledger
from geolearn.errors import ConfigError, ShapeError
from geolearn.learned_inversion.fwi import LearnedFWI
from geolearn.learned_inversion.fwi_baseline import gd_fwi
from geolearn.learned_inversion.fwi_safeguard import safeguarded_fwi
from geolearn.learned_inversion.safeguard import DataSafeguard
from geolearn.learned_inversion.training_models.generator import random_models, stack_models, starting_models
from geolearn.wave import WaveModeling

_one_thread = pytest.fixture(scope="module", autouse=True)(single_torch_thread)

K = 3


@pytest.fixture(scope="module")
def problem():
    model, geometry, _ = tiny_problem(torch.float32)
    models = random_models(2, SHAPE, SPACING, seed=4)
    truth = stack_models(models, "velocity")
    F = WaveModeling(model, geometry)
    with torch.no_grad():
        observed = torch.stack([F(v) for v in truth])
    return {"geometry": geometry, "v0": starting_models(models, seed=1), "observed": observed}


def _net(scale: float) -> LearnedFWI:
    """A learned FWI whose last convolutions have weights of std ``scale``: with a large one each
    layer adds a pixel-scale pattern of ± its step (tanh saturates; steps near 270 m/s), structure
    no data ask for."""
    net = LearnedFWI(
        K, max_depth=(SHAPE[1] - 1) * SPACING[1], max_update=300.0, step_init=0.9, features=4, seed=0
    )
    gen = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for body in net.nets:
            body[-1].weight.copy_(scale * torch.randn(body[-1].weight.shape, generator=gen))
    return net


def test_a_network_that_spoils_the_fit_is_replaced_by_gradient_descent(problem):
    geometry, v0, observed = problem["geometry"], problem["v0"], problem["observed"]
    with torch.no_grad(), ledger.count_solves() as guarded_cost:
        run = safeguarded_fwi(_net(30.0), v0, observed, geometry, safeguard=DataSafeguard(0.0))
    with ledger.count_solves() as gd_cost:
        expected = gd_fwi(v0, geometry, observed, K)
    assert not bool(run.accepted.any())
    # m/s; the same line searches
    torch.testing.assert_close(run.velocity, expected.velocity, rtol=0, atol=1e-3)
    assert bool((run.misfit[:, 1:] <= run.misfit[:, :-1]).all())  # every step lowered the misfit
    B, n_shots = v0.shape[0], geometry.n_shots
    # The runs record what the ledger measured around them.
    assert (run.solves, expected.solves) == (guarded_cost.solves, gd_cost.solves)
    # GD: K gradients per model (2 solves per shot each), each followed by a line search of at
    # least one forward modelling (1 solve per shot).
    assert expected.gradients == K * B and expected.solves >= 3 * K * B * n_shots
    # Guarded, per model: the K learned gradients (the first at v0), one more gradient at the
    # fallback model of each rejected layer but the last, the same line searches' forwards and one
    # forward to check the last layer.
    assert run.solves == expected.solves + (2 * (K - 1) + 1) * B * n_shots


def test_below_the_noise_level_every_learned_update_is_kept_without_a_line_search(problem):
    geometry, v0, observed = problem["geometry"], problem["v0"], problem["observed"]
    net = _net(30.0)
    with torch.no_grad():
        unguarded = net(v0, observed, geometry, safeguard=None)
        # A relative noise level of 10: every misfit counts as explained, nothing is compared.
        run = safeguarded_fwi(net, v0, observed, geometry, safeguard=DataSafeguard(10.0))
    assert bool(run.accepted.all())
    torch.testing.assert_close(run.velocity, unguarded, rtol=0, atol=0)
    B = v0.shape[0]
    # K gradients (2 solves per shot) and the last layer's check (1) per model: no line-search trial at all.
    assert run.solves == (2 * K + 1) * B * geometry.n_shots


def test_bad_input_is_refused_before_any_wave_solve(problem):
    geometry, v0, observed = problem["geometry"], problem["v0"], problem["observed"]
    net = _net(0.0)
    with ledger.count_solves() as cost:
        with pytest.raises(TypeError, match=r"safeguard must be a DataSafeguard .*got 0.01"):
            safeguarded_fwi(net, v0, observed, geometry, safeguard=0.01)
        with pytest.raises(ShapeError, match=r"v0 must be \(B, 40, 24\)"):
            safeguarded_fwi(net, v0[:, :-1], observed, geometry, safeguard=DataSafeguard())
        with pytest.raises(ShapeError, match=r"observed must be \(2, 2, 20, "):
            safeguarded_fwi(net, v0, observed[:1], geometry, safeguard=DataSafeguard())
        with pytest.raises(ConfigError, match=r"n_layers must lie in 1..3, got 4"):
            safeguarded_fwi(net, v0, observed, geometry, safeguard=DataSafeguard(), n_layers=4)
    assert cost.solves == 0
