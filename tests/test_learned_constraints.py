"""Constraints hold for arbitrary raw parameter values (hypothesis), spectral normalisation,
Lipschitz estimates and the hand-derived LISTA backpropagation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as nnf
from _learned_helpers import single_thread, small_problem  # noqa: F401  (autouse fixture)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from geolearn.learned import (
    DnCNN,
    LearnedFISTA,
    PnPISTA,
    SpectralConv2d,
    UnrolledISTA,
    check_firm_nonexpansive,
    estimate_lipschitz,
    lyapunov_energy,
)
from geolearn.learned.constraints import decreasing
from geolearn.learned.sparse import LISTA, lista_backprop
from geolearn.learned.spectral import conv_operator_norm

PROB, L, Y, X = small_problem(m=20, n=40)
K = 6
raw = arrays(np.float64, (K,), elements=st.floats(-60, 60, allow_nan=False, allow_subnormal=False))
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(raw_step=raw, raw_theta=raw, c=st.sampled_from([0.5, 1.0, 2.0]))
def test_unrolled_ista_steps_and_thresholds_stay_admissible(raw_step, raw_theta, c):
    net = UnrolledISTA(K, lam=0.1, lipschitz=L, step_bound=c, dtype=torch.float64)
    dec = UnrolledISTA(K, lam=0.1, lipschitz=L, step_bound=c, decreasing_thresholds=True, dtype=torch.float64)
    with torch.no_grad():
        for m in (net, dec):
            m.raw_step.copy_(torch.from_numpy(raw_step))
            m.raw_threshold.copy_(torch.from_numpy(raw_theta))
    for m in (net, dec):
        g = m.steps
        assert bool((g >= 0).all()) and bool((g <= c * (1 + 1e-15)).all())  # fractions of 1/L
        assert bool((m.thresholds >= 0).all()) and bool(torch.isfinite(m.thresholds).all())
    th = dec.thresholds
    assert bool((th[1:] <= th[:-1]).all())


@FAST
@given(raw_step=raw, raw_beta=raw, c=st.sampled_from([0.7, 1.0, 1.9, 2.0]))
def test_learned_fista_inertia_bound_and_lyapunov_decrease_for_any_raw_parameters(raw_step, raw_beta, c):
    net = LearnedFISTA(K, lam=0.05, lipschitz=L, step_bound=c, dtype=torch.float64)
    with torch.no_grad():
        net.raw_step.copy_(torch.from_numpy(raw_step))
        net.raw_inertia.copy_(torch.from_numpy(raw_beta))
    t, beta = net.steps, net.inertias  # τ = t/L
    assert bool((t > 0).all()) and bool((t <= c * (1 + 1e-15)).all())
    assert bool((beta >= 0).all()) and bool((beta <= 1 - t / 2 + 1e-15).all())
    rep = lyapunov_energy(net, Y[:4], PROB.A, lipschitz=L)
    assert rep.decreasing, rep.max_increase


@FAST
@given(
    raw_theta=arrays(np.float64, (8,), elements=st.floats(-80, 80, allow_nan=False, allow_subnormal=False))
)
def test_decreasing_map_is_monotone(raw_theta):
    th = decreasing(torch.from_numpy(raw_theta))
    assert bool((th >= 0).all()) and bool((th[1:] <= th[:-1]).all())


def _dense(f, shape):
    n = math.prod(shape)
    basis = torch.eye(n, dtype=torch.float64).reshape(n, *shape)
    return f(basis).reshape(n, -1).T


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    scale=st.floats(1e-3, 1e3, allow_subnormal=False),
    cin=st.integers(1, 2),
    cout=st.integers(1, 3),
)
def test_spectrally_normalised_convolutions_are_nonexpansive(seed, scale, cin, cout):
    conv = SpectralConv2d(cin, cout, 3, bias=False, seed=seed).double().eval()
    with torch.no_grad():
        conv.weight.mul_(scale)
        lip = float(torch.linalg.matrix_norm(_dense(conv, (cin, 8, 8)), ord=2))  # exact norm of the layer
        raw = float(
            torch.linalg.matrix_norm(
                _dense(lambda v: nnf.conv2d(v, conv.weight, padding=1), (cin, 8, 8)), ord=2
            )
        )
    assert lip <= 1 + 1e-3
    assert lip == pytest.approx(min(1.0, raw), rel=1e-4)  # normalised exactly to the bound, not below it


def test_lipschitz_estimate_by_jvp_power_iteration_matches_the_exact_norm():
    conv = SpectralConv2d(2, 3, 3, seed=3).double().eval()
    with torch.no_grad():
        conv.weight.mul_(0.1)  # below the bound: the raw convolution is applied
        exact = float(
            torch.linalg.matrix_norm(
                _dense(lambda v: nnf.conv2d(v, conv.weight, padding=1), (2, 6, 6)), ord=2
            )
        )
    lip = estimate_lipschitz(conv, torch.randn(2, 2, 6, 6, dtype=torch.float64), n_iter=500, tol=1e-12)
    assert exact * (1 - 1e-3) <= lip <= exact * (1 + 1e-12)  # power iteration approaches from below


def test_conv_operator_norm_is_the_true_operator_norm_not_the_reshaped_kernel_norm():
    w = torch.ones(1, 1, 3, 3, dtype=torch.float64)  # box filter: transfer function peaks at 9
    sigma = conv_operator_norm(w, (64, 64))
    reshaped = float(torch.linalg.matrix_norm(w.reshape(1, -1), ord=2))  # = 3
    assert reshaped == pytest.approx(3.0)
    assert 8.9 < sigma <= 9.0  # zero padding on 64×64: just below the circular bound 9
    small = torch.nn.functional.conv2d(
        torch.eye(36, dtype=torch.float64).reshape(36, 1, 6, 6), w, padding=1
    ).reshape(36, 36)
    exact = float(torch.linalg.matrix_norm(small, ord=2))
    assert conv_operator_norm(w, (6, 6)) == pytest.approx(exact, rel=1e-7)


def test_dncnn_modes_are_nonexpansive_and_firm():
    gen = torch.Generator().manual_seed(0)
    imgs = torch.randn(6, 16, 16, generator=gen, dtype=torch.float64)
    firm = DnCNN(features=8, depth=4, mode="firm", seed=2).double().eval()
    with torch.no_grad():
        for p in firm.parameters():
            p.mul_(5.0)  # large raw weights: the normalisation must still hold
    rep = check_firm_nonexpansive(firm, imgs)
    assert rep.firmly_nonexpansive and rep.lipschitz_ratio <= 1 + 1e-9
    assert estimate_lipschitz(firm, imgs[:2], n_iter=60) <= 1 + 1e-3
    free = DnCNN(features=8, depth=4, mode="free", seed=2).double()
    with torch.no_grad():
        for p in free.parameters():
            p.mul_(5.0)
    assert not check_firm_nonexpansive(free, imgs).firmly_nonexpansive
    assert estimate_lipschitz(free, imgs[:2], n_iter=60) > 1.5


def test_hand_derived_lista_backprop_equals_autograd():
    net = LISTA(PROB.A, 5, lam=0.05, lipschitz=L)
    gen = torch.Generator().manual_seed(7)
    with torch.no_grad():  # generic (trained-looking) parameters
        net.W.add_(0.05 * torch.randn(net.W.shape, generator=gen, dtype=torch.float64))
        net.U.add_(0.05 * torch.randn(net.U.shape, generator=gen, dtype=torch.float64))
    W, U, theta = (t.detach().clone().requires_grad_(True) for t in (net.W, net.U, net.thresholds))
    net_out = net(Y, PROB.A)
    loss = 0.5 * (net_out - X).pow(2).sum()
    loss.backward()
    hand = lista_backprop(W.detach(), U.detach(), theta.detach(), Y, X)
    assert float(abs(hand["loss"] - loss.detach())) < 1e-12 * float(loss)
    grad_theta = net.raw_threshold.grad / torch.sigmoid(net.raw_threshold.detach())  # dθ/draw = sigmoid(raw)
    for name, auto in (("W", net.W.grad), ("U", net.U.grad), ("thresholds", grad_theta)):
        err = float((hand[name] - auto).norm() / auto.norm())
        assert err < 1e-10, (name, err)
    assert float(net.W.grad.norm()) > 0 and float(grad_theta.abs().sum()) > 0
    assert math.isfinite(float(hand["x"].sum()))


def test_pnp_with_a_firm_denoiser_converges_in_a_deq():
    from _learned_helpers import ImageToRecords

    from geolearn.learned import DEQ

    A = ImageToRecords(domain=(8, 8), range_=(2, 3, 10))
    gen = torch.Generator().manual_seed(1)
    y = torch.randn((2, *A.range_shape), generator=gen, dtype=torch.float64)
    D = DnCNN(features=6, depth=3, mode="firm", seed=4).double().eval()
    deq = DEQ(PnPISTA(1, D, dtype=torch.float64), solver="anderson", tol=1e-9, max_iter=300)
    x = deq(y, A)
    assert deq.stats.forward_residual < 1e-9
    physics = deq.map.physics(y, A)
    f = deq.map.step(deq.map.init_state(y, physics) + x.detach(), y, physics, 0)
    assert float((f - x).norm() / x.norm()) < 1e-8
