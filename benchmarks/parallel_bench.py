"""Shot-parallel throughput: the serial loop vs Dask LocalCluster layouts (workers x threads).

Measures, in one run and on the same per-shot function:

- shots per second serially (in-process, the wave kernels on geolearn's automatic thread count)
  and on a LocalCluster for every layout ``workers x threads = cores`` (on 2 cores: 1 x 2 and
  2 x 1; ``threads`` is each worker's wave-kernel budget, ``ShotExecutor(worker_threads=...)``);
- each layout's speed-up over the serial loop, and which one wins;
- the round trip of a no-op task, and the start-up time of each LocalCluster.

The per-shot function is pluggable: ``--shot-fn module:function`` with ``--shot-kwargs JSON``;
it is called as ``fn(shot, **kwargs)`` and must return a pytree that ``tree_sum`` can add (e.g. a
gradient array). The default is the real thing: the FWI gradient of one shot by
``geolearn.wave.fwi_objective`` (Devito forward + adjoint, 300 x 150 grid, space order 8; each
worker compiles its operators once, during the warm-up). ``--stand-in`` uses a NumPy 2D
finite-difference shot instead (no compiler needed).

Usage::

    python benchmarks/parallel_bench.py                       # Devito FWI gradient per shot
    python benchmarks/parallel_bench.py --stand-in            # NumPy stand-in
    python benchmarks/parallel_bench.py --shots 32 --nt 600
    python benchmarks/parallel_bench.py --shot-fn mypkg.shots:gradient --shot-kwargs '{"nx": 300}'

Writes ``benchmarks/results/parallel_bench.json``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from geolearn.atomic import atomic_write
from geolearn.parallel import ShotExecutor
from geolearn.threads import usable_cores

RESULTS = Path(__file__).resolve().parent / "results"


def fd_shot(shot: int, nx: int = 300, nz: int = 150, nt: int = 600, n_shots: int = 16) -> np.ndarray:
    """Stand-in shot: 2D constant-density acoustic FD, returns the zero-lag source-side image ``(nx, nz)``."""
    dx, dt, v = 10.0, 1e-3, 2000.0
    c2 = (v * dt / dx) ** 2
    sx = int((shot + 0.5) * nx / n_shots) % nx
    u_prev, u = np.zeros((nx, nz)), np.zeros((nx, nz))
    t = np.arange(nt) * dt - 0.05
    wavelet = (1 - 2 * (np.pi * 15 * t) ** 2) * np.exp(-((np.pi * 15 * t) ** 2))
    image = np.zeros((nx, nz))
    for it in range(nt):
        lap = np.zeros_like(u)
        lap[1:-1, 1:-1] = u[2:, 1:-1] + u[:-2, 1:-1] + u[1:-1, 2:] + u[1:-1, :-2] - 4 * u[1:-1, 1:-1]
        u_next = 2 * u - u_prev + c2 * lap
        u_next[sx, 2] += wavelet[it]
        u_prev, u = u, u_next
        image += u * u
    return image


def wave_gradient_shot(
    shot: int, nx: int = 300, nz: int = 150, tn: float = 1.0, n_shots: int = 16
) -> np.ndarray:
    """One shot's FWI gradient ``(nx, nz)`` on a two-layer model (Devito forward and adjoint solves)."""
    import torch

    from geolearn.wave import Geometry, Model, fwi_objective

    vp = np.full((nx, nz), 1500.0, dtype=np.float32)
    vp[:, nz // 2 :] = 2200.0
    model = Model(vp, spacing=(10.0, 10.0), nbl=40, space_order=8)
    x_src = (shot + 0.5) * (nx - 1) * 10.0 / n_shots
    receivers = np.stack([np.linspace(0.0, (nx - 1) * 10.0, nx), np.full(nx, 20.0)], axis=1)
    geometry = Geometry(model, [[x_src, 20.0]], receivers, tn=tn, f0=10.0)
    observed = torch.zeros(geometry.record_shape)
    _, gradient = fwi_objective(torch.full((nx, nz), 1600.0), geometry, observed)
    return gradient.double().numpy()


def noop(shot: int) -> int:
    return shot


def _load(spec: str) -> Callable[..., Any]:
    module, _, name = spec.partition(":")
    if not name:
        raise SystemExit(f"--shot-fn must look like module:function, got {spec!r}")
    return getattr(importlib.import_module(module), name)


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def layouts(cores: int) -> list[tuple[int, int]]:
    """``(workers, threads)`` with ``workers * threads == cores``, workers a power of two."""
    return [(w, cores // w) for w in (2**i for i in range(cores.bit_length())) if cores % w == 0]


def run(shot_fn: Callable[..., Any], shot_kwargs: dict, n_shots: int, n_noop: int, repeats: int) -> dict:
    shots = list(range(n_shots))
    rows: dict[str, dict[str, Any]] = {}
    cores = usable_cores()
    shot_fn(shots[0], **shot_kwargs)  # warm-up as for the workers: imports, JIT compilation
    load = os.getloadavg()[0]
    serial_t = min(
        _timed(lambda: ShotExecutor(progress=False).map_reduce(shot_fn, shots, **shot_kwargs))[0]
        for _ in range(repeats)
    )
    reference = ShotExecutor(progress=False).map_reduce(shot_fn, shots, **shot_kwargs)
    rows["serial"] = {"workers": 1, "threads": "auto", "seconds": serial_t}
    for n_workers, threads in layouts(cores):
        start_t, ex = _timed(
            lambda n=n_workers, t=threads: ShotExecutor(
                "local", n_workers=n, worker_threads=t, progress=False
            )
        )
        with ex:
            ex.map_reduce(
                shot_fn, shots[: min(2 * n_workers, n_shots)], **shot_kwargs
            )  # imports, compilation
            best = float("inf")
            for _ in range(repeats):
                t, result = _timed(lambda e=ex: e.map_reduce(shot_fn, shots, **shot_kwargs))
                best = min(best, t)
            diff = float(np.max(np.abs(np.asarray(result) - np.asarray(reference))))
            noop_t = _timed(lambda e=ex: e.map(noop, range(n_noop)))[0]
        rows[f"dask-{n_workers}x{threads}"] = {
            "workers": n_workers,
            "threads": threads,
            "seconds": best,
            "cluster_start_s": start_t,
            "max_abs_diff_vs_serial": diff,
            "noop_task_ms": 1e3 * noop_t / n_noop,
        }
    for row in rows.values():
        row["shots_per_s"] = n_shots / row["seconds"]
        row["speedup_vs_serial"] = serial_t / row["seconds"]
    return {
        "shot_fn": f"{shot_fn.__module__}:{shot_fn.__name__}",
        "shot_kwargs": shot_kwargs,
        "n_shots": n_shots,
        "rows": rows,
        "fastest": min(rows, key=lambda k: rows[k]["seconds"]),
        "load_start": load,
        "load_end": os.getloadavg()[0],
        "machine": {
            "cpus": os.cpu_count(),
            "usable_cores": cores,
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shot-fn", default=None, help="module:function (default: a Devito FWI gradient)")
    parser.add_argument("--stand-in", action="store_true", help="use the NumPy FD stand-in shot")
    parser.add_argument("--shot-kwargs", default=None, help="JSON keyword arguments of the shot function")
    parser.add_argument("--shots", type=int, default=16)
    parser.add_argument("--noop-tasks", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS / "parallel_bench.json")
    args = parser.parse_args()
    shot_fn = _load(args.shot_fn) if args.shot_fn else (fd_shot if args.stand_in else wave_gradient_shot)
    kwargs = (
        json.loads(args.shot_kwargs)
        if args.shot_kwargs
        else ({"n_shots": args.shots} if shot_fn in (fd_shot, wave_gradient_shot) else {})
    )

    report = run(shot_fn, kwargs, args.shots, args.noop_tasks, args.repeats)
    print(
        f"per-shot function: {report['shot_fn']} {kwargs}; {args.shots} shots; "
        f"{report['machine']['usable_cores']} cores; load {report['load_start']:.2f} -> {report['load_end']:.2f}"
    )
    print(
        f"{'mode':<10} {'workers':>7} {'threads':>7} {'time [s]':>9} {'shots/s':>8} {'vs serial':>9} "
        f"{'start [s]':>9} {'no-op [ms]':>10} {'max|diff|':>10}"
    )

    def cell(row: dict, key: str, fmt: str) -> str:
        return format(row[key], fmt) if row.get(key) is not None else "-"

    for name, row in report["rows"].items():
        print(
            f"{name:<10} {row['workers']:>7} {row['threads']!s:>7} {row['seconds']:>9.3f} {row['shots_per_s']:>8.2f} "
            f"{row['speedup_vs_serial']:>9.2f} {cell(row, 'cluster_start_s', '.2f'):>9} "
            f"{cell(row, 'noop_task_ms', '.2f'):>10} {cell(row, 'max_abs_diff_vs_serial', '.2e'):>10}"
        )
    print(f"fastest: {report['fastest']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(args.out, "w") as f:
        json.dump(report, f, indent=2)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
