"""Deep equilibrium layers: implicit gradients vs unrolled autograd, gradcheck, Anderson vs plain iteration."""

from __future__ import annotations

import pytest
import torch
from _learned_helpers import single_thread, small_problem  # noqa: F401  (autouse fixture)

from geolearn.errors import ConfigError, ConvergenceError
from geolearn.learned import DEQ, LearnedFISTA, UnrolledISTA, anderson, fixed_point_iteration
from geolearn.learned.sparse import LISTA

PROB, L, Y, X = small_problem(m=20, n=40, seed=3)


A = PROB.A
F64 = torch.float64


def _map(n_layers=1):
    return UnrolledISTA(n_layers, step_init=0.9, threshold_init=0.2 / L, dtype=F64)


def _step(net):
    """The map ``z ↦ Φ(z; Y, A)`` of layer 0 (one Physics for all its applications)."""
    physics = net.physics(Y, A, lipschitz=L)
    return (lambda z: net.step(z, Y, physics, 0)), net.init_state(Y, physics)


def test_anderson_reaches_the_same_fixed_point_in_fewer_iterations():
    f, z0 = _step(_map())
    with torch.no_grad():
        plain = fixed_point_iteration(f, z0, tol=1e-10, max_iter=5000)
        acc = anderson(f, z0, m=5, tol=1e-10, max_iter=5000)
    assert plain.converged and acc.converged
    assert float((plain.z - acc.z).norm() / plain.z.norm()) < 1e-7
    assert acc.iterations < 0.5 * plain.iterations, (acc.iterations, plain.iterations)


def test_anderson_survives_singular_least_squares_systems():
    # A linear contraction makes successive residuals collinear: the normal equations are singular.
    c = torch.linspace(-1, 1, 12).reshape(3, 4)
    for dtype in (torch.float32, torch.float64):
        out = anderson(
            lambda z: 0.5 * z + c.to(dtype),
            torch.zeros(3, 4, dtype=dtype),
            m=4,
            lam=0.0,
            tol=1e-5,
            max_iter=50,
        )
        assert out.converged and float((out.z - 2 * c.to(dtype)).abs().max()) < 1e-4
        assert out.fallbacks >= 1


def test_deq_implicit_gradients_equal_unrolled_gradients_to_convergence():
    net = _map()
    deq = DEQ(net, solver="anderson", tol=1e-13, max_iter=3000, backward_tol=1e-13, backward_max_iter=3000)
    x = deq(Y, A, lipschitz=L)
    loss = ((x - X) ** 2).sum()
    grads_deq = torch.autograd.grad(loss, list(net.parameters()))
    assert deq.stats.forward_residual < 1e-13 and deq.stats.backward_residual < 1e-13
    assert deq.stats.backward_iterations > 1
    f, z = _step(net)
    for _ in range(1000):  # unrolled to convergence, with autograd
        z = f(z)
    assert float((z - x).norm() / x.norm()) < 1e-10
    grads_unrolled = torch.autograd.grad(((z - X) ** 2).sum(), list(net.parameters()))
    for gd, gu in zip(grads_deq, grads_unrolled):
        assert float((gd - gu).norm() / gu.norm()) < 1e-6


def test_deq_passes_gradcheck_on_a_small_problem():
    torch.manual_seed(0)
    prob, L4, y, _ = small_problem(m=8, n=12, seed=2, p=0.2)
    net = UnrolledISTA(1, step_init=0.9, threshold_init=0.1 / L4, dtype=F64)
    deq = DEQ(net, solver="anderson", tol=1e-14, max_iter=2000, backward_tol=1e-14, backward_max_iter=2000)
    y = y[:2].clone().requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda yy: deq(yy, prob.A, lipschitz=L4), (y,), eps=1e-6, atol=1e-6, rtol=1e-5
    )
    assert deq.stats.forward_residual < 1e-14


