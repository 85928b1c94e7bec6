"""Learned iterative schemes: the LISTA sparse-recovery protocol and unrolled (U) vs implicit (I) training.

Part 1 (Chen et al. 2018 protocol): A ∈ R^{250×500} Gaussian with unit-norm columns, x Bernoulli(0.1)-
Gaussian, SNR 40 dB, 16 layers/iterations, NMSE (dB) on 1000 test samples for ISTA and FISTA (best λ on
a grid), UnrolledISTA, LISTA, LISTA-CP with support selection, ALISTA, LearnedFISTA and a DEQ
(UnrolledISTA map, Anderson forward, implicit backward), next to the oracle-support least-squares floor.

Part 2: per training step of the same iteration map, autograd memory (bytes of tensors saved for
backward, measured with torch.autograd.graph.saved_tensors_hooks) and wall time of unrolled
backpropagation through K iterations (strategy U) vs a DEQ with K forward and at most K backward
fixed-point iterations (strategy I), K ∈ {5, 10, 20, 50, 100}.

Usage: python benchmarks/learned_bench.py [--quick] [--threads N] [--out PATH]
Prints a table and writes JSON (default benchmarks/results/learned_bench.json).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import time
from pathlib import Path

import torch

from geolearn.learned import DEQ, LearnedFISTA, Trainer, UnrolledISTA, nmse_db
from geolearn.learned.sparse import ALISTA, LISTA, make_sparse_coding, oracle_least_squares
from geolearn.solvers import fista, ista

K_LAYERS = 16
LAMS = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4)


def protocol(quick: bool, seed: int = 0) -> dict:
    prob = make_sparse_coding(250, 500, p=0.1, snr_db=40.0, seed=seed)
    A = prob.A
    L = float(torch.linalg.matrix_norm(A.matrix.double(), ord=2)) ** 2
    test = prob.sample(1000, seed + 1)
    val = prob.sample(500, seed + 2)
    rows: dict[str, dict] = {}

    def record(name, x_hat, seconds, **extra):
        rows[name] = {"nmse_db": nmse_db(x_hat, test[1]), "train_s": seconds, **extra}
        print(f"  {name:<22} {rows[name]['nmse_db']:8.2f} dB  ({seconds:6.1f} s)", flush=True)

    for name, solver in (("ISTA", ista), ("FISTA", fista)):
        scores = {
            lam: nmse_db(solver(A, val[0], lam, max_iter=K_LAYERS, tol=0.0, lipschitz=L).x, val[1])
            for lam in LAMS
        }
        lam = min(scores, key=scores.get)
        record(name, solver(A, test[0], lam, max_iter=K_LAYERS, tol=0.0, lipschitz=L).x, 0.0, lam=lam)
    lam = rows["ISTA"]["lam"]
    record("oracle-support LS", oracle_least_squares(A.matrix, test[0], test[1]), 0.0)

    steps = 400 if quick else 3000
    sampler = lambda n, g: prob.sample(n, g)  # noqa: E731  fresh training pairs every step
    models = {
        "UnrolledISTA": (
            UnrolledISTA(K_LAYERS, lam=lam, lipschitz=L, step_init=1.0, step_bound=2.0),
            0.02,
        ),
        "LISTA": (LISTA(A, K_LAYERS, lam=lam, lipschitz=L), 3e-4),
        "LISTA-CP+SS": (
            LISTA(A, K_LAYERS, lam=lam, lipschitz=L, coupled=True, support_selection=(0.012, 0.13)),
            3e-4,
        ),
        "ALISTA": (ALISTA(A, K_LAYERS, lam=lam), 0.02),
        "LearnedFISTA": (
            LearnedFISTA(K_LAYERS, lam=lam, lipschitz=L, step_init=1.0, inertia_init=0.9),
            0.02,
        ),
    }
    for name, (model, lr) in models.items():
        t0 = time.perf_counter()
        # Every scheme takes its operator at call time; L is known exactly here, so it is passed.
        kwargs = {} if isinstance(model, (LISTA, ALISTA)) else {"lipschitz": L}
        Trainer(
            model, operator=A, forward_kwargs=kwargs, lr=lr, batch_size=64, schedule="cosine", clip_norm=10.0,
            progress=False, seed=seed,
        ).fit(sampler, n_steps=steps)  # fmt: skip
        with torch.no_grad():
            record(name, model(test[0], A, **kwargs), time.perf_counter() - t0)
    deq_map = UnrolledISTA(1, lam=lam, lipschitz=L, step_init=1.0, step_bound=2.0)
    deq = DEQ(deq_map, tol=1e-4, max_iter=200, backward_tol=1e-4, backward_max_iter=100)
    t0 = time.perf_counter()
    Trainer(
        deq, operator=A, forward_kwargs={"lipschitz": L}, lr=0.02, batch_size=64, schedule="cosine",
        progress=False, seed=seed,
    ).fit(sampler, n_steps=steps // 4)  # fmt: skip
    with torch.no_grad():
        x_deq = deq(test[0], A, lipschitz=L)
    record("DEQ (ISTA map)", x_deq, time.perf_counter() - t0, iterations=deq.stats.forward_iterations)
    return {"train_steps": steps, "lam_ista": lam, "rows": rows}


def saved_bytes_and_time(fn, repeats: int) -> tuple[int, float]:
    total = 0

    def pack(t):
        nonlocal total
        total += t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return total, statistics.median(times)


def memory_vs_depth(quick: bool, seed: int = 0) -> list[dict]:
    prob = make_sparse_coding(250, 500, p=0.1, snr_db=40.0, seed=seed)
    L = float(torch.linalg.matrix_norm(prob.A.matrix.double(), ord=2)) ** 2
    y, x = prob.sample(64, seed + 3)
    net = UnrolledISTA(1, lam=0.05, lipschitz=L, step_init=1.0)
    physics = net.physics(y, prob.A, lipschitz=L)
    out = []
    # Fixed K iterations on purpose (tol = 1e-30): silence the DEQ's "did not reach tol" warnings.
    logging.getLogger("geolearn.learned.deq").setLevel(logging.ERROR)
    for K in (5, 10, 20, 50, 100):

        def unrolled(K=K):
            net.zero_grad()
            z = net.init_state(y, physics)
            for _ in range(K):
                z = net.step(z, y, physics, 0)
            torch.nn.functional.mse_loss(z, x).backward()

        deq = DEQ(
            net,
            solver="fixed_point",
            tol=1e-30,
            max_iter=K,
            backward_solver="fixed_point",
            backward_tol=1e-30,
            backward_max_iter=K,
        )

        def implicit(deq=deq):
            net.zero_grad()
            torch.nn.functional.mse_loss(deq(y, prob.A, lipschitz=L), x).backward()

        reps = 3 if quick else 7
        mu, tu = saved_bytes_and_time(unrolled, reps)
        mi, ti = saved_bytes_and_time(implicit, reps)
        out.append(
            {"K": K, "U_saved_MiB": mu / 2**20, "I_saved_MiB": mi / 2**20, "U_ms": 1e3 * tu, "I_ms": 1e3 * ti}
        )
        r = out[-1]
        print(
            f"  K={K:<4} U {r['U_saved_MiB']:8.2f} MiB {r['U_ms']:8.1f} ms | I {r['I_saved_MiB']:6.2f} MiB {r['I_ms']:8.1f} ms",
            flush=True,
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer training steps (a few minutes)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch intra-op threads")
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).resolve().parent / "results" / "learned_bench.json"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    print(f"LISTA protocol (250×500, p=0.1, SNR 40 dB, {K_LAYERS} layers, 1000 test samples)")
    proto = protocol(args.quick)
    print("Strategy U (unrolled) vs I (DEQ implicit): autograd memory and time per training step, batch 64")
    depth = memory_vs_depth(args.quick)
    faster = [r["K"] for r in depth if r["I_ms"] < r["U_ms"]]
    rows = proto["rows"]
    learned = {k: v["nmse_db"] for k, v in rows.items() if k not in ("ISTA", "FISTA", "oracle-support LS")}
    best = min(learned, key=learned.get)
    summary = {
        "best_learned": best,
        "gap_to_oracle_db": learned[best] - rows["oracle-support LS"]["nmse_db"],
        "gain_over_fista_db": rows["FISTA"]["nmse_db"] - learned[best],
        "I_faster_from_K": faster[0] if faster else None,
    }
    result = {
        "quick": args.quick,
        "threads": args.threads,
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "torch": torch.__version__},
        "protocol": proto,
        "memory_vs_depth": depth,
        "summary": summary,
        "total_s": time.perf_counter() - t0,
    }
    print(
        f"best learned: {best} ({learned[best]:.2f} dB), {summary['gap_to_oracle_db']:.2f} dB above the oracle floor, "
        f"{summary['gain_over_fista_db']:.2f} dB below FISTA; I faster than U from K = {summary['I_faster_from_K']}; "
        f"total {result['total_s']:.0f} s"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=2))
    tmp.replace(args.out)


if __name__ == "__main__":
    main()
