"""Running a configuration: :func:`run_from_config` for every workflow, :func:`resume` for FWI run directories.

Each workflow first builds its problem from the configuration (reading files, no solve), runs
the pre-flight (:func:`geolearn.imaging.preflight` / :func:`geolearn.fwi.check_run`: outputs
writable, free disk, coverage, stable ``dt``, grid), and only then starts the shot executor
and solves. An FWI run, fresh or resumed, ends in :func:`geolearn.fwi.finish`, which writes
``model.sgy`` and ``fwi.png``: both write the same run directory.
"""

from __future__ import annotations

import logging
import os
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from geolearn.fwi import FwiRun, FwiSettings, check_run, finish, fwi, initial_state, load_inputs
from geolearn.fwi.outputs import run_outputs
from geolearn.imaging import ShotProblem, choose_dt, lsrtm, model_problem, preflight, problem_from_survey, rtm
from geolearn.imaging import survey_problem as build_survey_problem
from geolearn.imaging.preflight import FIGURE_BYTES, segy_bytes
from geolearn.imaging.results import FwiResult, ImageResult, SurveyResult
from geolearn.imaging.rtm import image_output
from geolearn.imaging.shots import executor
from geolearn.io.state import STATE_FILE, load_state
from geolearn.parallel import ShotExecutor
from geolearn.runs.checkpoint import CONFIG_FILE, RunDirectory, remove_leftovers
from geolearn.runs.config import Config, load_config
from geolearn.runs.velocity import load_velocity
from geolearn.viz import save_figure

__all__ = ["resume", "run_from_config"]

logger = logging.getLogger("geolearn.runs.run")

SURVEY_FILE, SURVEY_FIGURE = "shots.sgy", "survey.png"
IMAGE_FILE, IMAGE_FIGURE = "image.sgy", "image.png"


def resume(
    run_dir: str | os.PathLike, *, client: Any = None, n_workers: int | None = None, progress: bool | None = None,
    callback: Any = None,
) -> FwiResult:  # fmt: skip
    """Continue an FWI run from its directory (after a crash, a kill, or to finish it).

    The run continues at the iteration after the last saved state, with the saved model,
    optimiser memory, band, wavelet, preconditioner, RNG state and history, and ends like an
    uninterrupted run (:func:`geolearn.fwi.finish`): the same result and the same files,
    ``model.sgy`` and ``fwi.png`` included. A directory without a state yet starts from the
    beginning; a finished run returns its result (and writes its outputs again).

    Parameters
    ----------
    run_dir : path
        Directory given to :func:`geolearn.fwi.fwi` (or ``run.output_dir`` of a config).
    client, n_workers
        As in :func:`geolearn.fwi.fwi` (where shots run may differ from the first run;
        results then agree to rounding rather than bitwise).
    progress : bool, optional
        Progress bars; default ``run.progress`` of the directory's ``config.toml``, or off for
        a run started from Python.
    callback : callable, optional
        ``callback(iteration, entry)`` after each iteration.

    Raises
    ------
    FileNotFoundError
        ``run_dir`` is not an FWI run directory.
    ConfigError, StabilityError, ...
        From :func:`geolearn.fwi.check_run`, before any solve.
    """
    directory = Path(run_dir)
    problem, observed, initial, true, settings = load_inputs(directory)
    remove_leftovers(directory, [CONFIG_FILE, *run_outputs(problem, settings, true is not None, directory)])
    if progress is None:
        progress = (directory / CONFIG_FILE).is_file() and RunDirectory(directory).run_settings().progress
    check_run(problem, initial, true, settings, directory)
    state = load_state(directory) if (directory / STATE_FILE).is_file() else initial_state(initial)
    logger.info("resuming %s after iteration %d", directory, state["iteration"])
    with executor(client, n_workers=n_workers, progress=progress) as ex:
        run = FwiRun(problem, observed, initial, true, settings, directory, ex, progress)
        return finish(run, state, callback)


