"""Connecting surveys to the wave layer: SEG-Y shot gathers (or modelled surveys) to a ShotProblem and data.

Positions come from the SEG-Y headers (metres, depth positive down from ``datum``; files that
store depths in the elevation fields, like JUDI's, are read with ``z_positive="down"``). The
modelling time step is the survey's sample interval or an integer fraction of it, and the
observed data are resampled onto it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import torch

from geolearn.errors import GeometryError, ModelError, ShapeError
from geolearn.imaging.discretisation import as_velocity, choose_dt
from geolearn.imaging.problem import ShotProblem

__all__ = ["problem_from_survey", "resolve_survey"]

logger = logging.getLogger("geolearn.imaging.survey_input")


def problem_from_survey(
    survey: Any,
    velocity: Any,
    spacing: Sequence[float] | None = None,
    *,
    origin: Sequence[float] | None = None,
    shots: Sequence[int] | None = None,
    z_positive: str = "up",
    datum: float = 0.0,
    f0: float | None = 10.0,
    delay: float | None = None,
    wavelet: np.ndarray | None = None,
    vmax: float | None = None,
    nbl: int = 40,
    space_order: int = 8,
    free_surface: bool = False,
    dtype: str = "float32",
    source_depth: float | None = None,
    receiver_depth: float | None = None,
    coordinate_scale: float | None = None,
    nt: int | None = None,
) -> tuple[ShotProblem, np.ndarray]:
    """Connect a SEG-Y survey to the wave layer: a :class:`ShotProblem` and the observed data.

    Parameters
    ----------
    survey : geolearn.io.Survey or path
        Shot-sorted prestack SEG-Y (a path is read with ``z_positive``; JUDI-style files that
        store depths in the elevation fields need ``z_positive="down"``).
    velocity : array, tensor, geolearn.io.VelocityModel or path
        Migration/starting velocity in m/s ``(nx, nz)``; a path is read with
        :func:`geolearn.io.read_model` (its spacing and origin are used unless given).
    spacing, origin : sequence of float, optional
        Grid of ``velocity`` in m (required for arrays).
    shots : sequence of int, optional
        Shot indices to use (default all).
    datum : float
        Elevation of the model's z = 0, m.
    f0, delay, wavelet
        Source signature (the survey holds none): Ricker peak frequency (Hz) and peak time
        (s), or an explicit ``(nt,)`` wavelet sampled at the modelling ``dt``.
    vmax : float, optional
        Largest velocity the time step must support (default the model's maximum).
    source_depth, receiver_depth : float, optional
        Override the depths from the headers, m (positive down).
    coordinate_scale : float, optional
        Multiply header x (and y) coordinates by this to get metres.
    nt : int, optional
        Use only the first ``nt`` recorded samples.

    Returns
    -------
    problem : ShotProblem
        Positions from the headers; ``dt`` the survey's interval or an integer fraction of it.
    observed : ndarray, shape (n_shots, max_receivers, nt)
        The recorded data on the modelling time axis (cubic-spline resampled when ``dt`` was
        refined), float64.
    """
    from geolearn.io import read_model, read_survey
    from geolearn.wave import resample

    if isinstance(survey, (str, os.PathLike)):
        survey = read_survey(survey, z_positive=z_positive)
    if isinstance(velocity, (str, os.PathLike)):
        velocity = read_model(velocity)
    spacing = spacing or getattr(velocity, "spacing", None)
    origin = origin or getattr(velocity, "origin", None)
    if spacing is None:
        raise ModelError("spacing (m) is required when the velocity is a plain array")
    vp = as_velocity(velocity)
    if abs(survey.t0) > 1e-12:
        raise GeometryError(f"{survey.path}: traces start at t0 = {survey.t0} s; only t0 = 0 is supported")
    idx = list(range(survey.n_shots)) if shots is None else [int(i) for i in shots]
    bad = [i for i in idx if not 0 <= i < survey.n_shots]
    if bad:
        raise GeometryError(f"shot indices {bad} are outside 0..{survey.n_shots - 1} of {survey.path}")
    pos = [_override(*survey.model_positions(i, ndim=vp.ndim, datum=datum), source_depth, receiver_depth,
                     coordinate_scale) for i in idx]  # fmt: skip
    dt = choose_dt(vmax or float(vp.max()), spacing, space_order, record_dt=survey.dt)
    n_samples = survey.nt if nt is None else min(int(nt), survey.nt)
    record_length = survey.dt * (n_samples - 1)
    problem = ShotProblem.create(
        vp, spacing, np.stack([p[0] for p in pos]), [p[1] for p in pos], record_length=record_length,
        origin=origin, dt=dt, f0=f0, delay=delay, wavelet=wavelet, vmax=vmax, nbl=nbl,
        space_order=space_order, free_surface=free_surface, dtype=dtype,
    )  # fmt: skip
    gathers = [np.asarray(survey.read(i)[:, :n_samples], dtype=np.float64) for i in idx]
    if problem.nt != n_samples:
        gathers = [resample(g, survey.dt, problem.dt, problem.nt) for g in gathers]
    logger.info("survey %s: %d shots, dt %.6g s -> modelling dt %.6g s", survey.path, len(idx), survey.dt, dt)
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
