"""Learned LSRTM extras with the Born operator: PnP-FISTA + trained denoiser, transform-domain
thresholds (TransformedScheme), DEQ training by implicit differentiation."""

from __future__ import annotations

import itertools

import pytest
import torch
from _learned_inversion_helpers import SEEDS, SHAPE, SPACING, single_torch_thread, tiny_problem

from geolearn.learned import DnCNN, check_firm_nonexpansive
from geolearn.learned_inversion.lsrtm import (
    BORN_LIPSCHITZ,
    TransformedScheme,
    born_lipschitz_bound,
    learned_lsrtm,
    lsrtm_pairs,
)
from geolearn.learned_inversion.metrics import psnr, relative_misfit
from geolearn.learned_inversion.pnp import (
    ScaledDenoiser,
    deq_lsrtm,
    pnp_fista_lsrtm,
    train_lsrtm_denoiser,
)
from geolearn.learned_inversion.training_models.generator import random_models, stack_models
from geolearn.operators import DCT2
from geolearn.solvers.prox import soft_threshold
from geolearn.wave import BornOperator

pytestmark = pytest.mark.filterwarnings("ignore:.*detach.*:UserWarning")

_one_thread = pytest.fixture(scope="module", autouse=True)(single_torch_thread)


@pytest.fixture(scope="module")
def born64():
    model, geometry, v0 = tiny_problem(torch.float64, tn=0.2)
    x = stack_models(random_models(12, SHAPE, SPACING, seed=7), "detail", torch.float64)
    return BornOperator(model, geometry, v0), x


def _misfit(J, x, y):
    with torch.no_grad():
        return relative_misfit(J(x), y)


@pytest.fixture(scope="module")
def born32():
    """Float32 Born operator (it counts its applications), 4 held-back pairs and 16 training images (m/s)."""
    model, geometry, v0 = tiny_problem(torch.float32, tn=0.2)
    J = BornOperator(model, geometry, v0)
    x = stack_models(random_models(20, SHAPE, SPACING, seed=3), "detail")
    y, x_true = lsrtm_pairs(J, x[16:])
    return {"J": J, "images": x[:16], "y": y, "x": x_true, "scale": float(x.std()),
            "lipschitz": born_lipschitz_bound(J, n_iter=6)}  # fmt: skip


@pytest.mark.parametrize("seed", SEEDS)
def test_pnp_fista_lsrtm_with_trained_firm_denoiser(born32, seed):
    J, y, x_true, scale = born32["J"], born32["y"], born32["x"], born32["scale"]
    lipschitz = born32["lipschitz"]
    D, hist = train_lsrtm_denoiser(born32["images"], scale=scale, features=8, depth=3, n_steps=60, seed=seed,
                                   progress=False)  # fmt: skip
    assert hist.train_loss[-1] < hist.train_loss[0]
    # Firm nonexpansiveness is the promise that makes PnP/DEQ iterations converge; ScaledDenoiser
    # must keep it (in m/s, noise at the image scale).
    report = check_firm_nonexpansive(D, x_true, noise_std=0.3 * scale, seed=1)
    assert report.firmly_nonexpansive and report.lipschitz_ratio <= 1.0 + 1e-6, report
    before = sum(J.applications.values())
    n_iter = 8
    x_pnp = pnp_fista_lsrtm(J, y, D, n_iter, lipschitz=lipschitz)
    assert sum(J.applications.values()) - before == (2 * n_iter - 1) * len(y)  # J·0 is free
    start = torch.zeros_like(x_true)
    misfit0, misfit = _misfit(J, start, y), _misfit(J, x_pnp, y)
    assert torch.all(misfit0 == 1.0)
    # With γ ≤ 1/L on band-limited Born data progress is slow, but every iteration count helps.
    x_short = pnp_fista_lsrtm(J, y, D, 3, lipschitz=lipschitz)
    misfit_short = _misfit(J, x_short, y)
    gain = psnr(x_pnp, x_true) - psnr(start, x_true)
    # Seeds 0-4 (denoiser weights and patches), 4 held-back models each: misfit after 8 iterations
    # 0.555-0.790 (the worst model per seed 0.722-0.790), 0.032-0.080 below the misfit after 3;
    # PSNR gain over the zero start 0.041-0.354 dB per model, 0.143-0.217 dB on average.
    assert torch.all(misfit < 0.9), misfit
    assert torch.all(misfit < misfit_short), (misfit, misfit_short)
    assert torch.all(gain > 0) and float(gain.mean()) > 0.08, gain
    with pytest.raises(Exception, match="step must lie"):
        pnp_fista_lsrtm(J, y, D, 2, lipschitz=lipschitz, step=2.0 / lipschitz)


