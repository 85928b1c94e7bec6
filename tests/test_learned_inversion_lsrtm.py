"""Learned LSRTM with the Born operator inside: Taylor test, beats CG at equal cost, save/load, DEQ memory."""

from __future__ import annotations

import pytest
import torch
from _learned_inversion_helpers import SHAPE, SPACING, flat_parameters, single_torch_thread, tiny_problem
from torch.func import functional_call

from geolearn.errors import ConfigError, GeometryError
from geolearn.learned import DnCNN, PnPISTA
from geolearn.learned_inversion.generator import random_models, stack_models
from geolearn.learned_inversion.lsrtm import (
    ScaledDenoiser,
    cg_lsrtm,
    deq_lsrtm,
    learned_lsrtm,
    lsrtm_loss,
    lsrtm_pairs,
    steepest_descent_step,
    train_learned_lsrtm,
)
from geolearn.learned_inversion.metrics import (
    CostCounter,
    CountingOperator,
    peak_memory,
    psnr,
    relative_misfit,
)
from geolearn.learned_inversion.persistence import load_learned, save_learned
from geolearn.operators import taylor_test
from geolearn.wave import BornOperator

pytestmark = pytest.mark.filterwarnings("ignore:.*detach.*:UserWarning")


_one_thread = pytest.fixture(scope="module", autouse=True)(single_torch_thread)


@pytest.fixture(scope="module")
def setup():
    model, geometry, v0 = tiny_problem(torch.float32)
    counter = CostCounter()
    J = CountingOperator(BornOperator(model, geometry, v0), counter)
    x = stack_models(random_models(24, SHAPE, SPACING, seed=1), "detail")
    y, x = lsrtm_pairs(J, x)
    train, test = (y[:16], x[:16]), (y[16:], x[16:])
    step = steepest_descent_step(J, train[0][:4])
    return {"model": model, "geometry": geometry, "v0": v0, "J": J, "counter": counter,
            "train": train, "test": test, "step": step, "scale": float(x.std())}  # fmt: skip


def test_learned_lsrtm_beats_cg_at_equal_cost(setup):
    J, counter = setup["J"], setup["counter"]
    net = learned_lsrtm(J, 2, step=setup["step"], scale=setup["scale"], seed=0)
    train_learned_lsrtm(net, setup["train"], n_steps=30, lr=1e-2, batch_size=4, seed=0, progress=False)
    y, x = setup["test"]
    counter.reset()
    with torch.no_grad():
        x_learned = net(y)
    learned_cost = counter.applications
    counter.reset()
    x_cg = cg_lsrtm(J, y, 1)
    # Both: Jᵀy, then one J and one Jᵀ, per held-back model.
    assert learned_cost == counter.applications == 3 * len(y)
    gap = float(psnr(x_learned, x).mean() - psnr(x_cg, x).mean())
    assert gap > 0.5, f"learned LSRTM only {gap:.2f} dB above CG-LSRTM"


def test_trained_with_data_term_beats_cg_in_image_and_data_fit(setup):
    J = setup["J"]
    y, x = setup["test"]
    net = learned_lsrtm(J, 2, step=setup["step"], scale=setup["scale"], seed=0)
    train_learned_lsrtm(net, setup["train"], J=J, data_weight=0.3, n_steps=30, progress=False)
    with torch.no_grad():
        x_learned = net(y)
    x_cg = cg_lsrtm(J, y, 1)  # same 3 J/Jᵀ per model
    # Measured: learned 17.74 dB, misfit 0.52; CG 16.61 dB, misfit 0.77.
    assert float(psnr(x_learned, x).mean() - psnr(x_cg, x).mean()) > 0.5
    with torch.no_grad():
        assert float(relative_misfit(J(x_learned), y).mean()) < float(relative_misfit(J(x_cg), y).mean())


def test_lsrtm_loss_is_image_error_plus_weighted_data_misfit(setup):
    J = setup["J"]
    y, x = setup["test"][0][:2], setup["test"][1][:2]
    est = 0.5 * x
    with torch.no_grad():
        expected = 0.25 + 0.3 * float((J(est) - y).pow(2).sum() / y.pow(2).sum())  # ‖x/2 − x‖²/‖x‖² = 1/4
        assert float(lsrtm_loss(J, 0.3)(est, x, y)) == pytest.approx(expected, rel=1e-5)
        assert float(lsrtm_loss()(est, x, y)) == pytest.approx(0.25, rel=1e-6)
    with pytest.raises(ConfigError, match="needs the Born operator"):
        lsrtm_loss(None, 0.3)
    with pytest.raises(ConfigError, match="data_weight must be >= 0"):
        lsrtm_loss(J, -1.0)


def _randomise(net: torch.nn.Module, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=gen, dtype=p.dtype) * (p.abs().mean() + 0.1))


def test_save_load_identical_outputs_and_mismatch(setup, tmp_path):
    J = setup["J"]
    hyper = {"n_layers": 2, "step": setup["step"], "scale": setup["scale"], "features": 8, "seed": 3}
    net = learned_lsrtm(J, **hyper)
    _randomise(net, 0)
    path = save_learned(tmp_path / "lsrtm.pt", net, kind="learned_lsrtm", hyper=hyper,
                        model=setup["model"], geometry=setup["geometry"], velocity=setup["v0"])  # fmt: skip
    y = setup["test"][0][:2]
    with torch.no_grad():
        expected = net(y)
        loaded = load_learned(path)  # operators rebuilt from the file alone
        assert torch.equal(loaded.net(y), expected)
        again = load_learned(path, model=setup["model"], geometry=setup["geometry"], velocity=setup["v0"])
        assert torch.equal(again.net(y), expected)
    model2, geometry2, _ = tiny_problem(torch.float32, shift_receivers=15.0, tn=0.3)
    with pytest.raises(GeometryError, match=r"rec_positions.*nt \(") as info:
        load_learned(path, model=model2, geometry=geometry2)
    assert "wavelets" in str(info.value)
    with pytest.raises(GeometryError, match=r"velocity \(max \|difference\| 50"):
        load_learned(path, model=setup["model"], geometry=setup["geometry"], velocity=setup["v0"] + 50)


