"""ISTA / FISTA on LASSO, Tikhonov by CG vs closed form, and the solver guards."""

from __future__ import annotations

import math

import pytest
import torch

from geolearn.errors import ConvergenceError, NonFiniteError, ShapeError, StabilityError
from geolearn.operators import Convolution2D, Gradient, Mask, MatrixOperator, gradient_check, operator_norm
from geolearn.solvers import (
    Objective,
    SquaredL2,
    fista,
    ista,
    tikhonov_cg,
    tikhonov_closed_form,
)

D64 = torch.float64
LAM = 0.5


def _gen(seed):
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def lasso():
    A = MatrixOperator(torch.randn(40, 80, generator=_gen(0), dtype=D64))
    x_true = torch.zeros(80, dtype=D64)
    x_true[[3, 10, 50, 61]] = torch.tensor([1.0, -2.0, 1.5, 0.7], dtype=D64)
    y = A(x_true) + 0.01 * torch.randn(40, generator=_gen(1), dtype=D64)
    L = operator_norm(A, tol=1e-10, max_iter=5000) ** 2
    r_ista = ista(A, y, LAM, tol=1e-13, max_iter=20000, lipschitz=L)
    r_fista = fista(A, y, LAM, tol=1e-13, max_iter=20000, lipschitz=L)
    return A, y, L, r_ista, r_fista


def test_ista_and_fista_reach_the_same_lasso_minimiser(lasso):
    A, y, _, r_ista, r_fista = lasso
    assert r_ista.converged and r_fista.converged
    assert torch.max(torch.abs(r_ista.x - r_fista.x)) < 1e-8
    obj = Objective(A, y, LAM)
    for r in (r_ista, r_fista):
        assert float(obj.fixed_point_residual(r.x, r.step)) < 1e-8
    # KKT conditions of LASSO, independent of any prox code: Aᵀ(y − Ax) ∈ λ ∂‖x‖₁.
    c = A.adjoint(y - A(r_fista.x))
    support = r_fista.x.abs() > 1e-10
    assert 3 <= int(support.sum()) < 40
    assert torch.max(torch.abs(c[support] - LAM * torch.sign(r_fista.x[support]))) < 1e-8
    assert torch.max(torch.abs(c[~support])) <= LAM + 1e-8


def test_fista_needs_fewer_iterations_than_ista(lasso):
    _, _, _, r_ista, r_fista = lasso
    best = min(min(r_ista.history.objective), min(r_fista.history.objective))

    def first_below(history, gap):
        return next(k + 1 for k, v in enumerate(history.objective) if v - best <= gap * best)

    counts = {
        gap: (first_below(r_ista.history, gap), first_below(r_fista.history, gap)) for gap in (1e-4, 1e-8)
    }
    # Measured: gap 1e-4 -> ISTA 384, FISTA 83; gap 1e-8 -> ISTA 428, FISTA 133 iterations.
    for n_ista, n_fista in counts.values():
        assert n_fista < 0.5 * n_ista
    assert counts[1e-8][1] < counts[1e-8][0]


def test_history_parts_and_timing(lasso):
    A, y, _, r_ista, _ = lasso
    h = r_ista.history
    assert len(h) == r_ista.n_iter == len(h.objective) == len(h.residual)
    obj = Objective(A, y, LAM)
    assert math.isclose(h.data[-1], float(obj.data(r_ista.x)), rel_tol=1e-12)
    assert math.isclose(h.regularisation[-1], float(obj.regularisation(r_ista.x)), rel_tol=1e-12)
    assert math.isclose(h.objective[-1], h.data[-1] + h.regularisation[-1], rel_tol=1e-14)
    assert all(b >= a for a, b in zip(h.time, h.time[1:]))
    # ISTA with step 1/L decreases the objective monotonically.
    assert all(b <= a + 1e-12 for a, b in zip(h.objective, h.objective[1:]))


def test_relaxed_ista_residual_stop_and_warm_start(lasso):
    A, y, L, _, r_fista = lasso
    r = ista(A, y, LAM, relaxation=1.4, stop="residual", tol=1e-11, max_iter=20000, lipschitz=L)
    assert r.converged and torch.max(torch.abs(r.x - r_fista.x)) < 1e-8
    warm = ista(A, y, LAM, x0=r_fista.x, tol=1e-10, lipschitz=L)
    assert warm.converged and warm.n_iter <= 3
    varying = ista(
        A, y, LAM, relaxation=lambda k: 1.0 + 0.4 * (k % 2), tol=1e-13, max_iter=20000, lipschitz=L
    )
    assert torch.max(torch.abs(varying.x - r_fista.x)) < 1e-8


