"""Connecting surveys to the wave layer: SEG-Y shot gathers (or modelled surveys) to a ShotProblem and data.

A SEG-Y path is read with :func:`geolearn.io.read_survey`, which settles header contradictions on
evidence (units, scalars, elevations that hold depths, dead and reversed traces); its overrides
pass through. Every shot then goes through an optional :mod:`geolearn.processing` pipeline (the
``[preprocess]`` list). Positions become the wave frame, metres with depth positive down from
``datum``; a 2D line whose y varies (crooked, or straight but oblique) is projected onto the
survey's least-squares straight line, distances measured along it.

Time axes: the modelling step is the survey's sample interval or an integer fraction of it. The
modelling axis starts at the shot (t = 0), or, when a measured wavelet starts before the shot
(``t0 < 0``), that many whole modelling steps earlier: source and data are shifted together, which
leaves images unchanged. Recorded
samples are interpolated onto it (cubic spline) from their own first time, the delay of the file
(``survey.t0``); before the first recorded sample the data are zero.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import torch
from scipy.interpolate import CubicSpline

from geolearn.errors import GeometryError, ModelError, ShapeError
from geolearn.imaging.discretisation import as_velocity, choose_dt
from geolearn.imaging.problem import ShotProblem

__all__ = ["problem_from_survey", "resolve_survey"]

logger = logging.getLogger("geolearn.imaging.survey_input")

_READ_OPTIONS = ("coordinate_units", "header", "coordinate_scalar", "elevation_scalar", "polarity", "key")


def _on_time_axis(
    samples: np.ndarray, t0: float, dt: float, start: float, new_dt: float, nt: int
) -> np.ndarray:
    """Traces ``(n, m)`` sampled from ``t0`` every ``dt`` s, interpolated at ``start + k new_dt`` (k < nt).

    Cubic spline; zero outside the sampled interval.
    """
    samples = np.asarray(samples, dtype=np.float64)
    t_in = t0 + dt * np.arange(samples.shape[-1])
    t_out = start + new_dt * np.arange(nt)
    if samples.shape[-1] == nt and np.allclose(t_in, t_out, rtol=0, atol=1e-9 * dt):
        return samples.copy()
    out = CubicSpline(t_in, samples, axis=-1, extrapolate=False)(t_out)
    return np.nan_to_num(out, nan=0.0)


def _source_wavelet(wavelet: Any) -> Any:
    """A :class:`geolearn.io.SourceWavelet` for a path or a SourceWavelet; None for arrays and None."""
    from geolearn.io import SourceWavelet, read_wavelet

    if isinstance(wavelet, (str, os.PathLike)):
        return read_wavelet(wavelet)
    return wavelet if isinstance(wavelet, SourceWavelet) else None


def _modelling_axis(measured: Any, wavelet: Any, last_time: float, dt: float) -> tuple[float, float, Any]:
    """Start time and length (s) of the modelling axis, and the wavelet on it.

    The axis starts at the shot, or whole steps before it for a measured wavelet that starts before
    the shot (recorded samples then stay on modelling steps); it ends at ``last_time``, the last
    recorded sample. Without a measured wavelet ``wavelet`` is passed on as it is.
    """
    if measured is None:
        return 0.0, last_time, wavelet
    start = -dt * np.ceil(-measured.t0 / dt - 1e-9) if measured.t0 < 0 else 0.0
    n_model = round((last_time - start) / dt) + 1
    on_axis = _on_time_axis(measured.samples[None], measured.t0, measured.dt, start, dt, n_model)[0]
    return start, last_time - start, on_axis


def _processed_shots(survey: Any, idx: list[int], pipeline: Any, ndim: int) -> list[Any]:
    """Shots ``idx`` through ``pipeline``; in 2D, projected onto the survey's line where y varies."""
    from geolearn.processing import project_to_line, shot_geometry

    shots, moved = [], []
    for i in idx:
        shot = pipeline.apply(survey.read(i), shot_geometry(survey, i), survey.dt, t0=survey.t0)
        y = np.append(shot.geometry.receivers[:, 1], shot.geometry.source[1])
        if ndim == 2 and np.ptp(y) > 1e-6 * max(1.0, float(np.abs(y).max())):
            geometry, distance = project_to_line(shot.geometry)
            shot = replace(shot, geometry=geometry)
            moved.append(distance)
        shots.append(shot)
    if moved:
        logger.warning("%s: %d shots projected onto the survey's straight line (azimuth %.1f deg); the farthest "
                       "position was %.1f m off it", survey.path, len(moved), shot.geometry.line.azimuth, max(moved))  # fmt: skip
    return shots


