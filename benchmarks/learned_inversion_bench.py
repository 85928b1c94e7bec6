"""Learned inversion with the Born operator inside: quality per J/Jᵀ cost, and training memory/time vs depth.

Part (a): learned LSRTM (unrolled ISTA on the Devito Born operator ``J`` with a CNN correction per
layer, trained on random layered/faulted/lens models from ``learned_inversion.training_models``) vs CG-LSRTM,
PSNR / SSIM against the true perturbation per number of J/Jᵀ applications per model (counted by the
operator itself, ``J.applications``), on held-back generator models and on Marmousi crops block-averaged to the same
grid (never seen in training; target = the crop's detail, i.e. velocity minus its Gaussian smoothing,
placed on the training grid), with FISTA-LSRTM (``½‖Jx − y‖² + λ‖x‖₁``, step ``1/L``) at the same
counts and the relative data misfit ``‖J x − y‖ / ‖y‖`` of every image. Learned LSRTM is trained on
``‖x̂ − x‖²/‖x‖² + 0.3 ‖J x̂ − y‖²/‖y‖²`` (``lsrtm_loss``), so its images also explain the data.

Part (a'): learned FWI (``learned_inversion.fwi``, 3 layers, greedy-trained on generator models with
varied backgrounds and water layers, from mixed starts: background or smoothed truth, see FWI_MODELS)
vs normalised gradient descent (``gd_fwi``) and projected L-BFGS FWI at equal numbers of
adjoint-state gradients, on held-back generator models and Marmousi crops: model PSNR / SSIM,
``‖F(v) − d‖ / ‖d‖``, and the honest cost: gradients, wave-equation solves per model measured with
the cost ledger (``geolearn.ledger.count_solves``; ``GradientDescentRun.solves`` for GD), and the
forward modellings they imply beyond the gradients' 2 solves per shot (line-search trials; the
learned scheme's safeguard: the line search it compares every layer with, and a forward modelling
checking each learned proposal).

Part (b): one training step (forward + backward of the image MSE) of the same PnP-ISTA iteration
map with K ∈ {2, 4, 8} layers/iterations, three ways: unrolled backprop, unrolled with
``torch.utils.checkpoint`` per layer (activations recomputed in backward, so extra J/Jᵀ), and a DEQ
(K fixed-point iterations forward, K implicit-backward iterations). Peak torch-allocator memory from
``metrics.peak_memory`` (torch profiler), wall time, and J/Jᵀ applications per step.

Grid 40 × 24 at 10 m, 2 shots, 20 receivers, nt ≈ 109, space order 4, float32, one torch thread.

Usage: OMP_NUM_THREADS=1 python benchmarks/learned_inversion_bench.py [--quick] [--data-dir DIR] [--out PATH]
Prints tables and writes JSON (default benchmarks/results/learned_inversion_bench.json) and the figure next to
it (.png); ``--from-json PATH`` only redraws the figure of a saved run.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import subprocess
import sys
import time
import warnings
from functools import partial
from pathlib import Path

os.environ.setdefault("DEVITO_LANGUAGE", "openmp")
os.environ.setdefault("DEVITO_LOGGING", "WARNING")

import numpy as np
import torch
from _memory import peak_rss_increase
from torch.utils.checkpoint import checkpoint

from geolearn import ledger
from geolearn.io import marmousi_crop
from geolearn.learned import DnCNN, PnPISTA, cauchy_steps
from geolearn.learned_inversion.fwi import NOISE_FREE, LearnedFWI, fwi_training_loss, train_learned_fwi
from geolearn.learned_inversion.fwi_baseline import gd_fwi
from geolearn.learned_inversion.fwi_safeguard import safeguarded_fwi
from geolearn.learned_inversion.lsrtm import (
    born_lipschitz_bound,
    cg_lsrtm,
    learned_lsrtm,
    lsrtm_pairs,
    train_learned_lsrtm,
)
from geolearn.learned_inversion.metrics import peak_memory, psnr, relative_misfit, ssim
from geolearn.learned_inversion.pnp import ScaledDenoiser, deq_lsrtm, pnp_fista_lsrtm
from geolearn.learned_inversion.training_models.generator import (
    linear_background,
    random_models,
    smooth_velocity,
    stack_models,
    starting_models,
)
from geolearn.operators import LinearOperator
from geolearn.solvers import ProjectedLBFGS, soft_threshold
from geolearn.viz.convergence import plot_convergence, save_figure
from geolearn.wave import BornOperator, Geometry, Model, WaveModeling, fwi_objective

SHAPE, SPACING = (40, 24), (10.0, 10.0)
VMAX = 3000.0
FWI_VMAX = 4500.0  # Marmousi crops reach 3550 m/s; learned FWI moves a start by up to 600 m/s
MAX_DEPTH = (SHAPE[1] - 1) * SPACING[1]  # deepest knot of learned FWI's depth preconditioner, m
MARMOUSI_X0 = (3000.0, 5400.0, 7800.0, 9600.0)  # left edges of the Marmousi crops, m
LSRTM_DATA_WEIGHT = 0.3  # weight of ‖Jx̂ − y‖²/‖y‖² in the learned-LSRTM loss (0: image error only)
# Learned-FWI training and held-back models: per-model backgrounds from 1500 to ~4100 m/s, water
# layers up to 40 m, and starts that are either the background or the smoothed truth.
FWI_MODELS = {
    "v_top": (1500.0, 2200.0),
    "gradient": (0.0, 6.0),
    "contrast": (150.0, 450.0),
    "water_depth_m": (0.0, 40.0),
}


def born_problem() -> BornOperator:
    """Born operator (it counts its applications) on the 40 × 24 grid with a linear background and 2 surface shots."""
    v0 = linear_background(SHAPE, SPACING)
    model = Model(v0, SPACING, nbl=8, space_order=4)
    src = np.array([[100.0, 10.0], [290.0, 10.0]])
    rec = np.stack([np.linspace(0.0, 390.0, 20), np.full(20, 10.0)], 1)
    geometry = Geometry(model, src, rec, tn=0.25, f0=14.0, dt=0.8 * model.critical_dt(VMAX))
    return BornOperator(model, geometry, torch.as_tensor(v0, dtype=torch.float32))


def marmousi_details(n: int, data_dir: str | None) -> torch.Tensor:
    """``n`` Marmousi crops (60 m cells) placed on the 10 m training grid; their detail fields, m/s."""
    out = []
    for x0 in MARMOUSI_X0[:n]:
        v, _ = marmousi_crop(x0, SHAPE[0], SHAPE[1], 8, data_dir=data_dir)
        out.append(v - smooth_velocity(v, 2.0 * SPACING[0], SPACING))
    return torch.as_tensor(np.stack(out), dtype=torch.float32)


def scores(est: torch.Tensor, ref: torch.Tensor) -> dict[str, float]:
    return {"psnr_db": float(psnr(est, ref).mean()), "ssim": float(ssim(est, ref).mean())}


def mean_misfit(pred: torch.Tensor, obs: torch.Tensor) -> float:
    """Mean over models of ``‖pred − obs‖ / ‖obs‖`` (records ``(B, ...)``)."""
    return float(relative_misfit(pred, obs).mean())


def applied(J: LinearOperator, fn, *args, **kwargs):
    """``(fn(*args, **kwargs), J/Jᵀ applications it made)``, read from the operator's own count."""
    before = sum(J.applications.values())
    out = fn(*args, **kwargs)
    return out, sum(J.applications.values()) - before