def test_taylor_training_loss_through_born_in_unrolled_network():
    model, geometry, v0 = tiny_problem(torch.float64)
    J = BornOperator(model, geometry, v0)
    x = stack_models(random_models(1, SHAPE, SPACING, seed=5), "detail", torch.float64)
    y = J(x)
    step = steepest_descent_step(J, y)
    # Kinks (ReLU, soft threshold) make remainders erratic when h·dθ crosses them, so the test
    # uses SiLU and near-zero thresholds (S_θ(z) = z − θ sign(z) is then smooth to ~θ).
    net = learned_lsrtm(
        J, 2, step=step, scale=float(x.std()), features=4, threshold=1e-12, activation="silu", seed=1
    )
    with torch.no_grad():
        for corr in net.corrections:  # nonzero CNN outputs, so every parameter matters
            corr.body[-1].weight.normal_(0.0, 0.1, generator=torch.Generator().manual_seed(4))
    theta0, unflatten = flat_parameters(net)

    training_loss = lsrtm_loss(J, 0.5)  # image error + data misfit: back-propagates through J again

    def loss(theta):
        return training_loss(functional_call(net, unflatten(theta), (y,)), x, y)

    gen = torch.Generator().manual_seed(2)
    dtheta = torch.randn(theta0.shape, generator=gen, dtype=torch.float64) * (theta0.abs() + 0.05) * 0.05
    result = taylor_test(loss, theta0, dtheta, h0=1.0, n_halvings=8, n_fit=5)
    assert result.passed, result.table()
    assert abs(result.slope1 - 2.0) < 0.1


def test_deq_memory_constant_in_depth(setup):
    J, counter = setup["J"], setup["counter"]
    y, x = setup["test"][0][:2], setup["test"][1][:2]
    lipschitz = 1.0 / setup["step"]  # only scales the step bound here

    # mode="free" (plain convolutions): the spectrally normalised convolutions of the firm
    # mode issue ~10⁶ small ops per run, which the profiler takes minutes to parse.
    def denoiser():
        return ScaledDenoiser(DnCNN(1, 8, 3, mode="free", seed=0), setup["scale"])

    def deq_peak(n):
        deq = deq_lsrtm(J, denoiser(), lipschitz=lipschitz, solver="fixed_point", max_iter=n, tol=1e-30,
                        backward_max_iter=n, backward_tol=1e-30)  # fmt: skip
        deq.backward_solver = "fixed_point"
        return peak_memory(lambda: (deq(y) - x).pow(2).sum().backward(), python_heap=False)[1]

    def unrolled_peak(n):
        net = PnPISTA(J, n, denoiser(), lipschitz=lipschitz)
        return peak_memory(lambda: (net(y) - x).pow(2).sum().backward(), python_heap=False)[1]

    counter.reset()
    small, large = deq_peak(3), deq_peak(9)
    assert counter.born > 2 * (3 + 9)  # the fixed-point solves really ran with the Born operator
    u_small, u_large = unrolled_peak(3), unrolled_peak(9)
    # Torch-allocator peaks (the torch profiler): the DEQ holds one layer's graph whatever the
    # iteration count; the unrolled network holds every layer's activations for backward.
    deq_ratio = large.torch_bytes / small.torch_bytes
    unrolled_ratio = u_large.torch_bytes / u_small.torch_bytes
    assert deq_ratio < 1.05, f"DEQ memory grew {deq_ratio:.3f}x from 3 to 9 iterations"
    assert unrolled_ratio > 1.2, f"unrolled memory grew only {unrolled_ratio:.3f}x from 3 to 9 layers"


def test_learned_migrate_uses_saved_network_on_a_survey(setup, tmp_path):
    from geolearn.imaging.problem import ShotProblem
    from geolearn.learned_inversion.persistence import learned_migrate
    from geolearn.wave import WaveModeling

    model, geometry, v0 = setup["model"], setup["geometry"], setup["v0"]
    hyper = {"n_layers": 2, "step": setup["step"], "scale": setup["scale"], "features": 8, "seed": 3}
    net = learned_lsrtm(setup["J"], **hyper)
    _randomise(net, 2)
    path = save_learned(tmp_path / "m.pt", net, kind="learned_lsrtm", hyper=hyper, model=model,
                        geometry=geometry, velocity=v0)  # fmt: skip
    problem = ShotProblem.create(v0.double().numpy(), SPACING, geometry.src_positions, geometry.rec_positions[0],
                                 record_length=geometry.tn, dt=geometry.dt, f0=14.0, nbl=8, space_order=4)  # fmt: skip
    true_v = v0 + setup["test"][1][0]
    F = WaveModeling(model, geometry)
    with torch.no_grad():
        records = F(true_v)
        expected = net((records - F(v0))[None])[0]
    image = learned_migrate((problem, records.double().numpy()), v0.double().numpy(), path)
    assert image.shape == SHAPE
    torch.testing.assert_close(torch.as_tensor(image, dtype=torch.float32), expected, rtol=1e-4, atol=1e-3)
    with pytest.raises(GeometryError, match="velocity"):
        learned_migrate((problem, records.double().numpy()), v0.double().numpy() + 30.0, path)
