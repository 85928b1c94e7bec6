"""Unrolled ISTA, the LISTA family, learned FISTA and PnP: equivalences, shapes, identifiability, errors."""

from __future__ import annotations

import pytest
import torch
from _learned_helpers import ImageToRecords, single_thread, small_problem  # noqa: F401  (autouse fixture)
from torch import nn

from geolearn.errors import ConfigError, ShapeError, StabilityError
from geolearn.learned import (
    ALISTA,
    LISTA,
    DnCNN,
    LearnedFISTA,
    PnPISTA,
    UnrolledISTA,
    alista_weight,
    canonicalize,
    lyapunov_energy,
    support_shrink,
)
from geolearn.operators import MatrixOperator
from geolearn.solvers import fista, ista

LAM = 0.05


def test_unrolled_ista_with_ista_parameters_equals_ista():
    prob, L, y, _ = small_problem()
    net = UnrolledISTA(prob.A, 12, step_init=1 / L, threshold_init=LAM / L, lipschitz=L)
    assert torch.allclose(net.steps * L, torch.ones(12, dtype=torch.float64), rtol=0, atol=1e-15)
    ref = ista(prob.A, y, LAM, max_iter=12, tol=0.0, lipschitz=L).x
    out = net(y)
    assert float((out.detach() - ref).norm() / ref.norm()) < 1e-12
    assert float(ref.norm()) > 0.1  # a non-trivial reference


@pytest.mark.parametrize("kwargs", [{}, {"tied": True}, {"coupled": True}])
def test_lista_at_initialisation_equals_ista(kwargs):
    prob, L, y, _ = small_problem()
    ref = ista(prob.A, y, LAM, max_iter=10, tol=0.0, lipschitz=L).x
    out = LISTA(prob.A, 10, lam=LAM, lipschitz=L, **kwargs)(y)
    assert float((out - ref).norm() / ref.norm()) < 1e-12


def test_learned_fista_with_zero_inertia_is_ista_and_inertia_accelerates():
    prob, L, y, _ = small_problem()
    ref = ista(prob.A, y, LAM, max_iter=8, tol=0.0, lipschitz=L).x
    net = LearnedFISTA(prob.A, 8, lam=LAM, step_init=1 / L, inertia_init=1e-300, lipschitz=L)
    assert float((net(y) - ref).norm() / ref.norm()) < 1e-12
    # With inertia the LASSO objective after 30 layers is lower than ISTA's after 30 iterations.
    lf = LearnedFISTA(prob.A, 30, lam=LAM, step_init=1 / L, inertia_init=0.99, lipschitz=L)

    def objective(x):
        return float(0.5 * (prob.A(x) - y).pow(2).sum() + LAM * x.abs().sum())

    x_star = fista(prob.A, y, LAM, max_iter=2000, tol=1e-12, lipschitz=L).x
    gap_ista = objective(ista(prob.A, y, LAM, max_iter=30, tol=0.0, lipschitz=L).x) - objective(x_star)
    gap_lf = objective(lf(y).detach()) - objective(x_star)
    assert gap_lf < 0.5 * gap_ista


def test_schemes_accept_image_to_records_operators_and_corrections():
    A = ImageToRecords()
    gen = torch.Generator().manual_seed(3)
    y = torch.randn((4, *A.range_shape), generator=gen, dtype=torch.float64)
    for net in (UnrolledISTA(A, 3), LearnedFISTA(A, 3)):
        out = net(y)
        assert out.shape == (4, 6, 5)
        assert net(y[0]).shape == (6, 5)  # unbatched in, unbatched out
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

    plain = UnrolledISTA(A, 3)
    corrected = UnrolledISTA(A, 3, corrections=[Cnn() for _ in range(3)])
    assert torch.equal(plain(y), corrected(y))  # zero-initialised corrections start from the scheme
    with torch.no_grad():
        corrected.corrections[1].conv.bias.fill_(0.5)
    diff = corrected(y) - plain(y)
    assert float(diff.abs().max()) > 0.1
    pnp = PnPISTA(A, 2, DnCNN(features=4, depth=3, seed=1).double())
    assert pnp(y).shape == (4, 6, 5)


def test_lista_family_rejects_image_operators_with_a_clear_error():
    with pytest.raises(ShapeError, match="MatrixOperator-sized"):
        LISTA(ImageToRecords(), 3)
    with pytest.raises(ShapeError, match="UnrolledISTA"):
        ALISTA(ImageToRecords(), 3)


