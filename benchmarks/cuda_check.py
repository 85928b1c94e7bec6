"""The torch side of the learned schemes on a CUDA device: same numbers as on the CPU, and the time.

Part 1 (``geolearn.learned``, dense operator): UnrolledISTA, LearnedFISTA and a DEQ on a sparse-coding
problem, built once in float64, copied to the CPU and to CUDA with the same parameters: the largest
relative difference of their outputs and of their parameter gradients, then a few training steps
(``Trainer``) on each device, timed.

Part 2 (``geolearn.learned_inversion``, Devito Born operator): a learned gradient LSRTM network on
CUDA applied to records on CUDA with the Born operator at call time (Devito runs on the CPU; the
operator copies tensors across): the image and the parameter gradient against the same network on
the CPU, in float64.

Usage: ``python benchmarks/cuda_check.py [--out PATH]``; prints a table and writes JSON. Without a
CUDA device it says so and exits 0 (nothing to compare).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("DEVITO_LANGUAGE", "openmp")
os.environ.setdefault("DEVITO_LOGGING", "WARNING")

import numpy as np
import torch

from geolearn.learned import DEQ, LearnedFISTA, Trainer, UnrolledISTA
from geolearn.learned.sparse import make_sparse_coding


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.detach().cpu().double(), b.detach().cpu().double()
    return float((a - b).norm() / b.norm().clamp_min(1e-300))


def dense_schemes(device: str) -> list[dict]:
    prob = make_sparse_coding(64, 128, p=0.1, snr_db=40.0, seed=0)
    A_cpu = prob.A.to(dtype=torch.float64)
    A_dev = A_cpu.to(device)
    y, x = prob.sample(256, 1)
    y, x = y.double(), x.double()
    rows = []
    builders = {
        "UnrolledISTA": lambda: UnrolledISTA(8, lam=0.05, lipschitz=1.0, dtype=torch.float64),
        "LearnedFISTA": lambda: LearnedFISTA(8, lam=0.05, lipschitz=1.0, dtype=torch.float64),
        "DEQ(UnrolledISTA)": lambda: DEQ(UnrolledISTA(1, lam=0.05, lipschitz=1.0, dtype=torch.float64)),
    }
    for name, build in builders.items():
        torch.manual_seed(0)
        net_cpu = build()
        net_dev = build().to(device)
        net_dev.load_state_dict(net_cpu.state_dict())
        out_cpu, out_dev = net_cpu(y, A_cpu), net_dev(y.to(device), A_dev)
        loss_cpu = (out_cpu - x).pow(2).sum()
        loss_dev = (out_dev - x.to(device)).pow(2).sum()
        g_cpu = torch.autograd.grad(loss_cpu, list(net_cpu.parameters()))
        g_dev = torch.autograd.grad(loss_dev, list(net_dev.parameters()))
        grad_diff = max(rel(a, b) for a, b in zip(g_dev, g_cpu))
        times = {}
        for dev, net, A in (("cpu", net_cpu, A_cpu), (device, net_dev, A_dev)):
            trainer = Trainer(net, lr=1e-2, batch_size=64, progress=False, operator=A)
            pairs = (y.to(dev), x.to(dev))
            trainer.fit(pairs, n_steps=2)  # warm-up (CUDA context, kernels)
            if dev != "cpu":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            trainer.fit(pairs, n_steps=10)
            if dev != "cpu":
                torch.cuda.synchronize()
            times[dev] = (time.perf_counter() - t0) / 10
        rows.append({"scheme": name, "output_rel_diff": rel(out_dev, out_cpu), "grad_rel_diff": grad_diff,
                     "step_s_cpu": times["cpu"], "step_s_cuda": times[device]})  # fmt: skip
    return rows


def born_scheme(device: str) -> dict:
    from geolearn.learned_inversion import LearnedGradientLSRTM
    from geolearn.wave import BornOperator, Geometry, Model

    vp = np.full((40, 24), 1500.0)
    vp[:, 12:] = 1800.0
    model = Model(vp, spacing=(10.0, 10.0), nbl=20, space_order=4, dtype=torch.float64)
    rec = np.stack([np.linspace(0, 390, 20), np.full(20, 10.0)], 1)
    geometry = Geometry(model, [[100.0, 10.0], [300.0, 10.0]], rec, tn=0.4, f0=10.0)
    J = BornOperator(model, geometry)
    dv = torch.zeros(1, 40, 24, dtype=torch.float64)
    dv[0, :, 15] = 50.0
    y = J(dv)
    net_cpu = LearnedGradientLSRTM(2, features=8, depth=3, memory=1, dtype=torch.float64, seed=0)
    with torch.no_grad():  # non-zero last layers, so the CNN path is exercised
        for p in net_cpu.parameters():
            p.add_(1e-3 * torch.randn(p.shape, generator=torch.Generator().manual_seed(1), dtype=p.dtype))
    net_dev = LearnedGradientLSRTM(2, features=8, depth=3, memory=1, dtype=torch.float64, seed=0).to(device)
    net_dev.load_state_dict(net_cpu.state_dict())
    t0 = time.perf_counter()
    img_cpu = net_cpu(y, J)
    g_cpu = torch.autograd.grad((img_cpu - dv).pow(2).sum(), list(net_cpu.parameters()))
    t_cpu = time.perf_counter() - t0
    t0 = time.perf_counter()
    img_dev = net_dev(y.to(device), J)
    g_dev = torch.autograd.grad((img_dev - dv.to(device)).pow(2).sum(), list(net_dev.parameters()))
    torch.cuda.synchronize()
    t_dev = time.perf_counter() - t0
    return {"scheme": "LearnedGradientLSRTM + Devito Born", "image_device": str(img_dev.device),
            "output_rel_diff": rel(img_dev, img_cpu), "grad_rel_diff": max(rel(a, b) for a, b in zip(g_dev, g_cpu)),
            "forward_backward_s_cpu": t_cpu, "forward_backward_s_cuda": t_dev}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "cuda_check.json"))
    args = ap.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA device: nothing to compare")
        return
    device = "cuda"
    result = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__}
    result["dense"] = dense_schemes(device)
    for r in result["dense"]:
        print(f"{r['scheme']:<20} output {r['output_rel_diff']:.1e}  grad {r['grad_rel_diff']:.1e}  "
              f"train step cpu {r['step_s_cpu'] * 1e3:.2f} ms  cuda {r['step_s_cuda'] * 1e3:.2f} ms")  # fmt: skip
    try:
        result["born"] = born_scheme(device)
        b = result["born"]
        print(f"{b['scheme']}: image on {b['image_device']}, output {b['output_rel_diff']:.1e}, "
              f"grad {b['grad_rel_diff']:.1e}, fwd+bwd cpu {b['forward_backward_s_cpu']:.2f} s, "
              f"cuda {b['forward_backward_s_cuda']:.2f} s")  # fmt: skip
    except ImportError as err:  # Devito not installed on that machine
        result["born"] = {"skipped": f"wave layer unavailable: {err}"}
        print(result["born"]["skipped"])
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
