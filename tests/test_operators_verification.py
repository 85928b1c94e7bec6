"""Verification API (dot test, Taylor test, gradient check) and SciPy / callable interop."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse
import scipy.sparse.linalg as spla
import torch

from geolearn.errors import AdjointTestError, GradientTestError, ShapeError
from geolearn.operators import (
    Gradient,
    MatrixOperator,
    dot_test,
    from_callables,
    from_scipy,
    gradient_check,
    taylor_test,
    to_scipy,
)

D64 = torch.float64


def _rand(*shape, seed=0, dtype=D64):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def _cumsum_op(n, adjoint_ok=True, dtype=D64):
    def adjoint(y):
        out = torch.cumsum(y.flip(-1), -1).flip(-1)
        return out if adjoint_ok else torch.cumsum(y, -1)

    return from_callables(lambda x: torch.cumsum(x, -1), adjoint, n, n, dtype=dtype)


# ---------------------------------------------------------------- dot test
def test_dot_test_flags_wrong_adjoint_and_reports_error():
    good, bad = _cumsum_op(10), _cumsum_op(10, adjoint_ok=False)
    assert dot_test(good) < 1e-12
    err = dot_test(bad, raise_error=False)
    assert err > 1e-2
    with pytest.raises(AdjointTestError, match=r"exceeds tol=1\.0e-10"):
        dot_test(bad)
    with pytest.raises(AssertionError):  # AdjointTestError is an AssertionError
        dot_test(bad)


def test_dot_test_tolerance_override_and_float32_default():
    A = MatrixOperator(_rand(30, 40))
    # A perturbed adjoint: relative error about 1e-8, fails the float64 default, passes tol=1e-6.
    Mt = A.matrix.T + 1e-8 * _rand(40, 30, seed=5)
    B = from_callables(lambda x: A.matrix @ x, lambda y: Mt @ y, 40, 30, dtype=D64)
    assert 1e-10 < dot_test(B, raise_error=False) < 1e-6
    assert dot_test(B, tol=1e-6) < 1e-6
    with pytest.raises(AdjointTestError):
        dot_test(B)
    assert dot_test(MatrixOperator(_rand(30, 40, dtype=torch.float32))) < 1e-4


# ---------------------------------------------------------------- Taylor test
def _f(x):
    return torch.sum(torch.sin(x) * x**2) + 0.5 * torch.sum(x) ** 2


def test_taylor_slopes_for_correct_gradient():
    x = _rand(20)
    res = taylor_test(_f, x)
    assert res.passed and not res.linear
    assert abs(res.slope0 - 1) < 0.1 and abs(res.slope1 - 2) < 0.1
    assert res.n_fit1 == 6 and len(res.h) == 10
    assert math.isclose(res.h[1], res.h[0] / 2)


def test_taylor_flags_wrong_gradient():
    x = _rand(20)
    xg = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(_f(xg), xg)
    wrong = g * 1.01
    res = taylor_test(_f, x, grad=wrong)
    assert not res.passed
    assert abs(res.slope1 - 1) < 0.15
    with pytest.raises(GradientTestError, match="expected 2"):
        gradient_check(_f, x, wrong)
    ok = gradient_check(_f, x, lambda z: g)
    assert abs(ok.slope1 - 2) < 0.1


def test_taylor_fits_above_roundoff_floor():
    # With many halvings, float64 round-off dominates r1 at small h; the fit must stop there.
    x = _rand(50) + 3.0
    res = taylor_test(_f, x, n_halvings=40, h0=1.0)
    assert res.passed
    assert res.r1[-1] <= res.floor[-1]  # the smallest steps are at round-off
    assert all(r > f for r, f in zip(res.r1[:5], res.floor[:5]))
    assert abs(res.slope1 - 2) < 0.1


def test_taylor_quadratic_and_linear_functions():
    A = _rand(8, 8)
    x = _rand(8, seed=1)
    quad = taylor_test(lambda z: 0.5 * torch.sum((A @ z) ** 2), x)
    assert quad.passed and abs(quad.slope1 - 2) < 1e-6
    c = _rand(8, seed=2)
    lin = taylor_test(lambda z: torch.dot(c, z), x)
    assert lin.passed and lin.linear and math.isnan(lin.slope1)
    bad = taylor_test(lambda z: torch.dot(c, z), x, grad=c + 0.1)
    assert not bad.passed and not bad.linear


def test_taylor_guards():
    x = _rand(4)
    with pytest.raises(ShapeError, match=r"dx has shape \(3,\)"):
        taylor_test(_f, x, _rand(3))
    with pytest.raises(ValueError, match="n_halvings"):
        taylor_test(_f, x, n_halvings=2)


# ---------------------------------------------------------------- interop
def test_to_scipy_lsqr_solves_least_squares():
    A = MatrixOperator(_rand(40, 15))
    y = _rand(40, seed=3)
    op = to_scipy(A)
    assert op.shape == (40, 15) and op.dtype == np.float64
    x = spla.lsqr(op, y.numpy(), atol=1e-14, btol=1e-14, iter_lim=500)[0]
    expected = torch.linalg.lstsq(A.matrix, y).solution.numpy()
    assert np.abs(x - expected).max() < 1e-10
    # matmat / rmatmat map columns; shaped domains flatten in C order
    D = Gradient((4, 5), dtype=D64)
    V = np.random.default_rng(0).standard_normal((20, 3))
    assert np.abs(to_scipy(D).matmat(V) - D.dense().numpy() @ V).max() < 1e-13
    W = np.random.default_rng(1).standard_normal(40)
    assert np.abs(to_scipy(D).rmatvec(W) - D.dense().numpy().T @ W).max() < 1e-13


def test_from_scipy_sparse_matrix_and_shapes():
    S = scipy.sparse.random(12, 20, density=0.3, random_state=0, format="csr")
    A = from_scipy(S, domain_shape=(4, 5), dtype=D64)
    assert A.domain_shape == (4, 5) and A.range_shape == (12,)
    assert dot_test(A) < 1e-10
    x = _rand(3, 4, 5)
    assert np.abs(A(x).numpy() - (S @ x.reshape(3, 20).numpy().T).T).max() < 1e-13
    # gradients through a SciPy operator use its rmatvec
    xg = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(torch.sum(A(xg) ** 2), xg)
    expected = 2 * (S.T @ (S @ x.reshape(3, 20).numpy().T)).T
    assert np.abs(g.reshape(3, 20).numpy() - expected).max() < 1e-12
    with pytest.raises(ShapeError, match="do not fit"):
        from_scipy(S, domain_shape=(4, 4))


def test_from_callables_unbatched_and_batched():
    A = _cumsum_op(6)
    x = _rand(2, 6)
    assert torch.allclose(A(x), torch.cumsum(x, -1))
    xg = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(torch.sum(A(xg) * _rand(2, 6, seed=9)), xg)
    xr = x.clone().requires_grad_(True)
    (gr,) = torch.autograd.grad(torch.sum(torch.cumsum(xr, -1) * _rand(2, 6, seed=9)), xr)
    assert torch.allclose(g, gr, atol=1e-13)
    B = from_callables(lambda x: 2 * x, lambda y: 2 * y, 3, 3, dtype=D64, batched=True)
    assert dot_test(B) < 1e-15
    broken = from_callables(lambda x: x[:2], lambda y: y, 3, 3, dtype=D64)
    with pytest.raises(ShapeError, match=r"returned shape \(2,\); expected \(3,\)"):
        broken(_rand(3))