def problem_from_survey(
    survey: Any,
    velocity: Any,
    spacing: Sequence[float] | None = None,
    *,
    origin: Sequence[float] | None = None,
    shots: Sequence[int] | None = None,
    z_positive: str | None = None,
    datum: float = 0.0,
    f0: float | None = 10.0,
    delay: float | None = None,
    wavelet: Any = None,
    vmax: float | None = None,
    nbl: int = 40,
    space_order: int = 8,
    free_surface: bool = False,
    dtype: str = "float32",
    source_depth: float | None = None,
    receiver_depth: float | None = None,
    coordinate_scale: float | None = None,
    nt: int | None = None,
    preprocess: Any = None,
    record_dt: float | None = None,
    **read_options: Any,
) -> tuple[ShotProblem, np.ndarray]:
    """Connect a SEG-Y survey to the wave layer: a :class:`ShotProblem` and the observed data.

    Parameters
    ----------
    survey : geolearn.io.Survey or path
        Shot-sorted prestack SEG-Y. A path is read with :func:`geolearn.io.read_survey` and
        ``z_positive``, ``record_dt`` (its ``dt``) and ``read_options``.
    velocity : array, tensor, geolearn.io.VelocityModel or path
        Migration/starting velocity in m/s ``(nx, nz)``; a path is read with
        :func:`geolearn.io.read_model` (its spacing and origin are used unless given).
    spacing, origin : sequence of float, optional
        Grid of ``velocity`` in m (required for arrays).
    shots : sequence of int, optional
        Shot indices to use (default all).
    z_positive : {'up', 'down'}, optional
        How to read the elevation fields; by default from the evidence in the headers.
    datum : float
        Elevation of the model's z = 0, m.
    f0, delay, wavelet
        Source signature (the survey holds none): a Ricker of peak ``f0`` Hz at ``delay`` s; or
        ``wavelet``: an ``(nt,)`` array sampled at the modelling ``dt`` from the shot, a
        :class:`geolearn.io.SourceWavelet` or a wavelet file (:func:`geolearn.io.read_wavelet`),
        resampled onto the modelling axis from its own first time.
    vmax : float, optional
        Largest velocity the time step must support (default the model's maximum).
    source_depth, receiver_depth : float, optional
        Override the depths from the headers, m (positive down).
    coordinate_scale : float, optional
        Multiply header x (and y) coordinates by this to get metres.
    nt : int, optional
        Use only the first ``nt`` samples (after preprocessing).
    preprocess : Pipeline or list of dict, optional
        :mod:`geolearn.processing` steps applied to every shot before anything else (checked
        against the time axis first, :meth:`geolearn.processing.Pipeline.check`).
    record_dt : float, optional
        Sample interval of the file in seconds, overriding its headers (``read_survey(dt=)``).
    **read_options
        ``coordinate_units``, ``header``, ``coordinate_scalar``, ``elevation_scalar``,
        ``polarity``, ``key``: passed to :func:`geolearn.io.read_survey`.

    Returns
    -------
    problem : ShotProblem
        Positions from the headers; ``dt`` the survey's interval (after preprocessing) or an
        integer fraction of it.
    observed : ndarray, shape (n_shots, max_receivers, nt)
        The recorded data on the modelling time axis, float64.

    Raises
    ------
    ConfigError
        Unknown read options or preprocessing steps, steps that do not fit the time axis.
    GeometryError
        Shots outside the survey, coordinates that are not lengths, a 3D request for a 2D model.
    """
    from geolearn.io import read_model, read_survey
    from geolearn.processing import parse_steps

    unknown = sorted(set(read_options) - set(_READ_OPTIONS))
    if unknown:
        raise TypeError(
            f"problem_from_survey got unknown option(s) {unknown}; survey read options: {_READ_OPTIONS}"
        )
    pipeline = preprocess if hasattr(preprocess, "apply") else parse_steps(list(preprocess or []))
    if isinstance(survey, (str, os.PathLike)):
        survey = read_survey(survey, z_positive=z_positive, dt=record_dt, **read_options)
    if isinstance(velocity, (str, os.PathLike)):
        velocity = read_model(velocity)
    spacing = spacing or getattr(velocity, "spacing", None)
    origin = origin or getattr(velocity, "origin", None)
    if spacing is None:
        raise ModelError("spacing (m) is required when the velocity is a plain array")
    vp = as_velocity(velocity)
    pipeline.check(survey.dt, survey.nt, t0=survey.t0)
    idx = list(range(survey.n_shots)) if shots is None else [int(i) for i in shots]
    bad = [i for i in idx if not 0 <= i < survey.n_shots]
    if bad:
        raise GeometryError(f"shot indices {bad} are outside 0..{survey.n_shots - 1} of {survey.path}")
    processed = _processed_shots(survey, idx, pipeline, vp.ndim)
    pos = [_override(*s.geometry.model_positions(ndim=vp.ndim, datum=datum), source_depth, receiver_depth,
                     coordinate_scale) for s in processed]  # fmt: skip
    rec_dt, rec_t0 = processed[0].dt, processed[0].t0
    n_samples = min(s.data.shape[-1] for s in processed) if nt is None else int(nt)
    dt = choose_dt(vmax or float(vp.max()), spacing, space_order, record_dt=rec_dt)
    last_time = rec_t0 + rec_dt * (n_samples - 1)
    start, record_length, wavelet = _modelling_axis(_source_wavelet(wavelet), wavelet, last_time, dt)
    problem = ShotProblem.create(
        vp, spacing, np.stack([p[0] for p in pos]), [p[1] for p in pos], record_length=record_length,
        origin=origin, dt=dt, f0=f0, delay=delay, wavelet=wavelet, vmax=vmax, nbl=nbl,
        space_order=space_order, free_surface=free_surface, dtype=dtype,
    )  # fmt: skip
    gathers = [_on_time_axis(s.data[:, :n_samples], rec_t0, rec_dt, start, problem.dt, problem.nt)
               for s in processed]  # fmt: skip
    logger.info("survey %s: %d shots, dt %.6g s from t0 %.6g s -> modelling dt %.6g s from %.6g s",
                survey.path, len(idx), rec_dt, rec_t0, dt, start)  # fmt: skip
    return problem, problem.padded(gathers)


