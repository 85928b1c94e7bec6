"""Learned FWI's data-misfit safeguard against a line-searched gradient step: a network that makes the
fit worse is replaced by gradient descent exactly, at the extra cost the ledger measures; below the
noise level every learned update is kept without a line search."""

from __future__ import annotations

import math

import pytest
import torch
from _learned_inversion_helpers import SHAPE, SPACING, single_torch_thread, tiny_problem

from geolearn import ledger
from geolearn.errors import ConfigError, ShapeError
from geolearn.learned_inversion.fwi import LearnedFWI
from geolearn.learned_inversion.fwi_baseline import armijo_step, gd_fwi, grid_depths
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


def _net(scale: float, *, step_init: float = 0.9, max_update: float = 300.0) -> LearnedFWI:
    """A learned FWI whose last convolutions have weights of std ``scale``: with a large one each
    layer adds a pixel-scale pattern of ± its step (tanh saturates; steps near 270 m/s), structure
    no data ask for."""
    net = LearnedFWI(
        K,
        max_depth=(SHAPE[1] - 1) * SPACING[1],
        max_update=max_update,
        step_init=step_init,
        features=4,
        seed=0,
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
    # Guarded, per model and shot: the gradient at v0 (2 solves) and, per layer, a forward modelling
    # checking the learned update (1), the same line search as GD's and, but for the last layer, a
    # gradient at the kept model (2): GD's K gradients and trials plus K forward modellings.
    assert run.solves == expected.solves + K * B * n_shots


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
    # Per model and shot: the gradient at v0 and one at each layer's output but the last (2 solves
    # each), K forward modellings checking the learned updates (1 each), no line-search trial at all.
    assert run.solves == (2 * (1 + (K - 1)) + K) * B * geometry.n_shots


def _gradient_first_reference(net, v0, observed, geometry, safeguard):
    """The loop as it was before the gradient moved after the decision (reference): each layer
    takes the gradient at the learned proposal first (the last layer: its forward modelling), then
    the line search, and where the proposal is refused a second gradient at the gradient step."""
    F = WaveModeling(geometry.model, geometry)
    depths = grid_depths(geometry)
    d_norm = observed.double().flatten(1).norm(dim=1)
    v = v0.clone()
    g, mu = net.gradients(v, observed, geometry)
    steps = [50.0] * len(v)
    accepted, misfits = [], [mu.double()]
    for k in range(K):
        proposal = net.layer(k, v, g, mu, depths)
        last = k == K - 1
        g_l, mu_l = (
            (g, net.misfits(proposal, observed, geometry))
            if last
            else net.gradients(proposal, observed, geometry)
        )
        keep = torch.ones(len(v), dtype=torch.bool)
        v_next, g_next, mu_next = proposal.clone(), g_l.clone(), mu_l.clone()
        for b in range(len(v)):
            learned = mu_l[b].double() * d_norm[b]
            if learned <= safeguard.floor(d_norm)[b]:
                continue
            f_b = 0.5 * float(mu[b].double() * d_norm[b]) ** 2
            v_c, f_c, steps[b] = armijo_step(v[b], f_b, g[b], observed[b], F, steps[b])
            keep[b] = bool(learned <= math.sqrt(2 * f_c))  # DataSafeguard(0.0).accept
            if not keep[b]:
                v_next[b] = v_c
                if last:
                    mu_next[b] = math.sqrt(2 * f_c) / float(d_norm[b])
                else:
                    g_c, mu_c = net.gradients(v_c[None], observed[b : b + 1], geometry)
                    g_next[b], mu_next[b] = g_c[0], mu_c[0]
        v, g, mu = v_next, g_next, mu_next
        accepted.append(keep)
        misfits.append(mu.double())
    return v, torch.stack(accepted, 1), torch.stack(misfits, 1)


# Untrained networks whose updates the noise-free safeguard keeps in some layers and refuses in
# others (kept of 6 layer updates, measured: 5, 1 and 2).
MIXED = [
    {"scale": 0.0, "step_init": 0.1, "max_update": 300.0},
    {"scale": 0.3, "step_init": 0.5, "max_update": 100.0},
    {"scale": 0.0, "step_init": 0.2, "max_update": 50.0},
]


@pytest.mark.parametrize("config", MIXED)
def test_deciding_before_the_gradient_changes_the_cost_not_the_result(problem, config):
    geometry, v0, observed = problem["geometry"], problem["v0"], problem["observed"]
    net = _net(config["scale"], step_init=config["step_init"], max_update=config["max_update"])
    with torch.no_grad():
        run = safeguarded_fwi(net, v0, observed, geometry, safeguard=DataSafeguard(0.0))
        with ledger.count_solves() as reference_cost:
            velocity, accepted, misfit = _gradient_first_reference(
                net, v0, observed, geometry, DataSafeguard(0.0)
            )
    assert 0 < int(run.accepted.sum()) < run.accepted.numel()  # some kept, some refused
    assert torch.equal(run.accepted, accepted)
    # The same models through the same gradients; the decision reads the proposal's misfit from
    # a forward modelling instead of the gradient's (equal up to rounding, measured: identical).
    torch.testing.assert_close(run.velocity, velocity, rtol=0, atol=1e-3)  # m/s
    torch.testing.assert_close(run.misfit, misfit, rtol=1e-5, atol=0)
    # Per shot: the reference spent a gradient (2) at every proposal but the last layer's, which it
    # forward-modelled (1), and a second gradient at each refusal before the last layer; now every
    # layer forward-models its proposal and only the kept model's gradient follows.
    B, S = v0.shape[0], geometry.n_shots
    refused_before_last = int((~accepted[:, :-1]).sum())
    assert run.solves == reference_cost.solves + ((K - 1) * B - 2 * refused_before_last) * S


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
