"""Wave-operator benchmark: geolearn vs the raw Devito operator and vs deepwave, memory modes.

Run: ``python benchmarks/wave_bench.py [--nt 1000] [--repeat 3]``. Prints a table and writes
``benchmarks/results/wave_bench.json``. Ratios, not absolute seconds, are the result: the
numbers are taken side by side in one run on the same machine.

Cases (2D, 401 x 201, h = 10 m, space order 8, 40 absorbing points, one shot, 401 receivers):

- forward: geolearn ``WaveModeling`` vs ``Operator.apply`` of the cached Devito operator it
  wraps, on the same arrays (the overhead is conversion, validation and allocation);
- forward and gradient vs ``deepwave.scalar`` (accuracy 8, PML width 40, same dt and nt);
- gradient / forward time (``fwi_objective``: one forward with storage + one adjoint);
- peak extra memory (RSS) of the gradient at nt = 2000 for ``full`` vs ``checkpoint``,
  each measured in a fresh subprocess.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

# One thread by default: on a shared machine OpenMP spin-waits make multi-threaded timings
# noise; both codes get the same threads (set OMP_NUM_THREADS to change it).
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("DEVITO_LANGUAGE", "openmp")
os.environ.setdefault("DEVITO_LOGGING", "WARNING")

import numpy as np
import torch
from _memory import peak_rss_increase

from geolearn.wave import Geometry, Model, WaveModeling, fwi_objective
from geolearn.wave.modeling import make_solver, shot_coords

NX, NZ, H, SO, NBL = 401, 201, 10.0, 8, 40
RESULTS = Path(__file__).resolve().parent / "results"


def setup(nt: int, dtype: torch.dtype = torch.float32) -> tuple[Model, Geometry]:
    vp = np.full((NX, NZ), 1500.0)
    vp[:, 60:] = 2200.0
    vp[:, 130:] = 3000.0
    model = Model(vp, (H, H), nbl=NBL, space_order=SO, boundary="damp", dtype=dtype)
    dt = 0.8 * model.critical_dt()
    rec = np.stack([np.arange(NX) * H, np.full(NX, 20.0)], 1)
    geo = Geometry(model, [[NX * H / 2, 20.0]], rec, tn=(nt - 1) * dt, dt=dt, f0=10.0)
    return model, geo


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def raw_devito_forward(model: Model, geo: Geometry):
    """A closure applying the cached Devito forward operator directly (arguments prebuilt)."""
    solver, _ = make_solver(model, geo.dt, model.vp)
    src, rec = shot_coords(model, geo, 0)
    solver.forward(src, geo.wavelets[0].numpy(), rec)  # builds the operator
    k = solver.kernel("forward")
    args = solver._common(k)
    s = solver._sparse(k, "src", src, geo.nt, geo.wavelets[0].numpy()[None, :])
    r = solver._sparse(k, "rec", rec, geo.nt)
    args.update(src=s, rec=r, u=solver._time_field(k, "u"), time_m=1, time_M=geo.nt - 1)
    return lambda: k.op.apply(**args)


def deepwave_closures(model: Model, geo: Geometry):
    import deepwave

    v = model.vp.clone()
    src_loc = torch.tensor([[[NX // 2, 2]]])
    rec_loc = torch.stack([torch.arange(NX), torch.full((NX,), 2)], 1)[None]
    amp = geo.wavelets[None].clone()
    kw = dict(
        pml_freq=10.0,
        accuracy=SO,
        pml_width=NBL,
        source_amplitudes=amp,
        source_locations=src_loc,
        receiver_locations=rec_loc,
    )

    def forward():
        with torch.no_grad():
            deepwave.scalar(v, H, geo.dt, **kw)

    def gradient():
        vg = v.clone().requires_grad_(True)
        out = deepwave.scalar(vg, H, geo.dt, **kw)[-1]
        (0.5 * out.pow(2).sum()).backward()

    return forward, gradient


def memory_child(mode: str, nt: int) -> None:
    model, geo = setup(40)
    obs = torch.zeros(geo.record_shape)
    fwi_objective(model.vp, geo, obs, memory=mode)  # build and compile outside the measurement
    model, geo = setup(nt)
    obs = torch.zeros(geo.record_shape)
    extra = peak_rss_increase(lambda: fwi_objective(model.vp, geo, obs, memory=mode))
    print(json.dumps({"mode": mode, "extra_bytes": extra}))


def run(nt: int, repeat: int, mem_nt: int) -> dict:
    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    model, geo = setup(nt)
    F = WaveModeling(model, geo)
    obs = torch.zeros(geo.record_shape)
    raw = raw_devito_forward(model, geo)
    F(model.vp)
    fwi_objective(model.vp, geo, obs)
    t_raw = best(raw, repeat)
    t_fwd = best(lambda: F(model.vp), repeat)
    t_grad = best(lambda: fwi_objective(model.vp, geo, obs), repeat)
    res = {
        "grid": [NX, NZ], "space_order": SO, "nbl": NBL, "nt": geo.nt, "dt_s": geo.dt,
        "threads": int(os.environ["OMP_NUM_THREADS"]), "loadavg_start": os.getloadavg()[0],
        "devito_raw_forward_s": t_raw, "geolearn_forward_s": t_fwd, "geolearn_gradient_s": t_grad,
        "overhead_vs_raw": t_fwd / t_raw - 1.0, "gradient_over_forward": t_grad / t_fwd,
    }  # fmt: skip
    try:
        dw_fwd, dw_grad = deepwave_closures(model, geo)
        dw_fwd()
        res["deepwave_forward_s"] = best(dw_fwd, repeat)
        res["deepwave_gradient_s"] = best(dw_grad, repeat)
        res["forward_ratio_geolearn_over_deepwave"] = t_fwd / res["deepwave_forward_s"]
        res["gradient_ratio_geolearn_over_deepwave"] = t_grad / res["deepwave_gradient_s"]
    except ImportError:
        res["deepwave"] = "not installed (pip install geolearn[bench])"
    mem = {}
    for mode in ("full", "checkpoint"):
        out = subprocess.run(
            [sys.executable, __file__, "--memory-child", mode, "--nt", str(mem_nt)],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        mem[mode] = json.loads(out.stdout.strip().splitlines()[-1])["extra_bytes"]
    res["memory_nt"] = mem_nt
    res["gradient_extra_bytes"] = mem
    res["checkpoint_over_full_memory"] = mem["checkpoint"] / mem["full"]
    return res


def table(res: dict) -> str:
    rows = [
        ("raw Devito forward (s)", res["devito_raw_forward_s"]),
        ("geolearn forward (s)", res["geolearn_forward_s"]),
        ("overhead vs raw Devito", f"{100 * res['overhead_vs_raw']:+.1f} %"),
        ("geolearn gradient (s)", res["geolearn_gradient_s"]),
        ("gradient / forward", res["gradient_over_forward"]),
    ]
    if "deepwave_forward_s" in res:
        rows += [
            ("deepwave forward (s)", res["deepwave_forward_s"]),
            ("deepwave gradient (s)", res["deepwave_gradient_s"]),
            ("forward geolearn/deepwave", res["forward_ratio_geolearn_over_deepwave"]),
            ("gradient geolearn/deepwave", res["gradient_ratio_geolearn_over_deepwave"]),
        ]
    mem = res["gradient_extra_bytes"]
    rows += [
        (f"gradient memory, full, nt={res['memory_nt']} (MiB)", mem["full"] / 2**20),
        (f"gradient memory, checkpoint, nt={res['memory_nt']} (MiB)", mem["checkpoint"] / 2**20),
        ("checkpoint / full memory", res["checkpoint_over_full_memory"]),
    ]
    head = (
        f"wave benchmark: {res['grid'][0]}x{res['grid'][1]}, so {res['space_order']}, nt {res['nt']}, 1 shot"
    )
    lines = [head, "-" * len(head)]
    lines += [f"{k:<44} {v:.4g}" if isinstance(v, float) else f"{k:<44} {v}" for k, v in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nt", type=int, default=1000)
    parser.add_argument("--memory-nt", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--memory-child", choices=["full", "checkpoint"])
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child, args.nt)
        return
    res = run(args.nt, args.repeat, args.memory_nt)
    print(table(res))
    RESULTS.mkdir(parents=True, exist_ok=True)
    tmp = RESULTS / "wave_bench.json.tmp"
    tmp.write_text(json.dumps(res, indent=2))
    tmp.replace(RESULTS / "wave_bench.json")


if __name__ == "__main__":
    main()
