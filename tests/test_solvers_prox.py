"""Proximal operators against brute force and analytic solutions; TV prox certified by its duality gap."""

from __future__ import annotations

import math

import pytest
import torch

from geolearn.operators import Gradient
from geolearn.solvers import (
    L1,
    Box,
    ElasticNet,
    NonNegative,
    SquaredL2,
    TotalVariation,
    project_box,
    project_nonnegative,
    prox_elastic_net,
    prox_squared_l2,
    prox_tv,
    soft_threshold,
    tv_norm,
)
from geolearn.solvers.tv import _tv_dual_solve

D64 = torch.float64
V = torch.tensor([-3.0, -0.8, -0.2, 0.0, 0.4, 1.1, 2.5], dtype=D64)
GRID = torch.linspace(-5, 5, 100001, dtype=D64)  # spacing 1e-4


def _brute_prox(f, v, t):
    """argmin over a fine grid of t f(x) + ½(x − v)², elementwise."""
    cost = t * f(GRID)[None, :] + 0.5 * (GRID[None, :] - v[:, None]) ** 2
    return GRID[cost.argmin(dim=1)]


@pytest.mark.parametrize(
    ("f", "prox"),
    [
        (torch.abs, lambda v, t: soft_threshold(v, t)),
        (lambda x: 0.5 * x * x, lambda v, t: prox_squared_l2(v, t)),
        (lambda x: torch.abs(x) + 0.75 * x * x, lambda v, t: prox_elastic_net(v, t, 1.5 * t)),
    ],
)
def test_scalar_proxes_match_brute_force(f, prox):
    for t in (0.3, 1.0):
        assert torch.max(torch.abs(prox(V, t) - _brute_prox(f, V, t))) <= 1e-4


def test_soft_threshold_values_broadcast_and_gradients():
    x = torch.tensor([[-2.0, 0.5, 3.0], [1.0, -1.0, 0.2]], dtype=D64)
    assert torch.equal(soft_threshold(x, 1.0), torch.tensor([[-1.0, 0.0, 2.0], [0.0, 0.0, 0.0]], dtype=D64))
    per_row = torch.tensor([[0.4], [0.1]], dtype=D64)
    expected = torch.tensor([[-1.6, 0.1, 2.6], [0.9, -0.9, 0.1]], dtype=D64)
    assert torch.allclose(soft_threshold(x, per_row), expected, atol=1e-15)
    # Gradients to x and to the threshold, compared with the hand-derived formulas.
    xg, tg = x.clone().requires_grad_(True), per_row.clone().requires_grad_(True)
    w = torch.arange(6, dtype=D64).reshape(2, 3)
    gx, gt = torch.autograd.grad(torch.sum(w * soft_threshold(xg, tg)), (xg, tg))
    active = (x.abs() > per_row).to(D64)
    assert torch.equal(gx, w * active)
    assert torch.allclose(gt, -(w * active * torch.sign(x)).sum(dim=1, keepdim=True), atol=1e-15)


def test_prox_parameter_guards():
    with pytest.raises(ValueError, match=r"threshold must be finite and >= 0 everywhere, got -0\.5"):
        soft_threshold(V, torch.tensor([0.1, -0.5]).reshape(2, 1).to(D64))
    with pytest.raises(ValueError, match="got nan"):
        soft_threshold(V, float("nan"))
    with pytest.raises(ValueError, match="lower bound exceeds upper bound"):
        project_box(V, 1.0, 0.0)
    with pytest.raises(ValueError, match="threshold must be finite and >= 0, got -1"):
        prox_tv(V, -1.0)


def test_box_and_nonnegative_projections():
    assert torch.equal(project_box(V, -1.0, 2.0), torch.clamp(V, -1.0, 2.0))
    assert torch.equal(project_box(V, lower=0.0), torch.clamp(V, min=0.0))
    assert torch.equal(project_nonnegative(V), torch.clamp(V, min=0.0))
    lower = torch.full_like(V, -0.5)
    assert torch.equal(project_box(V, lower, None), torch.maximum(V, lower))


