"""Wave-operator benchmark: threads, GPts/s against a bandwidth roofline, gradient and Born cost.

Run: ``python benchmarks/wave_bench.py [--quick] [--repeat 5]``. Prints one table and writes
``benchmarks/results/wave_bench.json`` (``wave_bench_quick.json`` with ``--quick``). Ratios
taken side by side in one run are the result, not absolute seconds; every time is the best of
``--repeat`` runs, and the load average of the machine is recorded next to each block.

Model: 2D, 401 x 201, h = 10 m, space order 8, 40 absorbing points, one shot, 401 receivers,
float32, nt = 1000 (300 with ``--quick``).

- Threads: forward GPts/s with ``geolearn.set_threads(n)`` for n = 1 .. cores, and with the
  default (automatic) choice, interleaved run by run so that load changes hit all alike;
- roofline: a STREAM-like copy in NumPy (n threads, each copying its share of 256 MiB arrays)
  gives the memory bandwidth; a stencil update moves at least 20 bytes per point in float32
  (read u[n], u[n-1], m, damping; write u[n+1]), so bandwidth / 20 B bounds GPts/s for grids
  that do not fit in cache;
- gradient / forward: ``fwi_objective`` exact (``memory="full"``), subsampled
  (``"snapshots"``, factor :func:`~geolearn.wave.nyquist_factor`, with its relative difference
  to the exact gradient) and checkpointed (its difference too, expected exactly 0);
- Born: ``J`` and ``Jᵀ`` / forward with the background kept (steady state and first call) and
  without (``cache=None``);
- geolearn forward vs the raw compiled Devito kernel it runs (wrapper overhead), and forward and
  gradient vs ``deepwave.scalar`` (accuracy 8, PML 40, same dt and nt; ``pip install geolearn[bench]``);
- extra peak memory (RSS) of one gradient per memory mode, each in a fresh process.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from _memory import peak_rss_increase

import geolearn.threads as thread_policy
import geolearn.wave as wave
from geolearn.atomic import atomic_write
from geolearn.wave import BornOperator, Geometry, Model, WaveModeling, fwi_objective

NX, NZ, H, SO, NBL = 401, 201, 10.0, 8, 40
BYTES_PER_POINT = 20  # float32 stencil update: 4 reads + 1 write (STREAM counting, no write-allocate)
RESULTS = Path(__file__).resolve().parent / "results"


def setup(nt: int) -> tuple[Model, Geometry, torch.Tensor]:
    """The benchmark model (three layers and a shallow +150 m/s anomaly, whose scattering
    arrives early enough for ``--quick``), its geometry and the smoothed layers as background."""
    vp = np.full((NX, NZ), 1500.0)
    vp[:, 60:] = 2200.0
    vp[:, 130:] = 3000.0
    layered = torch.as_tensor(vp, dtype=torch.float32)[None, None]
    background = torch.nn.functional.avg_pool2d(layered, 9, 1, 4, count_include_pad=False)[0, 0].contiguous()
    x, z = np.meshgrid(np.arange(NX), np.arange(NZ), indexing="ij")
    vp += 150.0 * np.exp(-(((x - NX // 2 - 40) / 12.0) ** 2 + ((z - 25) / 8.0) ** 2))
    model = Model(vp, (H, H), nbl=NBL, space_order=SO, boundary="damp", dtype=torch.float32)
    dt = 0.8 * model.critical_dt()
    rec = np.stack([np.arange(NX) * H, np.full(NX, 20.0)], 1)
    geo = Geometry(model, [[NX * H / 2, 20.0]], rec, tn=(nt - 1) * dt, dt=dt, f0=10.0)
    return model, geo, background


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def load() -> float:
    return round(os.getloadavg()[0], 2)


def copy_bandwidth(threads: int, repeat: int, nbytes: int = 256 * 2**20) -> float:
    """GB/s of a NumPy copy split over ``threads`` threads (bytes read + written, STREAM-style)."""
    src = np.ones(nbytes // 8)
    dst = np.zeros_like(src)
    parts = np.array_split(np.arange(src.size), threads)
    bounds = [(p[0], p[-1] + 1) for p in parts]
    with ThreadPoolExecutor(threads) as pool:

        def copy() -> None:
            list(pool.map(lambda b: np.copyto(dst[b[0] : b[1]], src[b[0] : b[1]]), bounds))

        return 2 * nbytes / best(copy, repeat) / 1e9


def thread_scan(model: Model, geo: Geometry, repeat: int) -> dict:
    """Forward GPts/s per explicit thread count and with the default choice (interleaved)."""
    F = WaveModeling(model, geo)
    settings: list[int | None] = [*range(1, thread_policy.usable_cores() + 1), None]
    F(model.vp)
    gpts: dict[str, list[float]] = {str(n): [] for n in settings}
    chosen: list[int] = []
    start_load = load()
    for r in range(repeat):
        for n in settings[r % len(settings) :] + settings[: r % len(settings)]:
            thread_policy.set_threads(n)
            # A run right after an oversubscribed one gets less CPU from the scheduler (it used
            # more than its share): one unmeasured run of each setting absorbs that.
            F(model.vp)
            F(model.vp)
            gpts[str(n)].append(F.performance.last.gpts)
            if n is None:
                chosen.append(F.performance.last.threads)
    thread_policy.set_threads(None)
    explicit = {n: max(v) for n, v in gpts.items() if n != "None"}
    best_n = max(explicit, key=explicit.get)
    return {
        "gpts_per_threads": explicit, "gpts_default": max(gpts["None"]), "default_threads_chosen": chosen,
        "best_threads": int(best_n), "default_over_best": max(gpts["None"]) / explicit[best_n],
        "load_start": start_load, "load_end": load(),
    }  # fmt: skip


def gradient_ratios(model: Model, geo: Geometry, v0: torch.Tensor, repeat: int) -> dict:
    F = WaveModeling(model, geo)
    observed = F(model.vp)
    k = wave.nyquist_factor(geo)
    modes = {
        "exact": {"memory": "full"},
        "subsampled": {"memory": "snapshots", "snapshot_factor": k},
        "checkpointed": {"memory": "checkpoint"},
    }
    F(v0)
    for kw in modes.values():
        fwi_objective(v0, geo, observed, **kw)  # compile
    res: dict = {"snapshot_factor": k, "load_start": load()}
    t_fwd = best(lambda: F(v0), repeat)
    res["forward_s"], res["forward_threads"] = t_fwd, F.performance.last.threads
    grads = {}
    for name, kw in modes.items():
        log = wave.PerformanceLog()
        res[f"{name}_s"] = best(
            lambda kw=kw, log=log: fwi_objective(v0, geo, observed, **kw, performance=log), repeat
        )
        res[f"{name}_over_forward"] = res[f"{name}_s"] / t_fwd
        res[f"{name}_threads"] = sorted({r.threads for r in log})
        res[f"{name}_kernels"] = {  # where the time goes: seconds per call and GPts/s per kernel
            k: {"seconds_per_call": v.seconds / v.calls, "gpts": v.gpts} for k, v in log.summary().items()
        }
        grads[name] = fwi_objective(v0, geo, observed, **kw)[1].double()
    for name in ("subsampled", "checkpointed"):
        diff = torch.linalg.norm(grads[name] - grads["exact"]) / torch.linalg.norm(grads["exact"])
        res[f"{name}_relative_difference"] = float(diff)
    res["load_end"] = load()
    return res


def born_ratios(model: Model, geo: Geometry, v0: torch.Tensor, repeat: int) -> dict:
    F = WaveModeling(model, geo)
    F(v0)
    data = F(model.vp)
    dv = torch.zeros(model.shape)
    dv[150:250, 100:150] = 50.0
    BornOperator(model, geo, v0)(dv)  # compile the kernels outside the measurement
    kept, fresh = BornOperator(model, geo, v0), BornOperator(model, geo, v0, cache=None)
    res: dict = {"load_start": load()}
    start = time.perf_counter()
    kept(dv)  # first call: background forward with storage, then the scattered field
    res["J_first_call_s"] = time.perf_counter() - start
    kept.T(data)
    fresh(dv), fresh.T(data)
    t_fwd = best(lambda: F(v0), repeat)
    res["forward_s"] = t_fwd
    for name, op in (("kept", kept), ("uncached", fresh)):
        res[f"J_{name}_over_forward"] = best(lambda op=op: op(dv), repeat) / t_fwd
        res[f"JT_{name}_over_forward"] = best(lambda op=op: op.T(data), repeat) / t_fwd
    res["J_first_call_over_forward"] = res.pop("J_first_call_s") / t_fwd
    res["background_bytes_per_shot"] = kept.background.nbytes
    res["load_end"] = load()
    return res


def raw_overhead(model: Model, geo: Geometry, repeat: int) -> dict:
    """geolearn forward vs calling the compiled kernel it runs, prepared once (1 thread, interleaved)."""
    from geolearn.wave.execution import KernelRun
    from geolearn.wave.solver_inputs import make_solver, shot_coords

    thread_policy.set_threads(1)  # the same threads for both: the overhead, not the thread choice
    solver, _ = make_solver(model, geo.dt, model.vp)
    src, rec = shot_coords(model, geo, 0)
    w = geo.wavelets[0].numpy()
    solver.forward(src, w, rec)
    k = solver.kernel("forward")
    args = {"src": solver.sparse(k, "src", src, geo.nt, w[None]), "rec": solver.sparse(k, "rec", rec, geo.nt)}
    u = solver.time_field(k, "u")
    run = KernelRun(
        k.op, solver.grid_points, None, 1, geo.nt - 1, 1, geo.nt - 1, **solver.common(k), u=u, **args
    )
    F = WaveModeling(model, geo)
    F(model.vp)
    t_raw, t_fwd = [], []
    for _ in range(repeat):
        t_raw.append(best(lambda: run.run(1, geo.nt - 1), 1))
        t_fwd.append(best(lambda: F(model.vp), 1))
    thread_policy.set_threads(None)
    return {
        "raw_kernel_s": min(t_raw),
        "geolearn_forward_s": min(t_fwd),
        "overhead_vs_raw": min(t_fwd) / min(t_raw) - 1,
    }


def deepwave_ratios(model: Model, geo: Geometry, v0: torch.Tensor, repeat: int) -> dict:
    try:
        import deepwave
    except ImportError:
        return {"deepwave": "not installed (pip install geolearn[bench])"}
    kw = dict(
        pml_freq=10.0, accuracy=SO, pml_width=NBL, source_amplitudes=geo.wavelets[None].clone(),
        source_locations=torch.tensor([[[NX // 2, 2]]]),
        receiver_locations=torch.stack([torch.arange(NX), torch.full((NX,), 2)], 1)[None],
    )  # fmt: skip

    def forward() -> None:
        with torch.no_grad():
            deepwave.scalar(v0, H, geo.dt, **kw)

    def gradient() -> None:
        v = v0.clone().requires_grad_(True)
        (0.5 * deepwave.scalar(v, H, geo.dt, **kw)[-1].pow(2).sum()).backward()

    F = WaveModeling(model, geo)
    observed = torch.zeros(geo.record_shape)
    F(v0), fwi_objective(v0, geo, observed)
    t_fwd = best(lambda: F(v0), repeat)
    t_grad = best(lambda: fwi_objective(v0, geo, observed), repeat)
    threads, torch_threads = F.performance.last.threads, torch.get_num_threads()
    torch.set_num_threads(threads)  # the threads geolearn's kernels ran with, for deepwave too
    forward(), gradient()
    res = {
        "forward_geolearn_over_deepwave": t_fwd / best(forward, repeat),
        "gradient_geolearn_over_deepwave": t_grad / best(gradient, repeat),
        "threads_both": threads,
    }
    torch.set_num_threads(torch_threads)
    return res


MEMORY_MODES = {
    "exact": {"memory": "full"},
    "subsampled": {"memory": "snapshots"},
    "checkpointed": {"memory": "checkpoint"},
}


def memory_child(mode: str, nt: int) -> None:
    _, geo, v0 = setup(40)
    fwi_objective(v0, geo, torch.zeros(geo.record_shape), **MEMORY_MODES[mode])  # compile outside
    _, geo, v0 = setup(nt)
    obs = torch.zeros(geo.record_shape)
    extra = peak_rss_increase(lambda: fwi_objective(v0, geo, obs, **MEMORY_MODES[mode]))
    print(json.dumps({"mode": mode, "extra_bytes": extra}))


def memory_per_mode(nt: int) -> dict:
    out = {}
    for mode in MEMORY_MODES:
        run = subprocess.run(
            [sys.executable, __file__, "--memory-child", mode, "--nt", str(nt)],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        out[mode] = json.loads(run.stdout.strip().splitlines()[-1])["extra_bytes"]
    return {"nt": nt, "extra_bytes": out}


def run(nt: int, repeat: int, mem_nt: int) -> dict:
    model, geo, v0 = setup(nt)
    cores = thread_policy.usable_cores()
    res: dict = {
        "grid": [NX, NZ], "padded_grid": list(model.padded_shape), "space_order": SO, "nbl": NBL,
        "nt": geo.nt, "dt_s": geo.dt, "cores": cores, "torch_threads": torch.get_num_threads(),
    }  # fmt: skip
    res["threads"] = thread_scan(model, geo, repeat)
    res["copy_bandwidth_GBs"] = {n: copy_bandwidth(n, repeat) for n in range(1, cores + 1)}
    res["roofline_gpts"] = {n: bw / BYTES_PER_POINT for n, bw in res["copy_bandwidth_GBs"].items()}
    res["working_set_MiB"] = 5 * int(np.prod(model.padded_shape)) * 4 / 2**20
    res["gradient"] = gradient_ratios(model, geo, v0, repeat)
    res["born"] = born_ratios(model, geo, v0, repeat)
    res["overhead"] = raw_overhead(model, geo, repeat)
    res["deepwave"] = deepwave_ratios(model, geo, v0, repeat)
    res["memory"] = memory_per_mode(mem_nt)
    return res


def table(res: dict) -> str:
    th, g, b = res["threads"], res["gradient"], res["born"]
    rows = [(f"forward GPts/s, {n} thread(s)", v) for n, v in th["gpts_per_threads"].items()]
    rows += [
        (f"forward GPts/s, default (chose {sorted(set(th['default_threads_chosen']))})", th["gpts_default"]),
        ("default / best explicit thread count", th["default_over_best"]),
        ("load average during the thread scan", f"{th['load_start']} -> {th['load_end']}"),
    ]
    rows += [(f"NumPy copy GB/s, {n} thread(s) (roofline {res['roofline_gpts'][n]:.2f} GPts/s)", bw)
             for n, bw in res["copy_bandwidth_GBs"].items()]  # fmt: skip
    rows += [
        ("stencil working set (MiB; cache-resident if < L3)", res["working_set_MiB"]),
        (f"gradient / forward, exact (threads {g['exact_threads']})", g["exact_over_forward"]),
        *[
            (
                f"  {kernel} in the exact gradient: s/call, GPts/s",
                f"{v['seconds_per_call']:.4f}, {v['gpts']:.3f}",
            )
            for kernel, v in g["exact_kernels"].items()
        ],
        (f"gradient / forward, subsampled k={g['snapshot_factor']}", g["subsampled_over_forward"]),
        ("  relative difference to exact", g["subsampled_relative_difference"]),
        ("gradient / forward, checkpointed", g["checkpointed_over_forward"]),
        ("  relative difference to exact", g["checkpointed_relative_difference"]),
        ("load average during gradients", f"{g['load_start']} -> {g['load_end']}"),
        ("J / forward, background kept", b["J_kept_over_forward"]),
        ("J^T / forward, background kept", b["JT_kept_over_forward"]),
        ("J / forward, first call (keeps the background)", b["J_first_call_over_forward"]),
        ("J / forward, cache=None", b["J_uncached_over_forward"]),
        ("J^T / forward, cache=None", b["JT_uncached_over_forward"]),
        ("kept background per shot (MiB)", b["background_bytes_per_shot"] / 2**20),
        ("geolearn forward overhead vs the raw kernel", f"{100 * res['overhead']['overhead_vs_raw']:+.1f} %"),
    ]
    if "forward_geolearn_over_deepwave" in res["deepwave"]:
        rows += [
            (
                f"forward time geolearn / deepwave ({res['deepwave']['threads_both']} thread(s) each)",
                res["deepwave"]["forward_geolearn_over_deepwave"],
            ),
            ("gradient time geolearn / deepwave", res["deepwave"]["gradient_geolearn_over_deepwave"]),
        ]
    else:
        rows.append(("deepwave", res["deepwave"]["deepwave"]))
    mem = res["memory"]
    rows += [
        (f"gradient memory, {m}, nt={mem['nt']} (MiB)", v / 2**20) for m, v in mem["extra_bytes"].items()
    ]
    head = (
        f"wave benchmark: {res['grid'][0]}x{res['grid'][1]} (+{res['nbl']} absorbing), so {res['space_order']}, "
        f"nt {res['nt']}, 1 shot, {res['cores']} cores"
    )
    lines = [head, "-" * len(head)]
    lines += [f"{k:<58} {v:.4g}" if isinstance(v, float) else f"{k:<58} {v}" for k, v in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="nt 300, 2 repeats, memory at nt 600")
    parser.add_argument("--nt", type=int, default=1000)
    parser.add_argument("--memory-nt", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--memory-child", choices=list(MEMORY_MODES))
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child, args.nt)
        return
    if args.quick:
        args.nt, args.repeat, args.memory_nt = 300, 2, 600
    res = run(args.nt, args.repeat, args.memory_nt)
    print(table(res))
    RESULTS.mkdir(parents=True, exist_ok=True)
    with atomic_write(RESULTS / f"wave_bench{'_quick' if args.quick else ''}.json", "w") as f:
        json.dump(res, f, indent=2)


if __name__ == "__main__":
    main()