def lsrtm_row(method: str, name: str, J: LinearOperator, applications: int, est, x, y) -> dict:
    """Scores of one LSRTM estimate that cost ``applications`` J/Jᵀ (the misfit's J is not counted)."""
    cost = applications / len(y)
    with torch.no_grad():
        misfit = mean_misfit(J(est), y)
    return {"method": method, "set": name, "cost": cost, "misfit": misfit} | scores(est, x)


def quality_vs_cost(J: LinearOperator, args: argparse.Namespace) -> list[dict]:
    n_train, n_test, n_marm, n_steps, depths, cg_iters = (
        (24, 6, 3, 40, (2, 3, 4), (1, 2, 3, 4))
        if args.quick
        else (48, 8, 4, 120, (2, 3, 4, 6), (1, 2, 3, 4, 5, 6))
    )
    x_all = stack_models(random_models(n_train + n_test, SHAPE, SPACING, seed=1), "detail")
    y_all, x_all = lsrtm_pairs(J, x_all)
    train = (y_all[:n_train], x_all[:n_train])
    sets = {"generator": (y_all[n_train:], x_all[n_train:])}
    sets["marmousi"] = lsrtm_pairs(J, marmousi_details(n_marm, args.data_dir))
    scale = float(train[1].std())
    rows = []
    for n_iter in cg_iters:
        for name, (y, x) in sets.items():
            est, apps = applied(J, cg_lsrtm, J, y, n_iter)
            rows.append(lsrtm_row(f"CG ({n_iter} it)", name, J, apps, est, x, y))
    # FISTA on ½‖Jx − y‖² + λ‖x‖₁ with γ = 1/L: K iterations cost 2K − 1 applications, as learned K.
    # L (power iteration, 16 applications) is a one-off per acquisition, not counted per model.
    lipschitz = born_lipschitz_bound(J)
    l1 = partial(soft_threshold, threshold=0.01 * scale)  # prox of γλ‖·‖₁: γλ = 1 % of the image std
    for K in depths:
        for name, (y, x) in sets.items():
            est, apps = applied(J, pnp_fista_lsrtm, J, y, l1, K, lipschitz=lipschitz)
            rows.append(lsrtm_row(f"FISTA ({K} it)", name, J, apps, est, x, y))
    for K in depths:
        net = learned_lsrtm(K, scale=scale)
        t0 = time.perf_counter()
        _, train_apps = applied(J, train_learned_lsrtm, net, J, train, data_weight=LSRTM_DATA_WEIGHT,
                                n_steps=n_steps, lr=1e-2, batch_size=4, progress=False)  # fmt: skip
        train_s = time.perf_counter() - t0
        for name, (y, x) in sets.items():
            with torch.no_grad():
                est, apps = applied(J, net, y, J)
            rows.append(
                lsrtm_row(f"learned K={K}", name, J, apps, est, x, y)
                | {"train_s": train_s, "train_applications": train_apps}
            )
    return rows