def test_transformed_scheme_thresholds_dct_coefficients(born64):
    J, x = born64
    y = J(x[:2])
    S = DCT2(SHAPE, dtype=torch.float64)
    net = learned_lsrtm(2, scale=float(x.std()), correction=False, threshold=0.05, transform="dct",
                        dtype=torch.float64)  # fmt: skip
    assert isinstance(net, TransformedScheme)
    with torch.no_grad():  # distinct per-layer values, so layer order matters
        net.scheme.raw_step.add_(torch.tensor([0.3, -0.2], dtype=torch.float64))
        net.scheme.raw_threshold.add_(torch.tensor([0.1, -0.4], dtype=torch.float64))
    out = net(y, J)
    # Direct formula on DCT coefficients c = Cx x Czᵀ (analysis of DCT2), image = Cxᵀ c Cz. The
    # step unit is 1/L of J, which is that of J S (S is orthonormal), remembered for J.
    cx, cz = S.cx, S.cz
    gammas, thetas = net.scheme.steps / BORN_LIPSCHITZ(J), net.scheme.thresholds
    c = torch.zeros_like(x[:2])
    for k in range(2):
        image = cx.T @ c @ cz
        grad_c = cx @ J.adjoint(J(image) - y) @ cz.T
        c = soft_threshold(c - gammas[k] * grad_c, thetas[k])
    expected = cx.T @ c @ cz
    torch.testing.assert_close(out, expected, rtol=1e-10, atol=1e-10 * float(expected.abs().max()))
    sparsity = float((c == 0).double().mean())
    assert sparsity > 0.05, f"thresholds zeroed only {sparsity:.3f} of the DCT coefficients"
    # Gradients flow through both layers' J, Jᵀ and S to the steps and thresholds, equal to the
    # gradients of the direct formula.
    loss = (out - x[:2]).pow(2).mean()
    g_net = torch.autograd.grad(loss, [net.scheme.raw_step, net.scheme.raw_threshold])
    g_ref = torch.autograd.grad(
        (expected - x[:2]).pow(2).mean(), [net.scheme.raw_step, net.scheme.raw_threshold]
    )
    for a, b in zip(g_net, g_ref):
        assert torch.all(a != 0) and torch.all(torch.isfinite(a))
        torch.testing.assert_close(a, b, rtol=1e-8, atol=0)


def _deq(J, scale, seed, tol, max_iter):
    D = ScaledDenoiser(DnCNN(1, 4, 3, mode="firm", alpha_init=0.95, seed=seed), scale).double()
    return deq_lsrtm(
        D, max_iter=max_iter, tol=tol, backward_max_iter=max_iter, backward_tol=tol, dtype=torch.float64
    )


def test_deq_lsrtm_implicit_gradient_matches_unrolled(born64):
    J, x = born64
    y, x_true = lsrtm_pairs(J, x[:2])
    lipschitz = born_lipschitz_bound(J, n_iter=6)
    deq = _deq(J, float(x.std()), 0, 1e-10, 100)
    deq.strict = True  # a solve that misses its tolerance fails the test

    params = [p for p in deq.parameters() if p.requires_grad]
    loss = (deq(y, J, lipschitz=lipschitz) - x_true).pow(2).mean()
    g_implicit = torch.autograd.grad(loss, params)
    assert deq.stats.backward_iterations > 1  # a real adjoint solve, not the Jacobian-free shortcut

    # Reference: back-propagate through the same map iterated from zero until it stalls.
    physics = deq.map.physics(y, J, lipschitz=lipschitz)
    z = deq.map.init_state(y, physics)
    for n_unrolled in range(1, 201):
        z_new = deq.map.step(z, y, physics, 0)
        change = float((z_new - z).norm() / z_new.norm())
        z = z_new
        if change < 1e-11:
            break
    assert change < 1e-11, f"plain iteration still moving by {change:.1e} after {n_unrolled} steps"
    g_unrolled = torch.autograd.grad((deq.map.output(z) - x_true).pow(2).mean(), params)
    flat_i = torch.cat([g.flatten() for g in g_implicit])
    flat_u = torch.cat([g.flatten() for g in g_unrolled])
    rel = float((flat_i - flat_u).norm() / flat_u.norm())
    assert rel < 1e-4, f"implicit vs unrolled gradient relative difference {rel:.2e}"


@pytest.mark.parametrize("seed", SEEDS)
def test_deq_lsrtm_training_with_implicit_gradients_lowers_the_loss(born64, seed):
    J, x = born64
    y, x_true = lsrtm_pairs(J, x[:2])
    lipschitz = born_lipschitz_bound(J, n_iter=6)
    # Training-grade tolerances: an iterate within 1e-5 still gives a usable gradient.
    deq = _deq(J, float(x.std()), seed, 1e-5, 30)
    params = [p for p in deq.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=1e-2)
    losses = []
    for _ in range(4):
        opt.zero_grad()
        loss = (deq(y, J, lipschitz=lipschitz) - x_true).pow(2).mean()
        loss.backward()
        assert deq.stats.backward_iterations > 1
        opt.step()
        losses.append(float(loss))
    with torch.no_grad():
        losses.append(float((deq(y, J, lipschitz=lipschitz) - x_true).pow(2).mean()))
    # Seeds 0-4 (denoiser weights): every step descends (the least descent per seed: a factor
    # 0.9968-0.9998) and after 4 steps the loss is 0.9855-0.9967 of the first (seeds 0-2: 0.9855-0.9937).
    assert all(b < a for a, b in itertools.pairwise(losses)), losses
    assert losses[-1] < 0.998 * losses[0], losses
