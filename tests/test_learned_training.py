"""Training: learned schemes beat ISTA at equal iterations, stage-wise training, checkpoints/resume,
the sparse-coding generator, the oracle floor, the denoiser trainer, the training figure."""

from __future__ import annotations

import math
import pickle
from pathlib import Path

import matplotlib
import numpy as np
import pytest
import torch
from _learned_helpers import single_thread  # noqa: F401  (autouse fixture)

matplotlib.use("Agg")

from geolearn.errors import ConfigError, ShapeError
from geolearn.learned import DnCNN, Trainer, UnrolledISTA, check_firm_nonexpansive, nmse_db, train_denoiser
from geolearn.learned.sparse import LISTA, make_sparse_coding, oracle_least_squares
from geolearn.solvers import ista
from geolearn.viz.training import plot_training

PROB = make_sparse_coding(25, 50, p=0.1, snr_db=40.0, seed=0)
L = float(torch.linalg.matrix_norm(PROB.A.matrix, ord=2)) ** 2
VAL = PROB.sample(300, 1)
TRAIN = PROB.sample(2000, 2)
K = 6
SEEDS = (0, 1, 2)


def _ista_best_db(n_iter):
    return min(
        nmse_db(ista(PROB.A, VAL[0], lam, max_iter=n_iter, tol=0.0, lipschitz=L).x, VAL[1])
        for lam in (0.05, 0.1, 0.2, 0.3, 0.5, 0.8)
    )


@pytest.mark.parametrize("seed", SEEDS)
def test_short_training_beats_ista_at_equal_iterations(seed):
    ista_db = _ista_best_db(K)
    unrolled = UnrolledISTA(K, lam=0.3, lipschitz=L, step_init=1.0, step_bound=2.0)
    tr = Trainer(unrolled, operator=PROB.A, forward_kwargs={"lipschitz": L}, lr=0.05, batch_size=64,
                 progress=False, seed=seed)  # fmt: skip
    tr.fit(TRAIN, VAL, n_steps=120)
    lista = LISTA(PROB.A, K, lam=0.3, lipschitz=L)
    tl = Trainer(lista, operator=PROB.A, lr=2e-3, batch_size=64, progress=False, seed=seed)
    tl.fit(TRAIN, VAL, n_steps=120)
    u_db, l_db = tr.evaluate(VAL), tl.evaluate(VAL)
    # Seeds 0-4 (mini-batch order; both start from ISTA): unrolled 2.100-2.105 dB and LISTA
    # 3.41-3.61 dB below ISTA's best λ; asserted 1 dB and 2 dB.
    assert u_db < ista_db - 1.0, (u_db, ista_db)
    assert l_db < ista_db - 2.0, (l_db, ista_db)
    assert tl.history.val_nmse_db[-1] == pytest.approx(l_db)
    assert all(t <= 2 * (1 + 1e-6) for t in unrolled.steps.tolist())


@pytest.mark.parametrize("seed", SEEDS)
def test_custom_loss_sees_the_data_and_is_what_training_minimises(seed):
    seen = []

    def data_residual(estimate, target, y):  # self-supervised: no use of the target
        seen.append(y.shape)
        return (PROB.A(estimate) - y).pow(2).mean()

    net = UnrolledISTA(3, lam=0.3, lipschitz=L, step_init=0.2, step_bound=2.0)
    y = VAL[0]
    with torch.no_grad():
        before = float(data_residual(net(y, PROB.A), None, y))
    Trainer(net, operator=PROB.A, lr=0.05, batch_size=32, progress=False, loss=data_residual, seed=seed).fit(
        TRAIN, n_steps=40
    )
    with torch.no_grad():
        after = float(data_residual(net(y, PROB.A), None, y))
    assert seen[1] == (32, *PROB.A.range_shape)
    assert after < 0.5 * before, (before, after)  # seeds 0-4: after/before 0.173-0.179
    with pytest.raises(ConfigError, match="loss must be callable"):
        Trainer(net, loss="mse")


