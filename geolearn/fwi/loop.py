"""The FWI iteration: multiscale bands, projected L-BFGS or Adam steps, a checkpoint after every iteration.

One iteration: (re)evaluate the misfit and gradient on the current frequency band (shot-
parallel, reduced in shot order), precondition the gradient (water mask, illumination), take a
step (L-BFGS with an Armijo backtracking line search on the projected path, or Adam with
clipping to the bounds), append to the history, save the state atomically. Each band starts
from the previous band's model with a fresh L-BFGS memory (the objective changed), low-pass
filtered data and wavelet and, optionally, a re-estimated wavelet.

Exact resumption: the state after iteration ``k`` holds the model, the optimiser state
(L-BFGS pairs or Adam moments), the misfit and gradient at the model when the next iteration
will reuse them, the band's wavelet and preconditioner, the counters, the RNG state and the
history; everything else is a deterministic function of ``fwi_inputs.npz``.

Cost: ``n_solves`` is measured with the cost ledger (:func:`geolearn.ledger.count_solves`)
around every evaluation, on whichever workers the shots ran, and kept in the state. A resumed
run continues the saved count, so its history equals the uninterrupted run's: the part of an
iteration that a killed process had done after its last checkpoint, and that the resumed run
does again, is counted once, as the work of the inversion's path (the solves the crash wasted
are not in the history).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from geolearn.fwi.gradient import gradient_shot, misfit_shot
from geolearn.fwi.multiscale import band_schedule, lowpass
from geolearn.fwi.preconditioning import gradient_weights, water_mask
from geolearn.fwi.state import FwiSettings
from geolearn.imaging.problem import ShotProblem
from geolearn.imaging.results import relative_error
from geolearn.imaging.wavelet import estimate_wavelet
from geolearn.io.state import restore_rng, rng_state, save_state
from geolearn.ledger import count_solves
from geolearn.parallel import ShotExecutor
from geolearn.solvers.lbfgs import ProjectedLBFGS

__all__ = ["HISTORY_KEYS", "FwiRun", "initial_state", "run_fwi"]

logger = logging.getLogger("geolearn.fwi.loop")

HISTORY_KEYS = ("iteration", "band", "frequency", "misfit", "model_error", "step", "n_solves", "time")


class FwiRun:
    """The inputs of one inversion and the band-dependent data derived from them.

    Parameters
    ----------
    problem : ShotProblem
    observed : ndarray, shape (n_shots, max_receivers, nt)
    initial, true : ndarray, shape (nx, nz)
        Starting and (or None) true velocity, m/s.
    settings : FwiSettings
    run_dir : Path or None
        Where the state is saved and the outputs are written (see :func:`geolearn.fwi.finish`).
    ex : ShotExecutor
    progress : bool
        tqdm bars over iterations and shots.
    """

    def __init__(self, problem: ShotProblem, observed: np.ndarray, initial: np.ndarray, true: np.ndarray | None,
                 settings: FwiSettings, run_dir: Path | None, ex: ShotExecutor, progress: bool) -> None:  # fmt: skip
        self.problem, self.observed, self.initial, self.true = problem, observed, initial, true
        self.settings, self.run_dir, self.ex, self.progress = settings, run_dir, ex, progress
        self.bands = band_schedule(settings.bands)
        self.mask = water_mask(problem.shape, problem.spacing, problem.origin, settings.water_depth)
        self._band_data: tuple[int, np.ndarray] | None = None

    def observed_band(self, band: int) -> np.ndarray:
        if self._band_data is None or self._band_data[0] != band:
            self._band_data = (band, lowpass(self.observed, self.problem.dt, self.bands[band]))
        return self._band_data[1]

    def evaluate(self, state: dict[str, Any], x: np.ndarray, shots: list[int], illumination: bool) -> dict:
        problem = self.problem.with_wavelets(state["wavelet"])
        with count_solves() as cost:
            out = self.ex.map_reduce(gradient_shot, shots, problem, x, self.observed_band(state["band"]),
                                     self.settings.misfit, None, illumination, progress=self.progress,
                                     desc="FWI gradient")  # fmt: skip
        state["n_solves"] += cost.solves
        return out

    def misfit(self, state: dict[str, Any], x: np.ndarray) -> float:
        problem = self.problem.with_wavelets(state["wavelet"])
        shots = range(problem.n_shots)
        with count_solves() as cost:
            value = self.ex.map_reduce(misfit_shot, shots, problem, x, self.observed_band(state["band"]),
                                       self.settings.misfit, progress=self.progress, desc="misfit")  # fmt: skip
        state["n_solves"] += cost.solves
        return float(value)


def initial_state(initial: np.ndarray) -> dict[str, Any]:
    """The state before the first iteration."""
    return {"model": initial.copy(), "optimizer": None, "iteration": 0, "band": 0, "iteration_in_band": 0,
            "n_solves": 0.0, "rng": None, "history": {k: [] for k in HISTORY_KEYS}, "f": None, "g": None,
            "wavelet": None, "weights": None, "gradients": [], "elapsed": 0.0}  # fmt: skip


def _start_band(run: FwiRun, state: dict[str, Any]) -> None:
    s, p = run.settings, run.problem
    wavelet = lowpass(p.wavelets, p.dt, run.bands[state["band"]])
    state["wavelet"] = wavelet
    if s.estimate_wavelet:
        band_problem = p.with_wavelets(wavelet)
        with count_solves() as cost:
            state["wavelet"] = estimate_wavelet(band_problem, state["model"], run.observed_band(state["band"]),
                                                run.ex, progress=run.progress)  # fmt: skip
        state["n_solves"] += cost.solves
    state["f"] = state["g"] = state["weights"] = None
    if s.optimizer == "lbfgs" and state["optimizer"] is not None:
        state["optimizer"]["s"], state["optimizer"]["y"] = [], []


def _lbfgs_step(
    run: FwiRun, state: dict, x: np.ndarray, f: float, g: np.ndarray, shots: list[int]
) -> np.ndarray:
    s = run.settings
    opt = ProjectedLBFGS(*s.bounds, memory=s.lbfgs_memory)
    if state["optimizer"] is not None:
        opt.load_state_dict(state["optimizer"])
    p = opt.direction(x, g, state["weights"])
    pmax = float(np.abs(p).max())
    if pmax == 0:
        logger.warning("FWI: zero search direction at iteration %d (all variables at bounds or masked)",
                       state["iteration"] + 1)  # fmt: skip
        state["optimizer"] = opt.state_dict()
        return x
    alpha = s.initial_step / pmax if not opt.s else min(1.0, s.max_update / pmax)
    for _ in range(s.max_backtracks):
        x_new = opt.project(x + alpha * p)
        out = run.evaluate(state, x_new, shots, False)
        if opt.accept(f, g, x, float(out["value"]), x_new):
            opt.update(x_new - x, out["gradient"] - g)
            state["f"], state["g"] = float(out["value"]), out["gradient"]
            state["optimizer"] = opt.state_dict()
            return x_new
        alpha *= 0.5
    logger.warning(
        "FWI: line search failed at iteration %d; model kept, L-BFGS memory reset", state["iteration"] + 1
    )
    opt.reset()
    state["optimizer"] = opt.state_dict()
    return x


def _adam_step(run: FwiRun, state: dict, x: np.ndarray, g: np.ndarray) -> np.ndarray:
    s = run.settings
    param = torch.tensor(x, dtype=torch.float64)
    adam = torch.optim.Adam([param], lr=s.learning_rate)
    if state["optimizer"] is not None:
        adam.load_state_dict(state["optimizer"])
    param.grad = torch.as_tensor(state["weights"] * g)
    adam.step()
    with torch.no_grad():
        param.clamp_(*s.bounds)
    state["optimizer"] = adam.state_dict()
    state["f"] = state["g"] = None  # Adam evaluates at the new model next iteration
    return param.numpy().copy()


def run_fwi(run: FwiRun, state: dict[str, Any], callback: Callable[[int, dict], Any] | None = None) -> dict:
    """Iterate from ``state`` to the end of the last band (saving the state as configured)."""
    s, p = run.settings, run.problem
    rng = np.random.default_rng(s.seed)
    if state["rng"] is not None:
        restore_rng(state["rng"], numpy=rng)
    total = len(run.bands) * s.iterations
    t0 = time.perf_counter() - state["elapsed"]
    with tqdm(
        total=total, initial=state["iteration"], desc="FWI", disable=not run.progress, leave=False
    ) as bar:
        while state["iteration"] < total:
            if state["iteration_in_band"] == 0 and state["wavelet"] is None:
                _start_band(run, state)
            x = state["model"]
            shots = list(range(p.n_shots))
            if s.shots_per_iteration is not None and s.shots_per_iteration < p.n_shots:
                shots = sorted(int(i) for i in rng.choice(p.n_shots, s.shots_per_iteration, replace=False))
                state["f"] = None  # a new subset is a new objective
            if state["f"] is None:
                out = run.evaluate(state, x, shots, state["weights"] is None)
                state["f"], state["g"] = float(out["value"]), out["gradient"]
                if state["weights"] is None:
                    state["weights"] = gradient_weights(run.mask, out.get("illumination"), s.precondition,
                                                        s.illumination_eps)  # fmt: skip
                    state["gradients"].append(state["weights"] * state["g"])
            f, g = state["f"], state["g"]
            if s.optimizer == "lbfgs":
                x_new = _lbfgs_step(run, state, x, f, g, shots)
            else:
                x_new = _adam_step(run, state, x, g)
            state["model"] = x_new
            state["iteration"] += 1
            state["iteration_in_band"] += 1
            entry = {"iteration": state["iteration"], "band": state["band"], "frequency": run.bands[state["band"]],
                     "misfit": f, "model_error": relative_error(x_new, run.true),
                     "step": float(np.abs(x_new - x).max()), "n_solves": state["n_solves"],
                     "time": time.perf_counter() - t0}  # fmt: skip
            for k in HISTORY_KEYS:
                state["history"][k].append(entry[k])
            if state["iteration_in_band"] == s.iterations and state["iteration"] < total:
                state["band"] += 1
                state["iteration_in_band"] = 0
                state["wavelet"] = None
            state["rng"] = rng_state(numpy=rng)
            state["elapsed"] = entry["time"]
            if run.run_dir is not None and (
                state["iteration"] % s.checkpoint_every == 0 or state["iteration"] == total
            ):
                save_state(run.run_dir, state)
            bar.update(1)
            bar.set_postfix(misfit=f"{f:.4g}", band=state["band"])
            logger.info("FWI iteration %d (band %d): misfit %.6g, max step %.3g m/s", entry["iteration"],
                        entry["band"], f, entry["step"])  # fmt: skip
            if callback is not None:
                callback(state["iteration"], entry)
    return state
