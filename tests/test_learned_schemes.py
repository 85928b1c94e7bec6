"""Unrolled ISTA, the LISTA family, learned FISTA and PnP: equivalences, shapes, identifiability, errors."""

from __future__ import annotations

import gc
import weakref

import pytest
import torch
from _learned_helpers import ImageToRecords, single_thread, small_problem  # noqa: F401  (autouse fixture)
from torch import nn

from geolearn.errors import ConfigError, ShapeError, StabilityError
from geolearn.learned import DnCNN, LearnedFISTA, PnPISTA, UnrolledISTA, cauchy_steps, lyapunov_energy
from geolearn.learned.sparse import ALISTA, LISTA, alista_weight, canonicalize, support_shrink
from geolearn.operators import LinearOperator, MatrixOperator
from geolearn.solvers import fista, ista

LAM = 0.05
F64 = torch.float64


def test_unrolled_ista_with_ista_parameters_equals_ista():
    prob, L, y, _ = small_problem()
    net = UnrolledISTA(12, step_init=1.0, threshold_init=LAM / L, dtype=F64)
    assert torch.allclose(net.steps, torch.ones(12, dtype=torch.float64), rtol=0, atol=1e-15)
    ref = ista(prob.A, y, LAM, max_iter=12, tol=0.0, lipschitz=L).x
    out = net(y, prob.A, lipschitz=L)
    assert float((out.detach() - ref).norm() / ref.norm()) < 1e-12
    assert float(ref.norm()) > 0.1  # a non-trivial reference


@pytest.mark.parametrize("kwargs", [{}, {"tied": True}, {"coupled": True}])
def test_lista_at_initialisation_equals_ista(kwargs):
    prob, L, y, _ = small_problem()
    ref = ista(prob.A, y, LAM, max_iter=10, tol=0.0, lipschitz=L).x
    out = LISTA(prob.A, 10, lam=LAM, lipschitz=L, **kwargs)(y, prob.A)
    assert float((out - ref).norm() / ref.norm()) < 1e-12


def test_learned_fista_with_zero_inertia_is_ista_and_inertia_accelerates():
    prob, L, y, _ = small_problem()
    ref = ista(prob.A, y, LAM, max_iter=8, tol=0.0, lipschitz=L).x
    net = LearnedFISTA(8, lam=LAM, lipschitz=L, step_init=1.0, inertia_init=1e-300, dtype=F64)
    assert float((net(y, prob.A, lipschitz=L) - ref).norm() / ref.norm()) < 1e-12
    # With inertia the LASSO objective after 30 layers is lower than ISTA's after 30 iterations.
    lf = LearnedFISTA(30, lam=LAM, lipschitz=L, step_init=1.0, inertia_init=0.99, dtype=F64)

    def objective(x):
        return float(0.5 * (prob.A(x) - y).pow(2).sum() + LAM * x.abs().sum())

    x_star = fista(prob.A, y, LAM, max_iter=2000, tol=1e-12, lipschitz=L).x
    gap_ista = objective(ista(prob.A, y, LAM, max_iter=30, tol=0.0, lipschitz=L).x) - objective(x_star)
    gap_lf = objective(lf(y, prob.A, lipschitz=L).detach()) - objective(x_star)
    assert gap_lf < 0.5 * gap_ista


def test_schemes_accept_image_to_records_operators_and_corrections():
    A = ImageToRecords()
    gen = torch.Generator().manual_seed(3)
    y = torch.randn((4, *A.range_shape), generator=gen, dtype=torch.float64)
    for net in (
        UnrolledISTA(3, threshold_init=0.01, dtype=F64),
        LearnedFISTA(3, threshold_init=0.01, dtype=F64),
    ):
        out = net(y, A)
        assert out.shape == (4, 6, 5)
        assert net(y[0], A).shape == (6, 5)  # unbatched in, unbatched out
        out.sum().backward()
        assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())

    class Cnn(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 1, 3, padding=1).double()
            nn.init.zeros_(self.conv.weight)
            nn.init.zeros_(self.conv.bias)

        def forward(self, x):
            return self.conv(x.unsqueeze(1)).squeeze(1)

    plain = UnrolledISTA(3, threshold_init=0.01, dtype=F64)
    corrected = UnrolledISTA(3, threshold_init=0.01, corrections=[Cnn() for _ in range(3)], dtype=F64)
    assert torch.equal(plain(y, A), corrected(y, A))  # zero-initialised corrections start from the scheme
    with torch.no_grad():
        corrected.corrections[1].conv.bias.fill_(0.5)
    diff = corrected(y, A) - plain(y, A)
    assert float(diff.abs().max()) > 0.1
    pnp = PnPISTA(2, DnCNN(features=4, depth=3, seed=1).double(), dtype=F64)
    assert pnp(y, A).shape == (4, 6, 5)