def fwi_problem() -> tuple[Model, Geometry]:
    """The Born problem's grid and acquisition, with a time step stable up to FWI_VMAX (Marmousi)."""
    model = Model(linear_background(SHAPE, SPACING), SPACING, nbl=8, space_order=4)
    src = np.array([[100.0, 10.0], [290.0, 10.0]])
    rec = np.stack([np.linspace(0.0, 390.0, 20), np.full(20, 10.0)], 1)
    return model, Geometry(model, src, rec, tn=0.25, f0=14.0, dt=0.8 * model.critical_dt(FWI_VMAX))


def lbfgs_fwi(
    v0: torch.Tensor,
    geometry: Geometry,
    observed: torch.Tensor,
    n_gradients: int,
    *,
    step: float = 50.0,
    max_update: float = 200.0,
    max_trials: int = 6,
) -> torch.Tensor:
    """Classical L-BFGS FWI (:class:`ProjectedLBFGS`, bounds [1400, FWI_VMAX] m/s), per model.

    ``n_gradients`` adjoint-state gradients; each line-search trial is one forward modelling
    (1 solve per shot in the cost ledger). First step: largest change ``step`` m/s; later ones unit quasi-Newton steps,
    capped at ``max_update`` m/s, halved until Armijo holds.
    """
    F = WaveModeling(geometry.model, geometry)
    out = []
    for b in range(v0.shape[0]):
        opt = ProjectedLBFGS(1400.0, FWI_VMAX, memory=5)
        x, d, prev = v0[b].double().numpy(), observed[b], None
        for _ in range(n_gradients):
            f, g = fwi_objective(torch.as_tensor(x, dtype=v0.dtype), geometry, d)
            f, g = float(f), g.double().numpy()
            if prev is not None:
                opt.update(x - prev[0], g - prev[1])
            p = opt.direction(x, g, np.ones_like(x))
            pmax = float(np.abs(p).max())
            alpha = min(1.0, max_update / pmax) if opt.s else step / pmax
            for _ in range(max_trials):
                trial = opt.project(x + alpha * p)
                with torch.no_grad():
                    ft = 0.5 * float((F(torch.as_tensor(trial, dtype=v0.dtype)) - d).double().pow(2).sum())
                if opt.accept(f, g, x, ft, trial):
                    prev, x = (x, g), trial
                    break
                alpha /= 2
        out.append(torch.as_tensor(x, dtype=v0.dtype))
    return torch.stack(out)


