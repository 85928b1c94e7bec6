"""FWI cost-effectiveness: relative model error against wave-equation solves, L-BFGS vs Adam.

One run inverts the same synthetic survey over a crop of Marmousi (resampled to a coarse grid)
from the same smoothed starting model, with the same frequency bands and misfit, once with the
projected L-BFGS (Armijo line search; a trial costs one forward and one adjoint solve per shot)
and once with Adam (one gradient per iteration), and records after every iteration the
relative model error ``‖v − v_true‖ / ‖v_true‖``, the data misfit and the cumulative number of
wave-equation solves (forward and adjoint sweeps, shots included).

Usage::

    python benchmarks/inversion_bench.py                 # about 1-2 minutes on 2 cores
    python benchmarks/inversion_bench.py --iterations 12 --lr 20

Writes ``benchmarks/results/inversion_bench.json`` and ``inversion_bench.png`` and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter

from geolearn.fwi import fwi
from geolearn.imaging import model_survey
from geolearn.io.marmousi import MARMOUSI_WATER_DEPTH, marmousi_crop
from geolearn.viz.convergence import plot_convergence, save_figure

RESULTS = Path(__file__).resolve().parent / "results"
WATER_DEPTH = MARMOUSI_WATER_DEPTH


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=15, help="iterations per band")
    parser.add_argument("--bands", type=float, nargs="+", default=[4.0, 7.0])
    parser.add_argument("--lr", type=float, default=25.0, help="Adam learning rate, m/s")
    parser.add_argument("--out", type=Path, default=RESULTS / "inversion_bench.json")
    args = parser.parse_args()
    os.environ.setdefault("DEVITO_LOGGING", "WARNING")

    vp, spacing = marmousi_crop(4500.0, 80, 40, 4)
    survey = model_survey(vp, spacing, source_spacing=240.0, receiver_spacing=30.0, source_depth=30.0,
                          receiver_depth=30.0, record_length=1.6, f0=4.0, nbl=20, space_order=4)  # fmt: skip
    n_water = int(np.ceil(WATER_DEPTH / spacing[1]))
    v0 = gaussian_filter(vp, 5.0, mode="nearest")
    v0[:, :n_water] = vp[:, :n_water]
    error0 = float(np.linalg.norm(v0 - vp) / np.linalg.norm(vp))
    common = dict(true=vp, bands=tuple(args.bands), iterations=args.iterations, bounds=(1400.0, 1.2 * vp.max()),
                  water_depth=WATER_DEPTH + 0.5 * spacing[1])  # fmt: skip
    runs = {}
    for name, options in (
        ("L-BFGS", {"optimizer": "lbfgs"}),
        ("Adam", {"optimizer": "adam", "learning_rate": args.lr}),
    ):
        t0 = time.perf_counter()
        result = fwi(survey, v0, **common, **options)
        runs[name] = {
            "seconds": time.perf_counter() - t0,
            "n_solves": [0.0, *result.history["n_solves"]],
            "model_error": [error0, *result.history["model_error"]],
            "misfit": result.history["misfit"],
            "misfit_initial": result.misfit_initial,
            "misfit_final": result.misfit_final,
        }
    print(f"Marmousi crop {vp.shape} at {spacing[0]} m, {survey.problem.n_shots} shots, nt = {survey.problem.nt}, "
          f"bands {args.bands} Hz x {args.iterations} iterations; starting model error {error0:.4f}")  # fmt: skip
    print(
        f"{'optimiser':10s} {'solves':>7s} {'model error':>12s} {'misfit final/initial':>21s} {'seconds':>8s}"
    )
    for name, r in runs.items():
        ratio = r["misfit_final"] / r["misfit_initial"]
        print(
            f"{name:10s} {r['n_solves'][-1]:7g} {r['model_error'][-1]:12.4f} {ratio:21.4f} {r['seconds']:8.1f}"
        )
    budget = min(r["n_solves"][-1] for r in runs.values())
    print(f"model error after at most {budget:g} solves (measured by the cost ledger):")
    for name, r in runs.items():
        k = max(i for i, n in enumerate(r["n_solves"]) if n <= budget)
        print(f"  {name:10s} {r['model_error'][k]:.4f} ({r['n_solves'][k]:g} solves)")
    RESULTS.mkdir(exist_ok=True)
    record = {
        "benchmark": "inversion_bench", "machine": platform.platform(), "cpus": os.cpu_count(),
        "grid": list(vp.shape), "spacing": list(spacing), "n_shots": survey.problem.n_shots, "nt": survey.problem.nt,
        "bands": args.bands, "iterations_per_band": args.iterations, "adam_lr": args.lr, "runs": runs,
    }  # fmt: skip
    args.out.write_text(json.dumps(record, indent=1))
    fig = plot_convergence({k: r["model_error"] for k, r in runs.items()}, x={k: r["n_solves"] for k, r in runs.items()},
                           xlabel="wave-equation solves", ylabel="relative model error", logy=False,
                           title="FWI on a Marmousi crop: L-BFGS vs Adam")  # fmt: skip
    save_figure(fig, args.out.with_suffix(".png"))
    print(f"wrote {args.out} and {args.out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