def test_lista_family_rejects_image_operators_with_a_clear_error():
    with pytest.raises(ShapeError, match="MatrixOperator-sized"):
        LISTA(ImageToRecords(), 3)
    with pytest.raises(ShapeError, match="UnrolledISTA"):
        ALISTA(ImageToRecords(), 3)


def test_decreasing_thresholds_and_step_bounds():
    _, L, _, _ = small_problem()
    net = UnrolledISTA(
        6, threshold_init=[0.05, 0.04, 0.04, 0.02, 0.01, 0.001], decreasing_thresholds=True, dtype=F64
    )
    torch.testing.assert_close(
        net.thresholds.detach(),
        torch.tensor([0.05, 0.04, 0.04, 0.02, 0.01, 0.001], dtype=torch.float64),
        rtol=1e-12,
        atol=0,
    )
    with torch.no_grad():
        net.raw_threshold.copy_(torch.tensor([3.0, 5.0, -2.0, 0.0, 9.0, -30.0]))
    th = net.thresholds
    assert bool((th[1:] <= th[:-1]).all()) and bool((th >= 0).all())
    with pytest.raises(ValueError, match="nonincreasing"):
        UnrolledISTA(2, threshold_init=[0.01, 0.02], decreasing_thresholds=True)
    with pytest.raises(StabilityError, match=r"c=2.5"):
        UnrolledISTA(2, threshold_init=0.01, step_bound=2.5)
    with pytest.raises(ValueError, match=r"\(0, "):
        UnrolledISTA(2, threshold_init=0.01, step_init=1.5)
    wide = UnrolledISTA(2, lam=LAM, lipschitz=L, step_init=1.5, step_bound=2.0, dtype=F64)
    assert float(wide.steps[0]) == pytest.approx(1.5, rel=1e-12)
    assert float(wide.thresholds[0]) == pytest.approx(1.5 * LAM / L, rel=1e-12)  # ISTA's θ = γλ


def test_support_selection_bypasses_the_largest_entries():
    z = torch.tensor([[5.0, -0.2, 0.3, -4.0, 0.1, 1.0, -2.0, 0.0, 0.4, 3.0]])
    out = support_shrink(z, torch.tensor(0.5), 0.2)  # the 2 largest |z| (5, -4) pass unchanged
    expected = torch.tensor([[5.0, 0.0, 0.0, -4.0, 0.0, 0.5, -1.5, 0.0, 0.0, 2.5]])
    assert torch.equal(out, expected)
    prob, L, y, _ = small_problem()
    ss = LISTA(prob.A, 5, lam=LAM, lipschitz=L, coupled=True, support_selection=(0.05, 0.2))
    plain = LISTA(prob.A, 5, lam=LAM, lipschitz=L, coupled=True)
    assert float((ss(y, prob.A) - plain(y, prob.A)).abs().max()) > 1e-3


def test_alista_weight_is_the_constrained_minimiser():
    prob, _, _, _ = small_problem(m=20, n=40)
    A = prob.A.matrix
    W = alista_weight(A)
    gram = W.T @ A
    torch.testing.assert_close(torch.diagonal(gram), torch.ones(40, dtype=torch.float64), rtol=0, atol=1e-10)

    def off_diagonal(W):
        G = W.T @ A
        return float((G - torch.diag(torch.diagonal(G))).pow(2).sum())

    base = off_diagonal(W)
    gen = torch.Generator().manual_seed(123)
    for _ in range(5):  # feasible perturbations (keeping diag(WᵀA) = 1) only increase the objective
        D = torch.randn(W.shape, generator=gen, dtype=torch.float64) * 1e-2
        D = D - A * ((D * A).sum(0) / (A * A).sum(0))
        assert off_diagonal(W + D) > base
    net = ALISTA(prob.A, 4)
    assert [p.numel() for p in net.parameters()] == [4, 4]