@pytest.mark.parametrize("backward_solver", ["fixed_point", "anderson"])
def test_backward_solvers_agree_and_report_counts(backward_solver):
    net = _map()
    deq = DEQ(
        net,
        tol=1e-11,
        max_iter=3000,
        backward_solver=backward_solver,
        backward_tol=1e-10,
        backward_max_iter=5000,
    )
    x = deq(Y, A, lipschitz=L)
    (g,) = torch.autograd.grad(((x - X) ** 2).sum(), net.raw_step)
    ref_deq = DEQ(_map(), tol=1e-11, max_iter=3000, backward_tol=1e-12, backward_max_iter=5000)
    xr = ref_deq(Y, A, lipschitz=L)
    (gr,) = torch.autograd.grad(((xr - X) ** 2).sum(), ref_deq.map.raw_step)
    assert float((g - gr).abs().max() / gr.abs().max()) < 1e-7
    assert deq.stats.backward_iterations > 1 and deq.stats.backward_residual < 1e-10


def test_jacobian_free_backward_and_fista_deq_and_memory_flat():
    net = _map()
    jf = DEQ(net, backward="jacobian_free", tol=1e-10, max_iter=3000)
    x = jf(Y, A, lipschitz=L)
    (g_jf,) = torch.autograd.grad(((x - X) ** 2).sum(), net.raw_threshold)
    assert jf.stats.backward_iterations is None  # no adjoint solve
    exact = DEQ(net, tol=1e-10, max_iter=3000, backward_tol=1e-10)
    xe = exact(Y, A, lipschitz=L)
    (g_ex,) = torch.autograd.grad(((xe - X) ** 2).sum(), net.raw_threshold)
    cos = float((g_jf * g_ex).sum() / (g_jf.norm() * g_ex.norm()))
    assert cos > 0  # a descent direction, but not the exact gradient
    lf = LearnedFISTA(1, lam=0.2 / 0.9, lipschitz=L, inertia_init=0.5, dtype=F64)
    xf = DEQ(lf, tol=1e-11, max_iter=3000)(Y, A, lipschitz=L)
    ref = DEQ(_map(), tol=1e-11, max_iter=3000)  # same LASSO fixed point (λ = θ/γ = 0.2/0.9)
    torch.testing.assert_close(xf, ref(Y, A, lipschitz=L), rtol=0, atol=1e-8)
    lista = LISTA(PROB.A, 1, lam=0.2 / 0.9, lipschitz=L)  # LISTA's initial map is ISTA with step 1/L
    torch.testing.assert_close(DEQ(lista, tol=1e-11, max_iter=3000)(Y, A), xf, rtol=0, atol=1e-8)


def test_deq_saved_tensor_memory_does_not_grow_with_iterations():
    def saved_bytes(max_iter):
        net = _map()
        deq = DEQ(net, solver="fixed_point", tol=1e-30, max_iter=max_iter)
        total = 0

        def pack(t):
            nonlocal total
            total += t.numel() * t.element_size()
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            deq(Y, A, lipschitz=L).sum().backward()
        return total

    assert saved_bytes(200) == saved_bytes(20)


def test_deq_errors():
    with pytest.raises(ConfigError, match="solver"):
        DEQ(_map(), solver="newton")
    with pytest.raises(ConfigError, match="layer index 3"):
        DEQ(_map(), layer=3)
    with pytest.raises(TypeError, match="IterationMap"):
        DEQ(torch.nn.Linear(2, 2))
    strict = DEQ(_map(), tol=1e-14, max_iter=3, strict=True)
    with pytest.raises(ConvergenceError, match="max_iter"):
        strict(Y, A, lipschitz=L)
    with pytest.raises(TypeError, match="LinearOperator"):
        strict(Y, PROB.A.matrix)
    with pytest.raises(ConfigError, match="tol"):
        fixed_point_iteration(lambda z: z, torch.zeros(2, 3), tol=0.0)