def run_from_config(
    config: Config | str | os.PathLike | dict, *, overrides: dict[str, Any] | None = None,
    overwrite: bool = False,
) -> SurveyResult | ImageResult | FwiResult:  # fmt: skip
    """Run the workflow a TOML configuration describes; outputs and PNG figures go to ``run.output_dir``.

    Parameters
    ----------
    config : Config, path to a TOML file, or mapping
        Validated with :func:`geolearn.runs.load_config` (``overrides`` as there).
    overwrite : bool
        Reuse an output directory that already holds an FWI run (its files are removed).

    Returns
    -------
    SurveyResult, ImageResult or FwiResult
        ``run.workflow`` "model" writes ``shots.sgy`` and ``survey.png``; "rtm"/"lsrtm" write
        ``image.sgy`` and ``image.png``; "fwi" creates a run directory (``config.toml``,
        ``fwi_inputs.npz``, ``state.npz`` after every iteration, ``model.sgy`` and ``fwi.png``
        at the end); continue an interrupted one with :func:`resume`.

    Raises
    ------
    ConfigError, ModelError, GeometryError, StabilityError
        Invalid configuration or inputs, before any wave-equation solve.
    FileExistsError
        An FWI run is already in ``run.output_dir`` and ``overwrite`` is False.
    """
    cfg = config if isinstance(config, Config) else load_config(config, overrides=overrides)
    workflows = {"model": _run_model, "rtm": _run_image, "lsrtm": _run_image, "fwi": _run_fwi}
    return workflows[cfg.run.workflow](cfg, overwrite)


def _executor(cfg: Config) -> AbstractContextManager[ShotExecutor]:
    par = cfg.parallel
    client = None if par.client == "serial" else par.client
    return executor(client, n_workers=par.n_workers, retries=par.retries, progress=cfg.run.progress)


def _survey_kwargs(cfg: Config, vmax: float | None = None) -> dict[str, Any]:
    """:func:`geolearn.imaging.problem_from_survey`'s keywords: header readings, preprocessing, source."""
    g, s, w = cfg.geometry, cfg.survey, cfg.wavelet
    return {
        "shots": s.shots, "f0": w.peak_frequency, "delay": w.delay,
        "wavelet": w.path if w.kind == "file" else None, "nbl": cfg.modelling.nbl,
        "space_order": cfg.modelling.space_order, "dtype": cfg.run.dtype, "source_depth": g.source_depth,
        "receiver_depth": g.receiver_depth, "coordinate_scale": g.coordinate_scale, "nt": g.nt, "vmax": vmax,
        "record_dt": g.dt, "preprocess": cfg.preprocess, "coordinate_units": s.coordinate_units,
        "header": s.header, "coordinate_scalar": s.coordinate_scalar, "elevation_scalar": s.elevation_scalar,
        "z_positive": s.z_positive, "polarity": s.polarity,
    }  # fmt: skip


#: How each wavelet kind is fitted to the data before migrating (see geolearn.imaging.fit_wavelet).
_WAVELET_FIT = {"ricker": "none", "estimate": "spectrum", "file": "amplitude"}


def _synthetic_problem(cfg: Config, velocity: Any, spacing: tuple, origin: tuple, vmax: float) -> ShotProblem:
    """The ``[acquisition]`` survey over ``velocity`` with a ``dt`` stable up to ``vmax`` m/s."""
    a = cfg.acquisition
    dt = a.dt if a.dt is not None else choose_dt(vmax, spacing, cfg.modelling.space_order)
    return build_survey_problem(
        velocity, spacing, origin=origin, source_spacing=a.source_spacing, receiver_spacing=a.receiver_spacing,
        source_depth=a.source_depth, receiver_depth=a.receiver_depth, record_length=a.record_length,
        f0=cfg.wavelet.peak_frequency, delay=cfg.wavelet.delay, dt=dt, nbl=cfg.modelling.nbl,
        space_order=cfg.modelling.space_order, dtype=cfg.run.dtype,
    )  # fmt: skip