@pytest.mark.parametrize("seed", SEEDS)
def test_stagewise_training_runs_every_stage_and_improves(seed):
    net = LISTA(PROB.A, 3, lam=0.3, lipschitz=L, coupled=True)
    tr = Trainer(net, operator=PROB.A, lr=2e-3, batch_size=32, progress=False, seed=seed, val_every=10)
    before = tr.evaluate(VAL)
    hist = tr.fit_stagewise(TRAIN, VAL, steps_per_stage=10, refine_lr_factors=(0.2,))
    assert sorted(set(hist.stages)) == list(range(1, 7))
    assert len(hist.steps) == 60 and hist.steps[-1] == 60
    # Seeds 0-4: 0.549-0.571 dB better than the ISTA start; asserted 0.4 dB.
    assert tr.evaluate(VAL) < before - 0.4


def test_gradient_clipping_bounds_the_update():
    moved = {}
    for clip in (None, 1e-9):
        net = UnrolledISTA(2, lam=0.3, lipschitz=L)
        before = net.raw_step.detach().clone()
        Trainer(
            net,
            operator=PROB.A,
            lr=0.01,
            batch_size=8,
            progress=False,
            seed=0,
            clip_norm=clip,
            schedule="step",
        ).fit(TRAIN, n_steps=1)
        moved[clip] = float((net.raw_step.detach() - before).abs().max())
    assert moved[None] == pytest.approx(0.01, rel=1e-3)  # Adam's first step has size lr
    # clipped to norm 1e-9, Adam's eps (1e-8) dominates: the step shrinks to at most lr·1e-9/(1e-9 + 1e-8)
    assert moved[1e-9] < 0.1 * moved[None]


def test_checkpoint_resume_reproduces_an_uninterrupted_run(tmp_path):
    def make():
        return UnrolledISTA(3, lam=0.3, lipschitz=L)

    ref = make()
    Trainer(ref, operator=PROB.A, lr=0.02, batch_size=16, progress=False, seed=3).fit(TRAIN, n_steps=20)

    calls = {"n": 0}

    def crashing(n, gen):
        calls["n"] += 1
        if calls["n"] == 16:
            raise KeyboardInterrupt("simulated crash")
        idx = torch.randint(len(TRAIN[0]), (n,), generator=gen)
        return TRAIN[0][idx], TRAIN[1][idx]

    path = tmp_path / "ckpt" / "run.pt"
    first = make()
    with pytest.raises(KeyboardInterrupt):
        Trainer(
            first, operator=PROB.A, lr=0.02, batch_size=16, progress=False, seed=3, checkpoint_path=path,
            checkpoint_every=10,
        ).fit(crashing, n_steps=20)  # fmt: skip
    assert path.exists() and not list(path.parent.glob(".*tmp"))
    resumed = make()
    tr = Trainer(
        resumed, operator=PROB.A, lr=0.02, batch_size=16, progress=False, seed=3, checkpoint_path=path,
        checkpoint_every=10,
    )  # fmt: skip
    tr.fit(TRAIN, n_steps=20)
    assert tr.step_count == 20 and len(tr.history.train_loss) == 20
    for a, b in zip(ref.parameters(), resumed.parameters()):
        assert torch.equal(a, b)


def test_a_resumed_call_with_its_own_rate_steps_at_that_rate(tmp_path):
    """Extending a checkpointed run call by call with a lower lr (no schedule) uses the new lr, as a
    fresh optimiser with the resumed Adam moments would; without lr it keeps the checkpoint's."""
    path = tmp_path / "run.pt"

    def trainer(net):
        return Trainer(net, operator=PROB.A, lr=0.02, batch_size=16, progress=False, seed=3,
                       checkpoint_path=path, checkpoint_every=5)  # fmt: skip

    net = UnrolledISTA(3, lam=0.3, lipschitz=L)
    tr = trainer(net)
    tr.fit(TRAIN, n_steps=5)
    tr.fit(TRAIN, n_steps=10, lr=np.float64(0.002))  # a NumPy rate: the checkpoint must still load as data
    state = torch.load(path, weights_only=True)
    assert [g["lr"] for g in state["optimizer"]["param_groups"]] == [0.002]
    tr.fit(TRAIN, n_steps=15)
    state = torch.load(path, weights_only=True)
    assert [g["lr"] for g in state["optimizer"]["param_groups"]] == [0.002]
    assert tr.step_count == 15