def _override(src: np.ndarray, rec: np.ndarray, source_depth: float | None, receiver_depth: float | None,
              scale: float | None) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    src, rec = src.copy(), rec.copy()
    if scale is not None:
        src[:-1] *= scale
        rec[:, :-1] *= scale
    if source_depth is not None:
        src[-1] = source_depth
    if receiver_depth is not None:
        rec[:, -1] = receiver_depth
    return src, rec


def resolve_survey(
    survey: Any,
    velocity: Any,
    spacing: Sequence[float] | None = None,
    *,
    origin: Sequence[float] | None = None,
    **kwargs: Any,
) -> tuple[ShotProblem, np.ndarray, np.ndarray]:
    """Problem, observed records and velocity from any survey description the workflows accept.

    Parameters
    ----------
    survey : SurveyResult, (ShotProblem, records) pair, geolearn.io.Survey or path
        A modelled survey (:func:`~geolearn.imaging.model_survey`), an explicit pair with
        records ``(n_shots, max_receivers, nt)``, or SEG-Y (see :func:`problem_from_survey`,
        which receives ``kwargs``).
    velocity : array, tensor, VelocityModel or path
        Velocity in m/s on the problem's grid; it becomes the problem's reference velocity.

    Returns
    -------
    problem : ShotProblem
    observed : ndarray, shape (n_shots, max_receivers, nt), float64
    velocity : ndarray, shape (nx, nz), float64
    """
    pair = (survey.problem, survey.records) if hasattr(survey, "records") else survey
    if isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[0], ShotProblem):
        problem, records = pair
        if isinstance(velocity, (str, os.PathLike)):
            from geolearn.io import read_model

            velocity = read_model(velocity)
        vp = as_velocity(velocity)
        if vp.shape != problem.shape:
            raise ModelError(f"velocity has shape {vp.shape}; the survey's grid is {problem.shape}")
        observed = np.asarray(records.detach().cpu().numpy() if isinstance(records, torch.Tensor) else records,
                              dtype=np.float64)  # fmt: skip
        if observed.shape != problem.record_shape:
            raise ShapeError(
                f"records have shape {observed.shape}; the problem expects {problem.record_shape}"
            )
        return replace(problem, reference=vp), observed, vp
    problem, observed = problem_from_survey(survey, velocity, spacing, origin=origin, **kwargs)
    return problem, observed, problem.reference