def test_identifiability_rescaled_rows_give_identical_outputs_and_one_canonical_form():
    prob, L, y, _ = small_problem()
    net = LISTA(prob.A, 4, lam=LAM, lipschitz=L, unit_rows=True)
    gen = torch.Generator().manual_seed(5)
    with torch.no_grad():  # move away from initialisation so that signs and norms vary
        net.W.add_(0.3 * torch.randn(net.W.shape, generator=gen, dtype=torch.float64))
        net.U.add_(0.1 * torch.randn(net.U.shape, generator=gen, dtype=torch.float64))
    out = net(y, prob.A)
    other = LISTA(prob.A, 4, lam=LAM, lipschitz=L, unit_rows=True)
    p = torch.randn((4, 60), generator=gen, dtype=torch.float64) * 3
    p = torch.where(p.abs() < 0.1, torch.full_like(p, 0.5), p)
    with torch.no_grad():
        other.W.copy_(net.W * p[..., None])
        other.U.copy_(net.U * p[..., None])
        other.raw_threshold.copy_(torch.log(torch.expm1(net.thresholds * p.abs())))
    assert float((other(y, prob.A) - out).abs().max()) < 1e-12
    a, b = canonicalize(net.W, net.U, net.thresholds), canonicalize(other.W, other.U, other.thresholds)
    for ta, tb in zip(a, b):
        assert float((ta - tb).abs().max()) < 1e-12
    Wc = a[0]
    torch.testing.assert_close(Wc.norm(dim=-1), torch.ones(4, 60, dtype=torch.float64), rtol=0, atol=1e-12)
    first = Wc.gather(-1, (Wc != 0).to(torch.int8).argmax(-1, keepdim=True))
    assert bool((first > 0).all())
    net.canonicalize_()
    other.canonicalize_()
    assert float((net.W - other.W).abs().max()) < 1e-12
    assert float((net(y, prob.A) - out).abs().max()) < 1e-12  # canonicalising does not change the network


def test_lyapunov_energy_decreases_and_detects_a_violation():
    prob, L, y, _ = small_problem()
    net = LearnedFISTA(20, lam=LAM, lipschitz=L, inertia_init=0.99, dtype=F64)
    rep = lyapunov_energy(net, y, prob.A, lipschitz=L)
    assert rep.decreasing and rep.max_increase <= 0
    assert float((rep.before[1:] - rep.after[:-1]).abs().max()) < 1e-12  # same λ: consecutive energies chain

    class Unsafe(LearnedFISTA):  # drop the β bound to show that the check can fail
        @property
        def inertias(self):
            return torch.full_like(self.steps, 1.0)

    bad = Unsafe(20, lam=LAM, lipschitz=L, step_init=1.8, step_bound=2.0, dtype=F64)
    assert not lyapunov_energy(bad, y, prob.A, lipschitz=L).decreasing