def _run_model(cfg: Config, overwrite: bool) -> SurveyResult:
    out = Path(cfg.run.output_dir)
    vp, spacing, origin = load_velocity(cfg.velocity, cfg.velocity.path, smoothing=False)
    problem = _synthetic_problem(cfg, vp, spacing, origin, float(vp.max()))
    outputs = {
        out / SURVEY_FILE: segy_bytes(sum(problem.n_receivers), problem.nt),
        out / SURVEY_FIGURE: FIGURE_BYTES,
    }
    preflight(problem, outputs=outputs, create_parents=True)
    out.mkdir(parents=True, exist_ok=True)
    with _executor(cfg) as ex:
        result = model_problem(problem, output=out / SURVEY_FILE, client=ex, progress=cfg.run.progress)
    save_figure(result.plot(), out / SURVEY_FIGURE)
    return result


def _run_image(cfg: Config, overwrite: bool) -> ImageResult:
    out = Path(cfg.run.output_dir)
    vp, spacing, origin = load_velocity(cfg.velocity, cfg.velocity.path, smoothing=False)
    problem, observed = problem_from_survey(
        cfg.survey.path, vp, spacing, origin=origin, **_survey_kwargs(cfg)
    )
    outputs = {**image_output(out / IMAGE_FILE, problem), out / IMAGE_FIGURE: FIGURE_BYTES}
    preflight(problem, velocities=[vp], outputs=outputs, create_parents=True)
    out.mkdir(parents=True, exist_ok=True)
    with _executor(cfg) as ex:
        common = {"output": out / IMAGE_FILE, "client": ex, "progress": cfg.run.progress,
                  "wavelet_fit": _WAVELET_FIT[cfg.wavelet.kind], "wavelet_window": cfg.wavelet.window}  # fmt: skip
        if cfg.run.workflow == "rtm":
            result = rtm((problem, observed), vp, illumination=cfg.rtm.illumination, laplacian=cfg.rtm.laplacian,
                         mute_water=cfg.rtm.water_mute, **common)  # fmt: skip
        else:
            result = lsrtm((problem, observed), vp, method=cfg.lsrtm.method, iterations=cfg.lsrtm.iterations,
                           sparsity=cfg.lsrtm.sparsity, mute_water=cfg.lsrtm.water_mute, **common)  # fmt: skip
    gain = cfg.rtm.display_gain if cfg.run.workflow == "rtm" else cfg.lsrtm.display_gain
    save_figure(result.plot(gain=gain), out / IMAGE_FIGURE)
    return result


def _fwi_settings(cfg: Config) -> FwiSettings:
    f = cfg.fwi
    return FwiSettings(
        misfit=f.misfit, optimizer=f.optimizer, iterations=f.iterations, bands=f.bands, bounds=f.bounds,
        learning_rate=f.learning_rate, lbfgs_memory=f.lbfgs_memory, water_depth=f.water_depth,
        precondition=f.precondition, estimate_wavelet=f.estimate_wavelet, seed=cfg.run.seed,
        checkpoint_every=cfg.checkpoint.every,
    )  # fmt: skip


def _run_fwi(cfg: Config, overwrite: bool) -> FwiResult:
    out = Path(cfg.run.output_dir)
    settings = _fwi_settings(cfg)
    vp, spacing, origin = load_velocity(cfg.velocity, cfg.velocity.path, smoothing=True)
    true = None
    if cfg.velocity.true_path is not None:
        true = load_velocity(cfg.velocity, cfg.velocity.true_path, smoothing=False)[0]
    vmax = max(settings.bounds[1], float(vp.max()), float(true.max()) if true is not None else 0.0)
    observed = None
    if cfg.survey.path is not None:
        problem, observed = problem_from_survey(cfg.survey.path, vp, spacing, origin=origin,
                                                **_survey_kwargs(cfg, vmax))  # fmt: skip
    else:  # synthetic data from the true model
        problem = _synthetic_problem(cfg, true, spacing, origin, vmax)
    check_run(problem, vp, true, settings, out)
    RunDirectory.create(out, cfg, overwrite=overwrite)
    if overwrite:
        for path in run_outputs(problem, settings, true is not None, out):
            path.unlink(missing_ok=True)
    with _executor(cfg) as ex:
        if observed is None:
            observed = model_problem(problem, client=ex, progress=cfg.run.progress).records
        return fwi((problem, observed), vp, true=true, settings=settings, run_dir=out, client=ex,
                   progress=cfg.run.progress)  # fmt: skip
