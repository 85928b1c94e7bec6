"""Full-waveform inversion: the entry point, its pre-flight, and the one way an inversion ends.

:func:`fwi` checks its inputs (:func:`check_run`), stores them in the run directory, and
hands over to :func:`finish`, which iterates to the end (:func:`geolearn.fwi.loop.run_fwi`),
builds the result and writes the run directory's outputs. :func:`geolearn.runs.resume` calls
the same :func:`check_run` and :func:`finish` on a directory's saved state: a resumed run
writes what an uninterrupted one writes.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from geolearn.fwi.loop import FwiRun, initial_state, run_fwi
from geolearn.fwi.outputs import run_outputs, write_outputs
from geolearn.fwi.state import FwiSettings, save_inputs
from geolearn.imaging.discretisation import as_velocity
from geolearn.imaging.preflight import preflight
from geolearn.imaging.problem import ShotProblem
from geolearn.imaging.results import FwiResult
from geolearn.imaging.shots import executor
from geolearn.imaging.survey_input import resolve_survey
from geolearn.io.state import STATE_FILE

__all__ = ["check_run", "finish", "fwi"]


def check_run(
    problem: ShotProblem, initial: np.ndarray, true: np.ndarray | None, settings: FwiSettings,
    run_dir: str | os.PathLike | None,
) -> None:  # fmt: skip
    """Pre-flight of one inversion, before any wave-equation solve (:func:`geolearn.imaging.preflight`).

    Checks the starting and true models against the grid and the acquisition, ``dt`` against
    the stability limit of the upper velocity bound, the grid against the wavelet, and (with a
    run directory) that the directory can be created or written and the disk holds its files
    (:func:`geolearn.fwi.outputs.run_outputs`).
    """
    velocities = [initial] if true is None else [initial, true]
    outputs = run_outputs(problem, settings, true is not None, run_dir) if run_dir is not None else None
    preflight(problem, velocities=velocities, vmax=settings.bounds[1], outputs=outputs, create_parents=True)


def finish(
    run: FwiRun, state: dict[str, Any], callback: Callable[[int, dict], Any] | None = None
) -> FwiResult:
    """Finish an inversion from ``state``: the one way every run ends, fresh or resumed.

    Iterates to the end of the last band (saving the state as configured; nothing when the
    state is already final), computes the misfits of the initial and final models on the last
    band's data (2 forward solves per shot), and, with a run directory, writes ``model.sgy``
    and ``fwi.png`` there (:func:`geolearn.fwi.outputs.write_outputs`).

    Parameters
    ----------
    run : FwiRun
    state : dict
        :func:`initial_state` or a state loaded from the run directory.
    callback : callable, optional
        ``callback(iteration, entry)`` after each iteration (and its checkpoint).
    """
    state = run_fwi(run, state, callback)
    result = FwiResult(
        velocity=state["model"], initial=run.initial, history=state["history"], problem=run.problem, true=run.true,
        gradients=list(state["gradients"]), misfit_initial=run.misfit(state, run.initial),
        misfit_final=run.misfit(state, state["model"]), run_dir=run.run_dir, wavelets=state["wavelet"],
    )  # fmt: skip
    if run.run_dir is not None:
        write_outputs(result, run.run_dir)
    return result


def fwi(
    survey: Any,
    initial: np.ndarray | torch.Tensor | str | os.PathLike,
    spacing: tuple[float, ...] | None = None,
    *,
    true: np.ndarray | torch.Tensor | None = None,
    settings: FwiSettings | None = None,
    run_dir: str | os.PathLike | None = None,
    client: Any = None,
    n_workers: int | None = None,
    progress: bool = False,
    callback: Callable[[int, dict], Any] | None = None,
    origin: tuple[float, ...] | None = None,
    survey_kwargs: dict[str, Any] | None = None,
    **options: Any,
) -> FwiResult:
    """Full-waveform inversion of a shot survey.

    Parameters
    ----------
    survey : SurveyResult, (ShotProblem, records), geolearn.io.Survey or SEG-Y path
        Observed data (see :func:`~geolearn.imaging.problem.resolve_survey`;
        ``survey_kwargs`` go to :func:`~geolearn.imaging.problem_from_survey` for SEG-Y).
    initial : array (nx, nz), tensor, VelocityModel or path
        Starting velocity, m/s.
    spacing, origin : tuple of float, optional
        Grid of an array ``initial`` read with a SEG-Y survey, m.
    true : array (nx, nz), optional
        True model: the history then has the relative model error.
    settings : FwiSettings, optional
        All options; or give them as keywords (``options``): ``misfit`` ("l2", "ncc",
        "envelope"), ``optimizer`` ("lbfgs", "adam"), ``iterations`` (per band), ``bands``
        (low-pass corners in Hz, lowest first), ``bounds`` ((v_min, v_max) m/s),
        ``learning_rate`` (Adam, m/s), ``lbfgs_memory``, ``initial_step`` (largest change of
        L-BFGS's first step, m/s), ``max_update`` (cap on later steps, m/s),
        ``max_backtracks``, ``water_depth`` (m, gradient zeroed above), ``precondition``
        ("none", "illumination"), ``estimate_wavelet``, ``shots_per_iteration`` (random
        subsets drawn with ``seed``), ``seed``, ``checkpoint_every``.
    run_dir : path, optional
        Run directory (created with its parents): inputs are stored once, the state after
        every ``checkpoint_every`` iterations, and the final model (``model.sgy``) and figure
        (``fwi.png``) at the end (see :mod:`geolearn.fwi.outputs`); continue an interrupted run
        with :func:`geolearn.runs.resume`, which ends the same way. Refused if it already
        holds an FWI state.
    client, n_workers, progress
        Shot-parallel execution (see :func:`geolearn.imaging.model_survey`).
    callback : callable, optional
        ``callback(iteration, entry)`` after each iteration (and its checkpoint).

    Raises
    ------
    ConfigError, ModelError, GeometryError, StabilityError
        Before any wave-equation solve (:func:`check_run`): bad settings, an unwritable run
        directory or too little disk, velocities on another grid, a source or receiver outside
        the model, ``dt`` unstable for the upper bound, a grid too coarse for the wavelet.

    Returns
    -------
    FwiResult
        Final model, history, first gradient of each band, misfits of the initial and final
        models on the last band's data.
    """
    if settings is None:
        settings = FwiSettings(**options)
    elif options:
        settings = FwiSettings.from_dict({**settings.to_dict(), **options})
    problem, observed, v0 = resolve_survey(survey, initial, spacing, origin=origin, **(survey_kwargs or {}))
    true_v = as_velocity(true, "true velocity") if true is not None else None
    directory = Path(run_dir) if run_dir is not None else None
    if directory is not None and (directory / STATE_FILE).exists():
        raise FileExistsError(f"{directory} already holds an FWI state; resume it or choose another run_dir")
    check_run(problem, v0, true_v, settings, directory)
    if directory is not None:
        directory.mkdir(parents=True, exist_ok=True)
        save_inputs(directory, problem, observed, v0, true_v, settings)
    with executor(client, n_workers=n_workers, progress=progress) as ex:
        run = FwiRun(problem, observed, v0, true_v, settings, directory, ex, progress)
        return finish(run, initial_state(v0), callback)