def test_decreasing_thresholds_and_step_bounds():
    prob, L, _, _ = small_problem()
    net = UnrolledISTA(
        prob.A,
        6,
        threshold_init=[0.05, 0.04, 0.04, 0.02, 0.01, 0.001],
        decreasing_thresholds=True,
        lipschitz=L,
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
        UnrolledISTA(prob.A, 2, threshold_init=[0.01, 0.02], decreasing_thresholds=True, lipschitz=L)
    with pytest.raises(StabilityError, match=r"c=2.5"):
        UnrolledISTA(prob.A, 2, step_bound=2.5, lipschitz=L)
    with pytest.raises(ValueError, match=r"\(0, "):
        UnrolledISTA(prob.A, 2, step_init=1.5 / L, lipschitz=L)
    wide = UnrolledISTA(prob.A, 2, step_init=1.5 / L, step_bound=2.0, lipschitz=L)
    assert float(wide.steps[0]) == pytest.approx(1.5 / L, rel=1e-12)


def test_support_selection_bypasses_the_largest_entries():
    z = torch.tensor([[5.0, -0.2, 0.3, -4.0, 0.1, 1.0, -2.0, 0.0, 0.4, 3.0]])
    out = support_shrink(z, torch.tensor(0.5), 0.2)  # the 2 largest |z| (5, -4) pass unchanged
    expected = torch.tensor([[5.0, 0.0, 0.0, -4.0, 0.0, 0.5, -1.5, 0.0, 0.0, 2.5]])
    assert torch.equal(out, expected)
    prob, L, y, _ = small_problem()
    ss = LISTA(prob.A, 5, lam=LAM, lipschitz=L, coupled=True, support_selection=(0.05, 0.2))
    plain = LISTA(prob.A, 5, lam=LAM, lipschitz=L, coupled=True)
    assert float((ss(y) - plain(y)).abs().max()) > 1e-3


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
    out = net(y)
    other = LISTA(prob.A, 4, lam=LAM, lipschitz=L, unit_rows=True)
    p = torch.randn((4, 60), generator=gen, dtype=torch.float64) * 3
    p = torch.where(p.abs() < 0.1, torch.full_like(p, 0.5), p)
    with torch.no_grad():
        other.W.copy_(net.W * p[..., None])
        other.U.copy_(net.U * p[..., None])
        other.raw_threshold.copy_(torch.log(torch.expm1(net.thresholds * p.abs())))
    assert float((other(y) - out).abs().max()) < 1e-12
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
    assert float((net(y) - out).abs().max()) < 1e-12  # canonicalising does not change the network


def test_lyapunov_energy_decreases_and_detects_a_violation():
    prob, L, y, _ = small_problem()
    net = LearnedFISTA(prob.A, 20, lam=LAM, inertia_init=0.99, lipschitz=L)
    rep = lyapunov_energy(net, y)
    assert rep.decreasing and rep.max_increase <= 0
    assert float((rep.before[1:] - rep.after[:-1]).abs().max()) < 1e-12  # same λ: consecutive energies chain

    class Unsafe(LearnedFISTA):  # drop the β bound to show that the check can fail
        @property
        def inertias(self):
            return torch.full_like(self.steps, 1.0)

    bad = Unsafe(prob.A, 20, lam=LAM, step_init=1.8 / L, step_bound=2.0, lipschitz=L)
    assert not lyapunov_energy(bad, y).decreasing


def test_bad_inputs_raise_clear_errors():
    prob, L, y, _ = small_problem()
    with pytest.raises(ConfigError, match="n_layers must be a positive integer, got 0"):
        UnrolledISTA(prob.A, 0, lipschitz=L)
    with pytest.raises(ConfigError, match="n_layers"):
        LISTA(prob.A, -2, lipschitz=L)
    net = UnrolledISTA(prob.A, 3, lipschitz=L)
    with pytest.raises(ShapeError, match=r"range is \(30,\)"):
        net(torch.zeros(4, 31, dtype=torch.float64))
    bad = y.clone()
    bad[2, 3] = float("nan")
    with pytest.raises(ValueError, match="non-finite"):
        net(bad)
    bad[2, 3] = float("inf")
    with pytest.raises(ValueError, match="non-finite"):
        LearnedFISTA(prob.A, 2, lipschitz=L)(bad)
    with pytest.raises(TypeError, match="dtype"):
        net(y.float())
    with pytest.raises(ConfigError, match="exceeds"):
        net(y, n_layers=4)
    with pytest.raises(TypeError, match="LinearOperator"):
        UnrolledISTA(torch.eye(3), 2)
    with pytest.raises(ConfigError, match="one per layer"):
        UnrolledISTA(prob.A, 3, corrections=[nn.Identity(), nn.Identity()], lipschitz=L)
    with pytest.raises(ConfigError, match="support_selection"):
        LISTA(prob.A, 2, support_selection=(0.0, 0.1), lipschitz=L)
    with pytest.raises(ConfigError, match="unit_rows"):
        LISTA(prob.A, 2, unit_rows=True, coupled=True, lipschitz=L)
    with pytest.raises(ValueError, match="lipschitz"):
        UnrolledISTA(prob.A, 2, lipschitz=-1.0)


def test_operator_norm_is_estimated_when_lipschitz_is_omitted():
    prob, L, _, _ = small_problem()
    net = UnrolledISTA(prob.A, 2)
    assert net.lipschitz == pytest.approx(L, rel=1e-5)
    assert isinstance(prob.A, MatrixOperator)