def test_bad_inputs_raise_clear_errors():
    prob, L, y, _ = small_problem()
    with pytest.raises(ConfigError, match="n_layers must be a positive integer, got 0"):
        UnrolledISTA(0, threshold_init=0.01)
    with pytest.raises(ConfigError, match="n_layers"):
        LISTA(prob.A, -2, lipschitz=L)
    with pytest.raises(ConfigError, match="threshold_init"):
        UnrolledISTA(3)  # no thresholds and nothing to derive them from
    net = UnrolledISTA(3, lam=LAM, lipschitz=L, dtype=F64)
    with pytest.raises(ShapeError, match=r"range is \(30,\)"):
        net(torch.zeros(4, 31, dtype=torch.float64), prob.A)
    bad = y.clone()
    bad[2, 3] = float("nan")
    with pytest.raises(ValueError, match="non-finite"):
        net(bad, prob.A)
    bad[2, 3] = float("inf")
    with pytest.raises(ValueError, match="non-finite"):
        LearnedFISTA(2, threshold_init=0.01, dtype=F64)(bad, prob.A, lipschitz=L)
    with pytest.raises(TypeError, match="dtype"):
        net(y.float(), prob.A)
    with pytest.raises(
        TypeError, match=r"parameter 'raw_step' is torch.float32 but the operator is torch.float64"
    ):
        UnrolledISTA(3, threshold_init=0.01)(y, prob.A)  # float32 network, float64 operator
    with pytest.raises(ConfigError, match="exceeds"):
        net(y, prob.A, n_layers=4)
    with pytest.raises(TypeError, match="LinearOperator"):
        net(y, torch.eye(3))
    with pytest.raises(ConfigError, match="one per layer"):
        UnrolledISTA(3, threshold_init=0.01, corrections=[nn.Identity(), nn.Identity()])
    with pytest.raises(ConfigError, match="support_selection"):
        LISTA(prob.A, 2, support_selection=(0.0, 0.1), lipschitz=L)
    with pytest.raises(ConfigError, match="unit_rows"):
        LISTA(prob.A, 2, unit_rows=True, coupled=True, lipschitz=L)
    with pytest.raises(ValueError, match="lipschitz"):
        net(y, prob.A, lipschitz=-1.0)
    with pytest.raises(ConfigError, match="step_scale must be one of"):
        LearnedFISTA(2, threshold_init=0.01, step_scale="cauchy")
    with pytest.raises(ConfigError, match="only with step_scale='lipschitz'"):
        UnrolledISTA(2, threshold_init=0.01, step_scale="cauchy", dtype=F64)(y, prob.A, lipschitz=L)


def test_lipschitz_is_estimated_once_per_operator_and_forgotten_with_it():
    prob, L, y, _ = small_problem()
    A = MatrixOperator(prob.A.matrix)  # every operator counts its applications, per sample
    net = UnrolledISTA(2, threshold_init=0.01, dtype=F64)
    assert net.physics(y, A).lipschitz == pytest.approx(L, rel=1e-5)
    estimated = sum(A.applications.values())
    assert estimated > 10  # the power iteration ran
    net(y, A)
    UnrolledISTA(3, threshold_init=0.01, dtype=F64)(y, A)  # another network, same operator
    # No second estimate: only the layers' A and Aᵀ (A 0 in the first layer costs nothing).
    batch = y.shape[0] if y.ndim > 1 else 1
    assert sum(A.applications.values()) == estimated + batch * ((2 * 2 - 1) + (2 * 3 - 1))
    B = MatrixOperator(2.0 * prob.A.matrix)  # another operator gets its own estimate
    assert net.physics(2.0 * y, B).lipschitz == pytest.approx(4 * L, rel=1e-5)
    memo = weakref.ref(B)
    del B
    gc.collect()
    assert memo() is None  # the memo did not keep the operator alive


@pytest.mark.parametrize("step_scale", ["lipschitz", "cauchy"])
def test_a_trained_network_is_invariant_to_rescaling_the_operator(step_scale):
    # What makes a network transfer: steps are fractions of a unit computed from the call's
    # operator, thresholds are in image units. Then A -> αA, y -> αy (same x) gives the same image.
    prob, _, y, _ = small_problem()
    net = UnrolledISTA(4, threshold_init=0.02, step_scale=step_scale, dtype=F64)
    with torch.no_grad():  # "trained": distinct per-layer values
        net.raw_step.add_(torch.tensor([0.3, -0.2, 0.1, 0.5], dtype=F64))
        net.raw_threshold.add_(torch.tensor([0.1, -0.4, 0.2, 0.0], dtype=F64))
    scaled = MatrixOperator(7.0 * prob.A.matrix)
    ref, out = net(y, prob.A), net(7.0 * y, scaled)
    assert float((out - ref).norm() / ref.norm()) < 1e-12
    assert float(ref.norm()) > 0.1
    fista_net = LearnedFISTA(4, threshold_init=0.02, inertia_init=0.7, dtype=F64)
    ref_f, out_f = fista_net(y, prob.A), fista_net(7.0 * y, scaled)
    assert float((out_f - ref_f).norm() / ref_f.norm()) < 1e-10


