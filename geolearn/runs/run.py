"""Entry points for runs: :func:`resume` an FWI run directory, :func:`run_from_config` for TOML files."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
from scipy.interpolate import RegularGridInterpolator
from scipy.ndimage import gaussian_filter

from geolearn.errors import ConfigError
from geolearn.fwi.inversion import FwiRun, finish, fwi, initial_state, run_fwi
from geolearn.fwi.state import FwiSettings, load_inputs
from geolearn.imaging.discretisation import choose_dt
from geolearn.imaging.lsrtm import lsrtm
from geolearn.imaging.modeling import model_survey
from geolearn.imaging.results import FwiResult, ImageResult, SurveyResult
from geolearn.imaging.rtm import rtm
from geolearn.imaging.shots import executor
from geolearn.io.state import load_state
from geolearn.runs.checkpoint import RunDirectory
from geolearn.runs.config import Config, VelocityConfig, load_config
from geolearn.viz.convergence import save_figure

__all__ = ["load_velocity", "resume", "run_from_config"]

logger = logging.getLogger("geolearn.runs.run")


def resume(
    run_dir: str | os.PathLike, *, client: Any = None, n_workers: int = 2, progress: bool = False,
    callback: Any = None,
) -> FwiResult:  # fmt: skip
    """Continue an FWI run from its directory (after a crash, a kill, or to finish it).

    The run continues at the iteration after the last saved state, with the saved model,
    optimiser memory, band, wavelet, preconditioner, RNG state and history; the result equals
    that of an uninterrupted run (see :mod:`geolearn.fwi.inversion`). A directory
    without a state yet starts from the beginning; a finished run returns its result.

    Parameters
    ----------
    run_dir : path
        Directory given to :func:`geolearn.fwi.fwi` (or ``run.output_dir`` of a config).
    client, n_workers, progress, callback
        As in :func:`geolearn.fwi.fwi` (where shots run may differ from the first run;
        results then agree to rounding rather than bitwise).

    Raises
    ------
    FileNotFoundError
        ``run_dir`` is not an FWI run directory.
    """
    directory = Path(run_dir)
    problem, observed, initial, true, settings = load_inputs(directory)
    if (directory / "config.toml").is_file():
        RunDirectory.open(directory)  # removes leftovers of interrupted writes
    state = load_state(directory) if (directory / "state.npz").is_file() else initial_state(initial)
    logger.info("resuming %s after iteration %d", directory, state["iteration"])
    with executor(client, n_workers=n_workers, progress=progress) as ex:
        run = FwiRun(problem, observed, initial, true, settings, directory, ex, progress)
        return finish(run, run_fwi(run, state, callback))


def load_velocity(
    cfg: VelocityConfig, path: str, *, smoothing: bool = True
) -> tuple[np.ndarray, tuple, tuple]:
    """A velocity model as the ``[velocity]`` section describes it: read, crop, resample, smooth.

    Returns
    -------
    values : ndarray (nx, nz), m/s, float64
    spacing, origin : tuple of float, m
    """
    from geolearn.io import read_model

    if cfg.format == "npy":
        if cfg.spacing is None:
            raise ConfigError("velocity.spacing is required when velocity.format = 'npy'")
        values = np.load(path).astype(np.float64) * (1000.0 if cfg.units == "km/s" else 1.0)
        spacing = tuple(cfg.spacing)
    else:
        fmt = "raw" if cfg.format == "bin" else "segy"
        model = read_model(path, shape=cfg.shape, spacing=cfg.spacing, unit=cfg.units, file_format=fmt)
        values, spacing = model.values.astype(np.float64), tuple(model.spacing)
    origin = tuple(cfg.origin)
    if cfg.crop is not None:
        lo = [round((c - o) / h) for c, o, h in zip(cfg.crop[::2], origin, spacing)]
        hi = [round((c - o) / h) for c, o, h in zip(cfg.crop[1::2], origin, spacing)]
        if any(a < 0 or b >= n for a, b, n in zip(lo, hi, values.shape)):
            raise ConfigError(f"velocity.crop = {list(cfg.crop)} reaches outside the model (shape {values.shape}, "
                              f"spacing {spacing}, origin {origin})")  # fmt: skip
        values = values[tuple(slice(a, b + 1) for a, b in zip(lo, hi))]
        origin = tuple(o + a * h for o, a, h in zip(origin, lo, spacing))
    if cfg.resample is not None:
        axes = [np.arange(n) * h for n, h in zip(values.shape, spacing)]
        new = [np.arange(0.0, ax[-1] + 1e-9, cfg.resample) for ax in axes]
        grid = np.meshgrid(*new, indexing="ij")
        values = RegularGridInterpolator(axes, values)(np.stack(grid, -1))
        spacing = (float(cfg.resample),) * values.ndim
    if smoothing and cfg.smoothing > 0:
        values = gaussian_filter(values, [cfg.smoothing / h for h in spacing], mode="nearest")
    return values, spacing, origin


def _survey_kwargs(cfg: Config, vmax: float | None = None) -> dict[str, Any]:
    g = cfg.geometry
    return {
        "shots": cfg.survey.shots, "f0": cfg.wavelet.peak_frequency, "delay": cfg.wavelet.delay,
        "nbl": cfg.modelling.nbl, "space_order": cfg.modelling.space_order, "dtype": cfg.run.dtype,
        "source_depth": g.source_depth, "receiver_depth": g.receiver_depth, "coordinate_scale": g.coordinate_scale,
        "nt": g.nt, "vmax": vmax,
    }  # fmt: skip


def _synthetic(
    cfg: Config, true: np.ndarray, spacing: tuple, origin: tuple, vmax: float, ex: Any
) -> SurveyResult:
    a = cfg.acquisition
    dt = a.dt if a.dt is not None else choose_dt(vmax, spacing, cfg.modelling.space_order)
    return model_survey(
        true, spacing, origin=origin, source_spacing=a.source_spacing, receiver_spacing=a.receiver_spacing,
        source_depth=a.source_depth, receiver_depth=a.receiver_depth, record_length=a.record_length,
        f0=cfg.wavelet.peak_frequency, delay=cfg.wavelet.delay, dt=dt, nbl=cfg.modelling.nbl,
        space_order=cfg.modelling.space_order, dtype=cfg.run.dtype, client=ex, progress=cfg.run.progress,
    )  # fmt: skip


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
        Reuse an output directory that already holds an FWI run.

    Returns
    -------
    SurveyResult, ImageResult or FwiResult
        ``run.workflow`` "model" writes ``shots.sgy`` and ``survey.png``; "rtm"/"lsrtm" write
        ``image.sgy`` and ``image.png``; "fwi" creates a run directory (``config.toml``,
        ``fwi_inputs.npz``, ``state.npz`` after every iteration) and writes ``model.sgy`` and
        ``fwi.png``; continue an interrupted one with :func:`resume`.
    """
    cfg = config if isinstance(config, Config) else load_config(config, overrides=overrides)
    out = Path(cfg.run.output_dir)
    par = cfg.parallel
    smooth_start = cfg.run.workflow == "fwi"
    vp, spacing, origin = load_velocity(cfg.velocity, cfg.velocity.path, smoothing=smooth_start)
    with executor(None if par.client == "serial" else par.client, n_workers=par.n_workers, retries=par.retries,
                  progress=cfg.run.progress) as ex:  # fmt: skip
        common = {"client": ex, "progress": cfg.run.progress}
        if cfg.run.workflow == "model":
            out.mkdir(parents=True, exist_ok=True)
            result: Any = _synthetic(cfg, vp, spacing, origin, float(vp.max()), ex)
            from geolearn.io import write_survey

            p = result.problem
            result.path = Path(write_survey(out / "shots.sgy", [result.records[i, :n] for i, n in
                                                                 enumerate(p.n_receivers)],
                                            p.src_positions, list(p.rec_positions), p.dt))  # fmt: skip
            save_figure(result.plot(), out / "survey.png")
            return result
        if cfg.run.workflow in ("rtm", "lsrtm"):
            out.mkdir(parents=True, exist_ok=True)
            kwargs = {**_survey_kwargs(cfg), "origin": origin, "output": out / "image.sgy", **common}
            if cfg.run.workflow == "rtm":
                result = rtm(cfg.survey.path, vp, spacing, illumination=cfg.rtm.illumination,
                             laplacian=cfg.rtm.laplacian, **kwargs)  # fmt: skip
            else:
                result = lsrtm(cfg.survey.path, vp, spacing, method=cfg.lsrtm.method,
                               iterations=cfg.lsrtm.iterations, sparsity=cfg.lsrtm.sparsity, **kwargs)  # fmt: skip
            save_figure(result.plot(), out / "image.png")
            return result
        f = cfg.fwi
        settings = FwiSettings(misfit=f.misfit, optimizer=f.optimizer, iterations=f.iterations, bands=f.bands,
                               bounds=f.bounds, learning_rate=f.learning_rate, lbfgs_memory=f.lbfgs_memory,
                               water_depth=f.water_depth, precondition=f.precondition,
                               estimate_wavelet=f.estimate_wavelet, seed=cfg.run.seed,
                               checkpoint_every=cfg.checkpoint.every)  # fmt: skip
        vmax = max(f.bounds[1], float(vp.max()))
        true = None
        if cfg.velocity.true_path is not None:
            true = load_velocity(cfg.velocity, cfg.velocity.true_path, smoothing=False)[0]
            vmax = max(vmax, float(true.max()))
        if cfg.survey.path is not None:
            survey: Any = cfg.survey.path
        else:
            survey = _synthetic(cfg, true, spacing, origin, vmax, ex)
        RunDirectory.create(out, cfg, overwrite=overwrite)
        if overwrite:
            (out / "fwi_inputs.npz").unlink(missing_ok=True)
        result = fwi(survey, vp, spacing, true=true, settings=settings, run_dir=out, origin=origin,
                     survey_kwargs=_survey_kwargs(cfg, vmax), **common)  # fmt: skip
        from geolearn.io import write_model

        write_model(out / "model.sgy", result.velocity.astype(np.float32), spacing, origin=origin)
        save_figure(result.plot(), out / "fwi.png")
        return result