def test_batches_with_their_own_operator_average_to_one_batch_step():
    """A step over two half batches, each carrying the operator, is the step over the whole batch."""

    def halves(n, gen):
        idx = torch.randint(len(TRAIN[0]), (n,), generator=gen)
        return [(TRAIN[0][part], TRAIN[1][part], PROB.A) for part in (idx[: n // 2], idx[n // 2 :])]

    def model_mse(model, y, A, x):  # the default loss, run through model_loss
        return torch.nn.functional.mse_loss(model(y, A), x)

    ref = UnrolledISTA(3, lam=0.3, lipschitz=L)
    expected = Trainer(ref, operator=PROB.A, lr=0.02, batch_size=16, progress=False, seed=3).fit(
        TRAIN, n_steps=8
    )
    for loss in ({}, {"model_loss": model_mse}):  # no operator on the trainer: each batch brings its own
        net = UnrolledISTA(3, lam=0.3, lipschitz=L)
        history = Trainer(net, lr=0.02, batch_size=16, progress=False, seed=3, **loss).fit(halves, n_steps=8)
        # Not bitwise: the loss of two float32 half means (measured: 2.1e-7 relative; weights equal).
        torch.testing.assert_close(history.train_loss, expected.train_loss, rtol=1e-5, atol=0)
        for a, b in zip(ref.parameters(), net.parameters()):
            torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-7)
    with pytest.raises(ConfigError, match="replaces loss and forward_kwargs"):
        Trainer(net, model_loss=model_mse, loss=lambda e, x, y: (e - x).abs().mean())
    with pytest.raises(ConfigError, match="n_layers=2 cannot be forwarded through model_loss"):
        Trainer(net, model_loss=model_mse, progress=False).fit(halves, n_steps=1, n_layers=2)
    with pytest.raises(ConfigError, match="settings must hold JSON values"):
        Trainer(net, settings={"operator": PROB.A})


def test_a_checkpoint_of_other_settings_or_another_model_is_refused_untouched(tmp_path):
    path = tmp_path / "run.pt"
    net = UnrolledISTA(2, lam=0.3, lipschitz=L)
    Trainer(
        net, operator=PROB.A, batch_size=8, progress=False, checkpoint_path=path, settings={"lr": 0.02}
    ).fit(TRAIN, n_steps=2)
    fresh = UnrolledISTA(2, lam=0.3, lipschitz=L)
    before = [p.detach().clone() for p in fresh.parameters()]
    with pytest.raises(ConfigError, match=r"other settings \(lr: 0.02 there, 0.05 now\)"):
        Trainer(fresh, operator=PROB.A, progress=False, checkpoint_path=path, settings={"lr": 0.05}).fit(
            TRAIN, n_steps=2
        )
    with pytest.raises(ConfigError, match=r"other settings \(lr: 0.02 there, None now\)"):
        Trainer(fresh, operator=PROB.A, progress=False).load_checkpoint(path)
    assert all(torch.equal(a, b) for a, b in zip(before, fresh.parameters()))
    with pytest.raises(ConfigError, match="holds another model"):
        Trainer(UnrolledISTA(3, lam=0.3, lipschitz=L), progress=False, settings={"lr": 0.02}).load_checkpoint(
            path
        )


def test_checkpoints_load_as_data_and_a_file_that_would_run_code_is_refused(tmp_path):
    net = UnrolledISTA(2, lam=0.3, lipschitz=L)
    tr = Trainer(net, operator=PROB.A, lr=0.02, batch_size=8, progress=False, schedule="step",
                 checkpoint_path=tmp_path / "ok.pt", checkpoint_every=2)  # fmt: skip
    tr.fit(TRAIN, n_steps=3)
    state = torch.load(tmp_path / "ok.pt", weights_only=True)  # tensors, numbers, lists and dicts only
    assert state["step_count"] == 3 and state["scheduler"]["milestones"]
    evil = tmp_path / "evil.pt"
    torch.save({**state, "payload": _RunsCode(tmp_path / "ran")}, evil)
    with pytest.raises(pickle.UnpicklingError):
        Trainer(net, operator=PROB.A, progress=False).load_checkpoint(evil)
    assert not (tmp_path / "ran").exists()


class _RunsCode:
    """An object whose unpickling would run code (creates a file): what weights_only refuses."""

    def __init__(self, target: Path):
        self.target = target

    def __reduce__(self):
        return (Path.touch, (self.target,))


def test_sparse_coding_generator_is_seeded_and_has_the_requested_statistics():
    prob = make_sparse_coding(40, 80, p=0.1, snr_db=20.0, seed=5, dtype=torch.float64)
    torch.testing.assert_close(prob.A.matrix.norm(dim=0), torch.ones(80, dtype=torch.float64))
    y1, x1 = prob.sample(4000, 9)
    y2, x2 = prob.sample(4000, torch.Generator().manual_seed(9))
    assert torch.equal(y1, y2) and torch.equal(x1, x2)
    assert abs(float((x1 != 0).double().mean()) - 0.1) < 0.005
    clean = prob.A(x1)
    keep = clean.norm(dim=1) > 0
    snr = 20 * torch.log10(clean[keep].norm(dim=1) / (y1 - clean)[keep].norm(dim=1))
    torch.testing.assert_close(snr, torch.full_like(snr, 20.0), rtol=0, atol=1e-9)
    y3, _ = make_sparse_coding(40, 80, snr_db=None, seed=5).sample(3, 0)
    assert y3.dtype == torch.float32
    with pytest.raises(ConfigError, match="p must lie"):
        make_sparse_coding(10, 20, p=1.5)


def test_oracle_floor_is_below_ista_and_nmse_checks():
    floor = nmse_db(oracle_least_squares(PROB.A.matrix, VAL[0], VAL[1]), VAL[1])
    assert floor < _ista_best_db(200) - 10
    assert -50 < floor < -35  # 40 dB SNR, about 5 nonzeros from 25 measurements
    assert nmse_db(torch.zeros(3, 2), torch.ones(3, 2)) == pytest.approx(0.0)
    assert nmse_db(0.1 * torch.ones(3, 2), torch.ones(3, 2)) == pytest.approx(10 * math.log10(0.81))
    with pytest.raises(ShapeError):
        nmse_db(torch.zeros(3), torch.zeros(4))
    with pytest.raises(ConfigError, match="schedule"):
        Trainer(UnrolledISTA(1, lam=0.3, lipschitz=L), schedule="linear")


def _layered_images(n, size, seed):
    """Piecewise-constant depth profiles (layered media) with random dips."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.arange(size, dtype=torch.float64)
    out = torch.zeros(n, size, size, dtype=torch.float64)
    for i in range(n):
        for _ in range(4):
            depth = float(torch.rand(1, generator=gen)) * size
            dip = float(torch.randn(1, generator=gen)) * 0.2
            amp = float(torch.randn(1, generator=gen))
            out[i] += amp * (x[None, :] > depth + dip * (x[:, None] - size / 2))
    return out


@pytest.mark.parametrize("seed", SEEDS)
def test_denoiser_trains_from_scratch_and_stays_firmly_nonexpansive(seed):
    clean = _layered_images(24, 32, seed=0)
    val = _layered_images(8, 32, seed=1)
    sigma = 0.5
    gen = torch.Generator().manual_seed(2)
    noisy_db = nmse_db(val + sigma * torch.randn(val.shape, generator=gen, dtype=torch.float64), val)
    den = DnCNN(features=12, depth=4, mode="firm", seed=seed).double()
    hist = train_denoiser(
        den,
        clean,
        noise_std=sigma,
        patch_size=24,
        batch_size=8,
        n_steps=120,
        lr=1e-2,
        progress=False,
        val_images=val,
        seed=seed,
    )
    den.eval()
    # Seeds 0-4 (weights and patches): 2.09-2.32 dB below the noisy input; asserted 1.5 dB.
    assert hist.val_nmse_db[-1] < noisy_db - 1.5, (hist.val_nmse_db[-1], noisy_db)
    assert check_firm_nonexpansive(den, val).firmly_nonexpansive
    fig = plot_training(hist, reference_db={"noisy input": noisy_db}, smooth=5)
    ax_loss, ax_val = fig.axes
    assert list(ax_val.lines[0].get_ydata()) == hist.val_nmse_db
    assert len(ax_loss.lines[0].get_xdata()) == len(hist.train_loss) - 4
    assert ax_val.lines[1].get_ydata()[0] == pytest.approx(noisy_db)
    with pytest.raises(ShapeError, match="patch_size"):
        train_denoiser(den, clean[:, :10, :10], patch_size=24, progress=False)