def test_one_network_runs_on_operators_of_other_shapes_and_stores_none():
    class Cnn(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 1, 3, padding=1)

        def forward(self, x):
            return self.conv(x.unsqueeze(1)).squeeze(1)

    net = UnrolledISTA(3, threshold_init=0.01, step_scale="cauchy", corrections=Cnn())
    stored = [v for m in net.modules() for v in vars(m).values() if isinstance(v, LinearOperator)]
    assert stored == [] and all(isinstance(t, torch.Tensor) for t in net.state_dict().values())
    gen = torch.Generator().manual_seed(0)
    for domain, range_ in (((6, 5), (2, 3, 7)), ((9, 4), (3, 4, 6))):
        A = ImageToRecords(domain, range_, dtype=torch.float32)
        y = torch.randn((2, *range_), generator=gen)
        assert net(y, A).shape == (2, *domain)
    # .to(dtype) moves the parameters; the float64 call uses a float64 operator.
    A64 = ImageToRecords((6, 5), (2, 3, 7), dtype=F64)
    y64 = torch.randn((2, 2, 3, 7), generator=gen, dtype=F64)
    net64 = net.to(F64)
    out = net64(y64, A64)
    assert out.dtype == F64 and all(p.dtype == F64 for p in net64.parameters())
    A32 = A64.to(dtype=torch.float32)
    with torch.no_grad():
        out32 = net64.to(torch.float32)(y64.float(), A32)
    torch.testing.assert_close(out32.double(), out.detach(), rtol=1e-4, atol=1e-5)


def test_cauchy_scale_costs_one_extra_application_and_is_the_exact_first_line_search():
    prob, _, y, _ = small_problem()
    A = MatrixOperator(prob.A.matrix)
    steps, g = cauchy_steps(A, y)
    expected = g.pow(2).sum(1) / prob.A(g).pow(2).sum(1)
    torch.testing.assert_close(steps, expected, rtol=1e-12, atol=0)
    # The step minimises ½‖A(s g) − y‖² over s: the derivative there vanishes.
    r = prob.A(steps[:, None] * g) - y
    assert float((r * prob.A(g)).sum(1).abs().max()) < 1e-10 * float(y.pow(2).sum(1).max())
    net = UnrolledISTA(4, threshold_init=1e-3, step_scale="cauchy", dtype=F64)
    before = sum(A.applications.values())
    net(y, A)
    # Aᵀy (reused by layer 1), A Aᵀy, then A and Aᵀ for layers 2..4, per sample of the batch.
    batch = y.shape[0] if y.ndim > 1 else 1
    assert sum(A.applications.values()) - before == batch * 2 * 4


def test_lista_family_checks_the_operator_shape_and_lista_cp_uses_the_call_operator():
    prob, L, y, _ = small_problem()
    net = LISTA(prob.A, 3, lam=LAM, lipschitz=L, coupled=True)
    noise = torch.randn(prob.A.matrix.shape, dtype=F64, generator=torch.Generator().manual_seed(1))
    other = MatrixOperator(prob.A.matrix + 0.05 * noise)
    assert float((net(y, other) - net(y, prob.A)).abs().max()) > 1e-3
    small, _, y_small, _ = small_problem(m=20, n=40)
    for scheme in (net, LISTA(prob.A, 2, lam=LAM, lipschitz=L), ALISTA(prob.A, 2)):
        with pytest.raises(ShapeError, match=r"learned matrices for a 30×60 operator"):
            scheme(y_small, small.A)


def test_operator_norm_is_estimated_when_lipschitz_is_omitted():
    prob, L, y, _ = small_problem()
    net = UnrolledISTA(2, threshold_init=0.01, dtype=F64)
    assert net.physics(y, prob.A).lipschitz == pytest.approx(L, rel=1e-5)
    assert isinstance(prob.A, MatrixOperator)