def test_regulariser_values_and_proxes():
    x = torch.tensor([[1.0, -2.0], [0.0, 3.0]], dtype=D64)
    assert float(L1().value(x, 2)) == 6.0
    assert torch.equal(L1().value(x, 1), torch.tensor([3.0, 3.0], dtype=D64))
    assert float(L1(torch.tensor([1.0, 0.5], dtype=D64)).value(x, 2)) == 1 + 1 + 0 + 1.5
    assert float(SquaredL2().value(x, 2)) == 7.0
    assert float(ElasticNet(2.0).value(x, 2)) == 6.0 + 14.0
    assert float(Box(-2.0, 3.0).value(x, 2)) == 0.0
    assert math.isinf(float(NonNegative().value(x, 2)))
    assert torch.equal(NonNegative().prox(x, 10.0, 2), torch.clamp(x, min=0))
    # TV of a ramp 0, 1, ..., n-1 with spacing h is (n - 1) / h per row.
    ramp = torch.arange(5, dtype=D64).repeat(3, 1)
    assert torch.allclose(TotalVariation(spacing=0.5).value(ramp, 1), torch.full((3,), 8.0, dtype=D64))
    with pytest.raises(ValueError, match="mu must be finite"):
        ElasticNet(-1.0)


def test_prox_tv_1d_step_analytic():
    n1, n2, a, theta = 6, 4, 2.0, 0.6
    x = torch.cat([torch.zeros(n1, dtype=D64), torch.full((n2,), a, dtype=D64)])
    u = prox_tv(x, theta, tol=1e-14, max_iter=5000)
    expected = torch.cat(
        [torch.full((n1,), theta / n1, dtype=D64), torch.full((n2,), a - theta / n2, dtype=D64)]
    )
    assert torch.max(torch.abs(u - expected)) < 1e-8
    # In 1-D the isotropic and anisotropic TV coincide.
    assert torch.max(torch.abs(prox_tv(x, theta, tol=1e-14, max_iter=5000, isotropic=False) - u)) < 1e-8


@pytest.mark.parametrize("isotropic", [True, False])
def test_prox_tv_2d_duality_gap_and_batching(isotropic):
    gen = torch.Generator().manual_seed(0)
    img = torch.zeros(12, 10, dtype=D64)
    img[3:9, 2:7] = 1.0
    x = img + 0.2 * torch.randn(2, 12, 10, generator=gen, dtype=D64)
    theta, spacing = 0.15, (1.0, 2.0)
    D = Gradient((12, 10), spacing=spacing, dtype=D64)
    tol = 1e-9
    u, p, n_iter = _tv_dual_solve(x, theta, D, isotropic, 5000, tol)
    assert n_iter < 5000
    primal = 0.5 * torch.sum((u - x) ** 2, dim=(1, 2)) + theta * tv_norm(
        u, ndim=2, spacing=spacing, isotropic=isotropic
    )
    # Gap recomputed here from its definition (not the solver's shortcut ½‖u‖²).
    dual = 0.5 * torch.sum(x**2, dim=(1, 2)) - 0.5 * torch.sum((x - theta * D.adjoint(p)) ** 2, dim=(1, 2))
    assert torch.all((primal - dual) / primal <= tol * (1 + 1e-6))
    assert torch.all(primal - dual >= -1e-14)
    norms = torch.linalg.vector_norm(p, dim=1) if isotropic else p.abs()
    assert float(norms.max()) <= 1 + 1e-12  # the dual point is feasible, so dual is a true lower bound
    # The public prox agrees, batched and one image at a time; both have gaps <= tol, so by
    # strong convexity each lies within sqrt(2 tol P) of the exact prox.
    batched = prox_tv(x, theta, ndim=2, spacing=spacing, isotropic=isotropic, tol=tol, max_iter=5000)
    single = prox_tv(x[1], theta, spacing=spacing, isotropic=isotropic, tol=tol, max_iter=5000)
    assert torch.max(torch.abs(batched - u)) < 1e-14
    bound = 2 * math.sqrt(2 * tol * float(primal[1]))
    assert float(torch.linalg.vector_norm(single - u[1])) < bound
    assert float(tv_norm(u[0], spacing=spacing, isotropic=isotropic)) < float(
        tv_norm(x[0], spacing=spacing, isotropic=isotropic)
    )