def fwi_vs_cost(args: argparse.Namespace) -> list[dict]:
    """Learned FWI (greedy-trained on generator models) vs GD and L-BFGS FWI per gradient count."""
    n_train, n_test, n_marm, K, steps = (48, 16, 3, 3, 150) if args.quick else (96, 16, 3, 3, 300)
    model, geometry = fwi_problem()
    F = WaveModeling(model, geometry)

    def records(v: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return torch.stack([F(m) for m in v])

    models = random_models(n_train + n_test, SHAPE, SPACING, seed=11, **FWI_MODELS)
    v_true = stack_models(models, "velocity")
    v_start = starting_models(models, seed=3)
    obs = records(v_true)
    marm = [
        marmousi_crop(x0, SHAPE[0], SHAPE[1], 8, data_dir=args.data_dir)[0] for x0 in MARMOUSI_X0[:n_marm]
    ]
    vm_true = torch.as_tensor(np.stack(marm), dtype=torch.float32)
    # Start: the crop smoothed over 40 m.
    vm_start = torch.as_tensor(
        np.stack([smooth_velocity(v, 40.0, SPACING) for v in marm]), dtype=torch.float32
    )
    sets = {
        "generator": (v_start[n_train:], v_true[n_train:], obs[n_train:]),
        "marmousi": (vm_start, vm_true, records(vm_true)),
    }
    scale = (float(v_true[:n_train].mean()), float(v_true[:n_train].std()))
    net = LearnedFWI(K, max_depth=MAX_DEPTH, max_update=200.0, features=8, v_scale=scale, seed=0)
    t0 = time.perf_counter()
    hist = train_learned_fwi(net, geometry, v_start[:n_train], obs[:n_train], v_true[:n_train],
                             steps_per_layer=steps, lr=1e-2, batch_size=8, progress=False)  # fmt: skip
    train_s = time.perf_counter() - t0

    ns = geometry.n_shots

    def row(method: str, name: str, est: torch.Tensor, v: torch.Tensor, d: torch.Tensor, gradients: int = 0,
            solves: float = 0.0) -> dict:  # fmt: skip
        """Scores and cost per model; forwards = the solves beyond the gradients' 2 per shot, per shot."""
        n = len(v)
        cost = {
            "gradients": gradients / n,
            "forwards": (solves - 2 * ns * gradients) / ns / n,
            "solves": solves / n,
        }
        return (
            {"method": method, "set": name} | cost | {"misfit": mean_misfit(records(est), d)} | scores(est, v)
        )

    rows = []
    for name, (v0, v, d) in sets.items():
        n = len(v)
        rows.append(row("start", name, v0, v, d))
        with torch.no_grad():  # every layer checked against GD's line-searched step
            run = safeguarded_fwi(net, v0, d, geometry, safeguard=NOISE_FREE)
        rows.append(  # K gradients per model: each proposal is checked by a forward modelling
            row(f"learned K={K}", name, run.velocity, v, d, K * n, run.solves)
            | {
                "train_s": train_s,
                "train_gradients": hist["gradients"],
                "train_solves": hist["solves"],
                "accepted": float(run.accepted.float().mean()),
            }
        )
        for n_grad in (K, 2 * K):
            gd = gd_fwi(v0, geometry, d, n_grad)
            rows.append(row(f"GD ({n_grad} grad)", name, gd.velocity, v, d, gd.gradients, gd.solves))
            with ledger.count_solves() as cost:
                est = lbfgs_fwi(v0, geometry, d, n_grad)
            rows.append(row(f"L-BFGS ({n_grad} grad)", name, est, v, d, n_grad * n, cost.solves))
    return rows


def gradient_memory_child(memory: str) -> None:
    """Print the peak RSS growth of one adjoint-state gradient of the FWI problem (run in a fresh process)."""
    model, geometry = fwi_problem()
    v = torch.as_tensor(stack_models(random_models(1, SHAPE, SPACING, seed=5), "velocity")[0])
    short = Geometry(
        model, geometry.src_positions, geometry.rec_positions[0], tn=0.05, f0=14.0, dt=geometry.dt
    )
    fwi_objective(v, short, torch.zeros(short.record_shape), memory=memory)  # compile; smaller than measured
    obs = torch.zeros(geometry.record_shape)
    print(
        json.dumps(
            {
                "memory": memory,
                "extra_bytes": peak_rss_increase(lambda: fwi_objective(v, geometry, obs, memory=memory)),
            }
        )
    )


def fwi_memory_plan(n_train: int, batch_size: int) -> dict:
    """Measure learned FWI's memory plan: what each stage holds (see ``learned_inversion.fwi``)."""
    model, geometry = fwi_problem()
    models = random_models(n_train, SHAPE, SPACING, seed=11, **FWI_MODELS)
    v_true = stack_models(models, "velocity")
    F = WaveModeling(model, geometry)
    with torch.no_grad():
        obs = torch.stack([F(m) for m in v_true[:batch_size]])
    net = LearnedFWI(3, max_depth=MAX_DEPTH, max_update=200.0, features=8, seed=0)
    v0 = starting_models(models, seed=3)
    # (1) stored per layer: (v_k, g_k, μ_k) of every training model, measured on the real tensors.
    hist = train_learned_fwi(
        net, geometry, v0[:batch_size], obs, v_true[:batch_size], steps_per_layer=1, progress=False
    )
    per_model = hist["cache_bytes"][0] / batch_size
    # (2) back-propagation: one Adam step's loss.backward() on a cached mini-batch (no wave solve).
    g, mu = net.gradients(v0[:batch_size], obs, geometry)

    def cnn_step() -> None:
        net.zero_grad()
        fwi_training_loss(net, geometry, 0, v0[:batch_size], g, mu, v_true[:batch_size]).backward()

    cnn_step()
    _, peak = peak_memory(cnn_step, python_heap=False)
    # (3) inside a gradient call: the forward wavefield of one shot, stored or checkpointed.
    rss = {}
    for memory in ("full", "checkpoint"):
        out = subprocess.run([sys.executable, __file__, "--gradient-memory-child", memory],
                             check=True, capture_output=True, text=True)  # fmt: skip
        rss[memory] = json.loads(out.stdout.strip().splitlines()[-1])["extra_bytes"]
    cells = int(np.prod(model.padded_shape))
    return {
        "n_train": n_train,
        "cache_bytes_per_model": per_model,
        "cache_bytes_per_layer": per_model * n_train,
        "cnn_step_torch_peak_bytes": peak.torch_bytes,
        "batch_size": batch_size,
        "gradient_rss_bytes": rss,
        "wavefield_bytes_per_shot": geometry.nt * cells * 4,
        "nt": geometry.nt,
        "padded_cells": cells,
    }


class CheckpointedUnroll(torch.nn.Module):
    """Run an IterationMap's layers under ``torch.utils.checkpoint``: one layer's input kept per layer."""

    def __init__(self, net: PnPISTA) -> None:
        super().__init__()
        self.net = net

    def forward(self, y: torch.Tensor, A: LinearOperator, lipschitz: float | None = None) -> torch.Tensor:
        physics = self.net.physics(y, A, lipschitz=lipschitz)  # the call's operator and step unit
        state = self.net.init_state(y, physics)
        for k in range(self.net.n_layers):
            state = checkpoint(self.net.step, state, y, physics, k, use_reentrant=False)
        return self.net.output(state)


def memory_vs_depth(J: LinearOperator, args: argparse.Namespace) -> list[dict]:
    batch = 2 if args.quick else 4
    x = stack_models(random_models(batch, SHAPE, SPACING, seed=7), "detail")
    y, x = lsrtm_pairs(J, x)
    scale = float(x.std())
    lipschitz = 1.0 / float(cauchy_steps(J, y)[0].mean())  # only sets the step bound of the map

    def denoiser() -> ScaledDenoiser:
        # mode="free": plain convolutions; the spectrally normalised "firm" mode issues so many
        # small ops that the profiler takes minutes to parse them.
        return ScaledDenoiser(DnCNN(1, 8, 3, mode="free", seed=0), scale)

    def build(method: str, K: int) -> torch.nn.Module:
        if method == "deq":
            deq = deq_lsrtm(
                denoiser(),
                solver="fixed_point",
                max_iter=K,
                tol=1e-30,
                backward_max_iter=K,
                backward_tol=1e-30,
            )
            deq.backward_solver = "fixed_point"
            return deq
        net = PnPISTA(K, denoiser())
        return net if method == "unrolled" else CheckpointedUnroll(net)

    rows = []
    for K in (2, 4, 8):
        for method in ("unrolled", "checkpoint", "deq"):
            net = build(method, K)

            def train_step(net: torch.nn.Module = net) -> None:
                net.zero_grad()
                (net(y, J, lipschitz=lipschitz) - x).pow(2).mean().backward()

            train_step()  # warm-up: Devito compiles its kernels on first use
            t0 = time.perf_counter()
            _, apps = applied(J, train_step)
            seconds = time.perf_counter() - t0
            _, peak = peak_memory(train_step, python_heap=False)
            rows.append(
                {
                    "K": K,
                    "method": method,
                    "batch": batch,
                    "step_s": seconds,
                    "applications": apps,
                    "torch_peak_bytes": peak.torch_bytes,
                }
            )
    return rows


SET_TITLES = {"generator": "held-back generator models", "marmousi": "Marmousi crops (unseen)"}


def _curves(rows: list[dict], x_key: str, y_key: str, label) -> tuple[dict, dict]:
    """Group rows into curves ``{label: ys}`` and ``{label: xs}`` sorted by ``x_key``."""
    ys: dict[str, list[float]] = {}
    xs: dict[str, list[float]] = {}
    for r in sorted(rows, key=lambda r: r[x_key]):
        name = label(r)
        ys.setdefault(name, []).append(r[y_key])
        xs.setdefault(name, []).append(r[x_key])
    return ys, xs


def plot_results(result: dict):
    """Quality vs cost (LSRTM, FWI) and training memory vs depth, 2 × 3 panels."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(15, 8), constrained_layout=True)
    lsrtm = result["quality_vs_cost"]
    family = lambda r: r["method"].split(" ")[0]  # noqa: E731  "CG (2 it)" -> "CG"
    for ax, name in zip(axes[0, :2], ("generator", "marmousi")):
        ys, xs = _curves([r for r in lsrtm if r["set"] == name], "cost", "psnr_db", family)
        plot_convergence(ys, x=xs, logy=False, xlabel="J/Jᵀ applications per model", ylabel="PSNR (dB)",
                         title=f"LSRTM, {SET_TITLES[name]}", ax=ax)  # fmt: skip
    ys, xs = _curves(lsrtm, "cost", "misfit", lambda r: f"{family(r)}, {r['set']}")
    plot_convergence(ys, x=xs, logy=False, xlabel="J/Jᵀ applications per model", ylabel="‖Jx − y‖ / ‖y‖",
                     title="LSRTM data misfit", ax=axes[0, 2])  # fmt: skip
    fwi = result["fwi_vs_cost"]
    for ax, name in zip(axes[1, :2], ("generator", "marmousi")):
        rows = [r for r in fwi if r["set"] == name]
        start = next(r for r in rows if r["method"] == "start")
        ys: dict[str, list[float]] = {}
        xs: dict[str, list[float]] = {}
        for r in sorted(rows, key=lambda r: r["solves"]):
            if r["method"] == "start":
                continue
            key = r["method"].split(" (")[0].split(" K=")[0]
            ys.setdefault(key, [start["psnr_db"]]).append(r["psnr_db"])
            xs.setdefault(key, [0.0]).append(r["solves"])
        plot_convergence(ys, x=xs, logy=False, xlabel="wave-equation solves per model", ylabel="PSNR (dB)",
                         title=f"FWI, {SET_TITLES[name]} (3 and 6 gradients)", ax=ax)  # fmt: skip
    ys, xs = _curves(result["memory_vs_depth"], "K", "torch_peak_bytes", lambda r: r["method"])
    ys = {k: [b / 1e6 for b in v] for k, v in ys.items()}
    plot_convergence(ys, x=xs, logy=False, xlabel="layers / iterations K", ylabel="peak torch memory (MB)",
                     title="one training step", ax=axes[1, 2])  # fmt: skip
    for ax in axes.flat:
        for line in ax.get_lines():  # few points per curve: show where they were measured
            line.set_marker("o")
        ax.legend(fontsize=8)
    return fig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small training set and few steps (< 8 min)")
    parser.add_argument("--data-dir", default=os.environ.get("GEOLEARN_DATA_DIR"), help="Marmousi mirror")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent / "results" / "learned_inversion_bench.json",
    )
    parser.add_argument("--from-json", type=Path, help="redraw the figure of a saved run and stop")
    parser.add_argument("--gradient-memory-child", choices=["full", "checkpoint"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.gradient_memory_child:
        gradient_memory_child(args.gradient_memory_child)
        return
    if args.from_json is not None:
        png = save_figure(
            plot_results(json.loads(args.from_json.read_text())), args.from_json.with_suffix(".png")
        )
        print(f"wrote {png}")
        return
    logging.basicConfig(level=logging.WARNING)
    # Part (b) runs exactly K fixed-point iterations on purpose; "not converged" is expected there.
    logging.getLogger("geolearn.learned.deq").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=".*points per wavelength")
    torch.set_num_threads(1)  # torch's spinning OpenMP workers starve Devito's kernels
    J = born_problem()

    t0 = time.perf_counter()
    quality = quality_vs_cost(J, args)
    print("\n(a) quality per J/Jᵀ applications per model (learned trained on generator models only)")
    print(
        f"{'method':14s} {'set':10s} {'J/Jᵀ':>6s} {'PSNR dB':>8s} {'SSIM':>6s} {'misfit':>7s} {'train s':>8s}"
    )
    for r in sorted(quality, key=lambda r: (r["set"], r["cost"], r["method"])):
        train = f"{r['train_s']:8.1f}" if "train_s" in r else f"{'':8s}"
        print(
            f"{r['method']:14s} {r['set']:10s} {r['cost']:6.0f} {r['psnr_db']:8.2f} {r['ssim']:6.3f} "
            f"{r['misfit']:7.3f} {train}"
        )

    fwi_rows = fwi_vs_cost(args)
    print("\n(a') FWI per model: gradients, forward modellings beyond them, wave-equation solves (ledger); "
          "misfit ‖F(v)−d‖/‖d‖")  # fmt: skip
    print(
        f"{'method':18s} {'set':10s} {'grad':>5s} {'fwd':>5s} {'solves':>7s} {'PSNR dB':>8s} {'SSIM':>6s} {'misfit':>7s}"
    )
    for r in fwi_rows:
        print(
            f"{r['method']:18s} {r['set']:10s} {r['gradients']:5.1f} {r['forwards']:5.1f} {r['solves']:7.1f} "
            f"{r['psnr_db']:8.2f} {r['ssim']:6.3f} {r['misfit']:7.3f}"
        )

    plan = fwi_memory_plan(96 if not args.quick else 48, 8)
    print("\n(a'') learned FWI memory plan, measured")
    print(f"  stored per layer: (v_k, g_k, μ_k) = {plan['cache_bytes_per_model'] / 1e3:.1f} kB per model, "
          f"{plan['cache_bytes_per_layer'] / 1e6:.2f} MB for {plan['n_train']} models")  # fmt: skip
    print(f"  back-propagation, one Adam step on {plan['batch_size']} cached models: torch peak "
          f"{plan['cnn_step_torch_peak_bytes'] / 1e6:.3f} MB (no wave-equation solve)")  # fmt: skip
    print(f"  one gradient (2 shots, one at a time): RSS growth full {plan['gradient_rss_bytes']['full'] / 1e6:.2f} MB, "
          f"checkpoint {plan['gradient_rss_bytes']['checkpoint'] / 1e6:.2f} MB "
          f"(one shot's wavefield nt × cells × 4 B = {plan['wavefield_bytes_per_shot'] / 1e6:.2f} MB)")  # fmt: skip

    memory = memory_vs_depth(J, args)
    print("\n(b) one training step vs depth K (torch-allocator peak, wall time, J/Jᵀ applications)")
    print(f"{'K':>3s} {'method':11s} {'peak MB':>8s} {'step s':>7s} {'J/Jᵀ':>6s}")
    for r in memory:
        print(
            f"{r['K']:3d} {r['method']:11s} {r['torch_peak_bytes'] / 1e6:8.3f} {r['step_s']:7.2f} "
            f"{r['applications']:6d}"
        )
    total = time.perf_counter() - t0
    print(f"\ntotal {total:.0f} s")

    result = {
        "quick": args.quick,
        "grid": {"shape": SHAPE, "spacing_m": SPACING, "shots": 2, "receivers": 20, "space_order": 4},
        "machine": {
            "platform": platform.platform(),
            "torch": torch.__version__,
            "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        },
        "quality_vs_cost": quality,
        "fwi_vs_cost": fwi_rows,
        "fwi_memory_plan": plan,
        "memory_vs_depth": memory,
        "total_s": total,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    png = save_figure(plot_results(result), args.out.with_suffix(".png"))
    print(f"wrote {args.out} and {png}")


if __name__ == "__main__":
    main()
