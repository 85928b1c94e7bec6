"""Simultaneous-source benchmark: one encoded J / Jᵀ vs the sum over the shots it replaces.

Run: ``python benchmarks/wave_encoding_bench.py [--shots 24] [--tn 2.0] [--draws 8] [--out FILE.json]``.
Prints a table and writes JSON. Ratios, not absolute seconds, are the result (side by side in
one run, one thread for every kernel as in ``benchmarks/wave_bench.py``).

Case: 2D 301 x 101 cells, h = 10 m (3.0 km x 1.0 km), space order 8, 40 absorbing points,
float32, 10 Hz Ricker, ``--shots`` sources at 20 m depth, 301 receivers at 30 m shared by every
shot (fixed spread), ``--tn`` s records. Born operators with ``cache=None`` on both sides (every
call propagates its background: the like-for-like cost; a kept background saves the same
forward on both sides).

Measured: wall time of ``J δv`` and ``Jᵀ d`` for the full survey and for one Rademacher
supershot; propagations per call (``.performance``); the cross-talk: relative L2 difference and
correlation between the full RTM image ``Jᵀ d`` and the unbiased encoded image
``J_encᵀ (W d)`` for one draw and for the mean of ``--draws`` draws.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("DEVITO_LANGUAGE", "openmp")
os.environ.setdefault("DEVITO_LOGGING", "WARNING")

import numpy as np
import torch

from geolearn.threads import set_threads
from geolearn.wave import BornOperator, Geometry, Model, SourceEncoding

NX, NZ, H, SO, NBL = 301, 101, 10.0, 8, 40


def setup(n_shots: int, tn: float) -> tuple[Model, Geometry, torch.Tensor]:
    vp = np.full((NX, NZ), 1500.0)
    vp[:, 25:] = 2200.0
    vp[:, 60:] = 3000.0
    model = Model(vp, (H, H), nbl=NBL, space_order=SO, dtype=torch.float32)
    src = np.stack([np.linspace(100.0, (NX - 1) * H - 100.0, n_shots), np.full(n_shots, 20.0)], 1)
    rec = np.stack([np.arange(NX) * H, np.full(NX, 30.0)], 1)
    geo = Geometry(model, src, rec, tn=tn, f0=10.0)
    x, z = np.meshgrid(np.arange(NX), np.arange(NZ), indexing="ij")
    dv = 100.0 * np.sin(x / 7.0) * np.exp(-(((z - 45) / 12.0) ** 2))  # m/s, a rough reflector zone
    return model, geo, torch.as_tensor(dv, dtype=torch.float32)


def timed(fn, repeat: int):
    """Result and best wall time over ``repeat`` runs (the machine is shared: best is least disturbed)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return out, min(times)


def calls(op) -> int:
    return sum(s.calls for s in op.performance.summary().values())


def seconds_per_propagation(op) -> dict[str, float]:
    """Kernel time per propagation (generated code only), per kernel."""
    return {k: s.seconds / s.calls for k, s in op.performance.summary().items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shots", type=int, default=24)
    ap.add_argument("--tn", type=float, default=2.0)
    ap.add_argument("--draws", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "wave_encoding_bench.json"))
    args = ap.parse_args()
    set_threads(1)
    model, geo, dv = setup(args.shots, args.tn)
    J = BornOperator(model, geo, cache=None)
    enc = SourceEncoding(geo, "rademacher", seed=0)
    J_enc = BornOperator(model, enc.geometry, cache=None)
    J_enc(dv)  # compile every kernel outside the timings
    J_enc.T(J_enc(dv))
    J_enc.performance.clear()

    r = args.repeat
    d, t_J = timed(lambda: J(dv), r)
    n_J = calls(J) // r
    image, t_JT = timed(lambda: J.T(d), r)
    n_JT = calls(J) // r - n_J
    d_enc, t_Je = timed(lambda: J_enc(dv), r)
    n_Je = calls(J_enc) // r
    _, t_JTe = timed(lambda: J_enc.T(d_enc), r)
    n_JTe = calls(J_enc) // r - n_Je

    # Cross-talk: encoded images of the full data, one per draw, against the full RTM image.
    images = []
    for _ in range(args.draws):
        g = enc.draw()
        images.append(BornOperator(model, g, cache=None).T(enc.encode_data(d)))
    full = image.double().flatten()

    def compare(img: torch.Tensor) -> tuple[float, float]:
        x = img.double().flatten()
        return float((x - full).norm() / full.norm()), float(torch.corrcoef(torch.stack([x, full]))[0, 1])

    one, mean = compare(images[0]), compare(torch.stack(images).mean(0))
    res = {
        "grid": [NX, NZ], "spacing_m": H, "nt": geo.nt, "dt_s": geo.dt, "n_shots": args.shots, "n_receivers": NX,
        "threads": 1, "repeat": r, "J_full_s": t_J, "J_encoded_s": t_Je, "J_speedup": t_J / t_Je,
        "JT_full_s": t_JT, "JT_encoded_s": t_JTe, "JT_speedup": t_JT / t_JTe,
        "propagations": {"J_full": n_J, "JT_full": n_JT, "J_encoded": n_Je, "JT_encoded": n_JTe},
        "seconds_per_propagation": {"full": seconds_per_propagation(J), "encoded": seconds_per_propagation(J_enc)},
        "crosstalk": {"one_draw_rel_l2": one[0], "one_draw_corr": one[1], "draws": args.draws,
                      "mean_rel_l2": mean[0], "mean_corr": mean[1]},
    }  # fmt: skip
    print(f"{args.shots} shots, {NX} x {NZ} cells, nt = {geo.nt}, 1 thread, best of {r}")
    print(f"{'':8} {'full (s)':>9} {'encoded (s)':>12} {'ratio':>6} {'propagations':>14}")
    print(f"{'J':8} {t_J:9.2f} {t_Je:12.2f} {t_J / t_Je:6.1f} {n_J:>6} vs {n_Je:<4}")
    print(f"{'Jᵀ':8} {t_JT:9.2f} {t_JTe:12.2f} {t_JT / t_JTe:6.1f} {n_JT:>6} vs {n_JTe:<4}")
    for name, op in (("full", J), ("encoded", J_enc)):
        per = ", ".join(
            f"{k.removeprefix('geolearn_')} {v:.3f}" for k, v in seconds_per_propagation(op).items()
        )
        print(f"kernel seconds per propagation, {name}: {per}")
    print(f"cross-talk vs full RTM: one draw rel L2 {one[0]:.3f} (corr {one[1]:.3f}); "
          f"mean of {args.draws} draws {mean[0]:.3f} (corr {mean[1]:.3f})")  # fmt: skip
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