def test_batched_problems_equal_separate_solves(lasso):
    A, y, L, _, _ = lasso
    Y = torch.stack([y, 0.5 * y, -y]).reshape(3, 1, 40)
    batched = fista(A, Y, LAM, tol=1e-13, max_iter=20000, lipschitz=L)
    assert batched.x.shape == (3, 1, 80)
    total = 0.0
    for i in range(3):
        single = fista(A, Y[i, 0], LAM, tol=1e-13, max_iter=20000, lipschitz=L)
        assert torch.max(torch.abs(batched.x[i, 0] - single.x)) < 1e-8
        total += single.history.objective[-1]
    assert math.isclose(batched.history.objective[-1], total, rel_tol=1e-9)


def test_callback_stops_and_sees_records(lasso):
    A, y, L, _, _ = lasso
    seen = []

    def cb(k, x, record):
        seen.append((k, record["objective"]))
        return k == 5

    r = fista(A, y, LAM, callback=cb, lipschitz=L)
    assert r.n_iter == 5 and not r.converged
    assert [k for k, _ in seen] == [1, 2, 3, 4, 5]
    assert seen[-1][1] == r.history.objective[-1]


def test_ridge_through_fista_equals_closed_form(lasso):
    A, y, L, _, _ = lasso
    r = fista(A, y, 0.7, regulariser=SquaredL2(), tol=1e-14, max_iter=20000, lipschitz=L)
    assert torch.max(torch.abs(r.x - tikhonov_closed_form(A, y, 0.7))) < 1e-8


# ---------------------------------------------------------------- Tikhonov
def test_tikhonov_cg_equals_closed_form_ridge_batched(lasso):
    A, y, _, _, _ = lasso
    Y = torch.stack([y, 2 * y + 1])
    cg = tikhonov_cg(A, Y, 0.3, tol=1e-13)
    closed = tikhonov_closed_form(A, Y, 0.3)
    assert cg.converged and cg.x.shape == (2, 80)
    assert torch.max(torch.abs(cg.x - closed)) < 1e-8


def test_tikhonov_cg_callback_sees_every_iteration_and_stops(lasso):
    A, y, _, _, _ = lasso
    seen = []

    def cb(k, x, record):
        seen.append((k, record["objective"], x.clone()))
        return k == 4

    r = tikhonov_cg(A, y, 0.3, tol=1e-13, callback=cb)
    assert r.n_iter == 4 and not r.converged
    assert [k for k, _, _ in seen] == [1, 2, 3, 4]
    assert seen[-1][1] == r.history.objective[-1] and torch.equal(seen[-1][2], r.x)
    # Called on the converging iteration too: one call per recorded iteration.
    calls = []
    full = tikhonov_cg(A, y, 0.3, tol=1e-13, callback=lambda k, x, record: calls.append(k))
    assert full.converged and calls == list(range(1, full.n_iter + 1))


def test_tikhonov_smoothness_with_gradient_operator():
    shape = (10, 12)
    blur = torch.tensor([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]], dtype=D64) / 16
    keep = torch.rand(shape, generator=_gen(3)) > 0.3
    A = Mask(keep, dtype=D64) @ Convolution2D(blur, shape)
    D = Gradient(shape, spacing=(1.0, 2.0), dtype=D64)
    y = torch.randn(shape, generator=_gen(4), dtype=D64)
    lam = 0.2
    closed = tikhonov_closed_form(A, y, lam, reg_operator=D)
    cg = tikhonov_cg(A, y, lam, reg_operator=D, tol=1e-13)
    assert cg.converged
    assert torch.max(torch.abs(cg.x - closed)) < 1e-8
    # The closed form is a stationary point of J traced by autograd.
    x = closed.clone().requires_grad_(True)
    J = 0.5 * torch.sum((A(x) - y) ** 2) + 0.5 * lam * torch.sum(D(x) ** 2)
    (g,) = torch.autograd.grad(J, x)
    assert torch.max(torch.abs(g)) < 1e-10
    assert math.isclose(cg.history.objective[-1], float(J.detach()), rel_tol=1e-10)


def test_objective_gradient_matches_autograd_and_taylor(lasso):
    A, y, _, _, _ = lasso
    obj = Objective(A, y, LAM)
    x = torch.randn(80, generator=_gen(5), dtype=D64)
    xg = x.clone().requires_grad_(True)
    (g_auto,) = torch.autograd.grad(obj.data(xg), xg)
    assert torch.max(torch.abs(obj.gradient(x) - g_auto)) < 1e-10
    res = gradient_check(obj.data, x, obj.gradient)
    assert abs(res.slope1 - 2) < 0.1


# ---------------------------------------------------------------- guards
def test_step_and_relaxation_guards(lasso):
    A, y, L, _, _ = lasso
    with pytest.raises(StabilityError, match=r"step·L = 2\.1"):
        ista(A, y, LAM, step=2.1 / L, lipschitz=L)
    with pytest.raises(StabilityError, match=r"FISTA step .* step·L < 1\.0001"):
        fista(A, y, LAM, step=1.5 / L, lipschitz=L)
    r = ista(A, y, LAM, step=1.9 / L, lipschitz=L, max_iter=2)
    assert r.n_iter == 2
    r = fista(A, y, LAM, step=1.5 / L, lipschitz=L, max_iter=2, allow_large_step=True)
    assert r.n_iter == 2
    with pytest.raises(StabilityError, match=r"θ_1 = 2\.5 must lie in \(0, 2\)"):
        ista(A, y, LAM, relaxation=2.5, lipschitz=L)
    with pytest.raises(StabilityError, match=r"θ_1 = 0\.0"):
        ista(A, y, LAM, relaxation=0.0, lipschitz=L)
    with pytest.raises(StabilityError, match=r"below 2 − step·L/2 = 1\.5"):
        ista(A, y, LAM, relaxation=1.6, lipschitz=L)
    with pytest.raises(StabilityError, match=r"θ_4 = 3\.0"):
        ista(A, y, LAM, relaxation=lambda k: 3.0 if k == 4 else 1.0, lipschitz=L)
    with pytest.raises(StabilityError, match="positive finite"):
        ista(A, y, LAM, step=-1.0, lipschitz=L)
    with pytest.raises(ConvergenceError, match="non-finite values at iteration"):
        ista(A, y, LAM, step=100.0 / L, lipschitz=L, allow_large_step=True, max_iter=5000)


def test_input_guards_name_values(lasso):
    A, y, L, _, _ = lasso
    bad = y.clone()
    bad[7] = float("nan")
    with pytest.raises(NonFiniteError, match="y contains 1 NaN and 0 Inf"):
        fista(A, bad, LAM, lipschitz=L)
    x0 = torch.zeros(80, dtype=D64)
    x0[0] = float("inf")
    with pytest.raises(NonFiniteError, match="x0 contains 0 NaN and 1 Inf"):
        ista(A, y, LAM, x0=x0, lipschitz=L)
    with pytest.raises(ShapeError, match=r"y has shape \(41,\)"):
        ista(A, torch.zeros(41, dtype=D64), LAM)
    with pytest.raises(ShapeError, match=r"x0 has shape \(79,\); expected \(80,\)"):
        fista(A, y, LAM, x0=torch.zeros(79, dtype=D64), lipschitz=L)
    with pytest.raises(TypeError, match=r"dtype torch\.float32"):
        ista(A, y.float(), LAM)
    with pytest.raises(ValueError, match="lam must be finite and >= 0, got -1"):
        ista(A, y, -1.0, lipschitz=L)
    with pytest.raises(ValueError, match="stop must be one of"):
        ista(A, y, LAM, stop="gap", lipschitz=L)
    with pytest.raises(ShapeError, match="reg_operator's domain"):
        tikhonov_cg(A, y, 1.0, reg_operator=Gradient(79, dtype=D64))
    with pytest.raises(ValueError, match="NaN"):
        tikhonov_cg(A, bad, 1.0)


def test_tv_denoising_with_identity_operator_is_one_prox_step():
    from geolearn.operators import Identity
    from geolearn.solvers import TotalVariation, prox_tv

    shape = (9, 8)
    y = torch.randn(shape, generator=_gen(6), dtype=D64)
    reg = TotalVariation(spacing=(1.0, 2.0), tol=1e-12, max_iter=5000)
    r = ista(Identity(shape, dtype=D64), y, 0.3, regulariser=reg, tol=1e-12, max_iter=5)
    expected = prox_tv(y, 0.3, spacing=(1.0, 2.0), tol=1e-12, max_iter=5000)
    assert r.step == pytest.approx(1.0, rel=1e-8)
    assert torch.max(torch.abs(r.x - expected)) < 1e-6
    assert r.history.objective[-1] < r.history.data[0] + 0.3 * float(reg.value(y, 2))


def test_nonnegative_least_squares_matches_scipy_nnls(lasso):
    import scipy.optimize

    from geolearn.solvers import NonNegative

    A, y, _, _, _ = lasso
    sub = MatrixOperator(A.matrix[:, :30])  # overdetermined, so the NNLS solution is unique
    r = fista(sub, y, regulariser=NonNegative(), tol=1e-14, max_iter=20000)
    expected, _ = scipy.optimize.nnls(sub.matrix.numpy(), y.numpy())
    assert r.converged and float(r.x.min()) >= 0
    assert abs(r.history.regularisation[-1]) == 0.0
    assert torch.max(torch.abs(r.x - torch.from_numpy(expected))) < 1e-8
    assert 0 < int((r.x == 0).sum()) < 30  # the constraint is active somewhere
