"""Modelling a survey: SEG-Y shot records with full geometry from a velocity model."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from geolearn.errors import GeometryError
from geolearn.imaging.acquisition import surface_acquisition
from geolearn.imaging.discretisation import as_velocity
from geolearn.imaging.preflight import preflight, segy_bytes
from geolearn.imaging.problem import ShotProblem
from geolearn.imaging.results import SurveyResult
from geolearn.imaging.shots import executor, forward_shot
from geolearn.ledger import count_solves
from geolearn.parallel import ShotExecutor

__all__ = ["model_problem", "model_records", "model_survey", "survey_problem"]

logger = logging.getLogger("geolearn.imaging.modeling")


def model_records(
    problem: ShotProblem, velocity: np.ndarray, ex: ShotExecutor, *, wavelet: np.ndarray | None = None,
    progress: bool = False,
) -> np.ndarray:  # fmt: skip
    """Records of every shot of ``problem`` for ``velocity`` (m/s): ``(n_shots, max_receivers, nt)``."""
    gathers = ex.map(forward_shot, range(problem.n_shots), problem, velocity, wavelet,
                     progress=progress, desc="modelling")  # fmt: skip
    return problem.padded(gathers)


def _load_velocity(velocity: Any, spacing: Sequence[float] | None, origin: Sequence[float] | None) -> tuple:
    if isinstance(velocity, (str, os.PathLike)):
        from geolearn.io import read_model

        velocity = read_model(velocity)
    spacing = spacing if spacing is not None else getattr(velocity, "spacing", None)
    origin = origin if origin is not None else getattr(velocity, "origin", None)
    if spacing is None:
        raise GeometryError("spacing (dx, dz) in metres is required when the velocity is an array")
    return as_velocity(velocity), tuple(float(h) for h in spacing), origin


def survey_problem(
    velocity: np.ndarray | torch.Tensor | str | os.PathLike,
    spacing: Sequence[float] | None = None,
    *,
    origin: Sequence[float] | None = None,
    sources: np.ndarray | None = None,
    receivers: np.ndarray | Sequence[np.ndarray] | None = None,
    source_spacing: float | None = None,
    receiver_spacing: float | None = None,
    source_depth: float = 10.0,
    receiver_depth: float = 10.0,
    record_length: float = 1.0,
    f0: float | None = 10.0,
    delay: float | None = None,
    wavelet: np.ndarray | torch.Tensor | None = None,
    wavelet_dt: float | None = None,
    dt: float | None = None,
    nbl: int = 40,
    space_order: int = 8,
    free_surface: bool = False,
    dtype: str = "float32",
) -> ShotProblem:
    """The :class:`ShotProblem` of a synthetic survey over ``velocity`` (no wave-equation solve).

    Parameters
    ----------
    velocity : array (nx, nz), tensor, geolearn.io.VelocityModel or path
        Velocity in m/s (a path is read with :func:`geolearn.io.read_model`).
    spacing, origin : sequence of float, optional
        Grid spacing and first grid point in m (taken from a VelocityModel/path when omitted).
    sources : ndarray (n_shots, 2), optional
        Explicit source positions ``(x, z)`` in m, depth positive down.
    receivers : ndarray (n_receivers, 2) or list of per-shot arrays, optional
        Explicit receiver positions.
    source_spacing, receiver_spacing : float, optional
        Evenly spaced surface lines over the model's x extent instead of explicit positions
        (see :func:`~geolearn.imaging.surface_acquisition`), at
        ``source_depth``/``receiver_depth`` m.
    record_length : float
        Recording time in s.
    f0, delay, wavelet, wavelet_dt
        Ricker peak frequency (Hz) and peak time (s, default ``1/f0``), or an explicit wavelet
        (``(nt_w,)`` or ``(n_shots, nt_w)`` sampled at ``wavelet_dt`` s).
    dt : float, optional
        Sample interval in s; default the largest whole-microsecond step at 80% of the
        stability limit. SEG-Y stores whole microseconds, so a written survey needs one.
    nbl, space_order, free_surface, dtype
        Propagation settings (:class:`geolearn.wave.Model`).

    Returns
    -------
    ShotProblem
        With ``velocity`` as its reference.

    Raises
    ------
    GeometryError
        No acquisition given, positions outside the model.
    StabilityError
        ``dt`` above the stability limit.
    """
    vp, spacing, origin = _load_velocity(velocity, spacing, origin)
    x0 = 0.0 if origin is None else float(origin[0])
    x_range = (x0, x0 + spacing[0] * (vp.shape[0] - 1))
    if sources is None or receivers is None:
        if source_spacing is None or receiver_spacing is None:
            raise GeometryError(
                "give explicit sources and receivers (m), or source_spacing and receiver_spacing (m)"
            )
        src_line, rec_line = surface_acquisition(x_range, source_spacing=source_spacing,
                                                 receiver_spacing=receiver_spacing, source_depth=source_depth,
                                                 receiver_depth=receiver_depth)  # fmt: skip
        sources = src_line if sources is None else sources
        receivers = rec_line if receivers is None else receivers
    if isinstance(wavelet, torch.Tensor):
        wavelet = wavelet.detach().cpu().numpy()
    return ShotProblem.create(
        vp, spacing, sources, receivers, record_length=record_length, origin=origin, dt=dt, f0=f0,
        delay=delay, wavelet=wavelet, wavelet_dt=wavelet_dt, nbl=nbl, space_order=space_order,
        free_surface=free_surface, dtype=dtype,
    )  # fmt: skip


def model_problem(
    problem: ShotProblem, velocity: np.ndarray | None = None, *, output: str | os.PathLike | None = None,
    client: Any = None, n_workers: int | None = None, progress: bool = False,
) -> SurveyResult:  # fmt: skip
    """Model every shot of ``problem`` and optionally write the records as SEG-Y with full geometry.

    Parameters
    ----------
    problem : ShotProblem
    velocity : ndarray, shape (nx, nz), optional
        Velocity in m/s (default ``problem.reference``).
    output : path, optional
        SEG-Y file to write (atomically): samples IEEE float, source/receiver x and depth
        (elevation = −depth), field record per shot; ``problem.dt`` must be whole microseconds.
    client : None, "local", address, Client or ShotExecutor
        Where shots run (:class:`geolearn.parallel.ShotExecutor`); None runs serially.
    n_workers : int, optional
        Workers of a ``"local"`` cluster (default: one single-threaded worker per core, measured fastest).
    progress : bool
        Progress bar over shots.

    Returns
    -------
    SurveyResult
        ``records`` ``(n_shots, max_receivers, nt)``, the problem, the file written.

    Raises
    ------
    GeometryError, ConfigError, ...
        From :func:`~geolearn.imaging.preflight`, before any solve; ``dt`` not whole
        microseconds with ``output``.
    """
    vp = problem.reference if velocity is None else as_velocity(velocity)
    outputs = None
    if output is not None:
        if abs(problem.dt * 1e6 - round(problem.dt * 1e6)) > 1e-6:
            raise GeometryError(
                f"dt = {problem.dt} s is not a whole number of microseconds, which SEG-Y requires"
            )
        outputs = {output: segy_bytes(sum(problem.n_receivers), problem.nt)}
    preflight(problem, velocities=[vp], outputs=outputs)
    with executor(client, n_workers=n_workers, progress=progress) as ex, count_solves() as cost:
        records = model_records(problem, vp, ex, progress=progress)
    path = None
    if output is not None:
        from geolearn.io import write_survey

        gathers = [records[i, :n] for i, n in enumerate(problem.n_receivers)]
        path = Path(write_survey(output, gathers, problem.src_positions, list(problem.rec_positions), problem.dt,
                                 text="geolearn model_survey: synthetic acoustic shots"))  # fmt: skip
        logger.info("wrote %d shots to %s", problem.n_shots, path)
    return SurveyResult(records, problem, vp, path, {"n_solves": [cost.solves]})


def model_survey(
    velocity: np.ndarray | torch.Tensor | str | os.PathLike,
    spacing: Sequence[float] | None = None,
    *,
    output: str | os.PathLike | None = None,
    client: Any = None,
    n_workers: int | None = None,
    progress: bool = False,
    **acquisition: Any,
) -> SurveyResult:
    """Synthesise a shot survey and optionally write it as SEG-Y with full geometry.

    :func:`survey_problem` then :func:`model_problem`.

    Parameters
    ----------
    velocity : array (nx, nz), tensor, geolearn.io.VelocityModel or path
        Velocity in m/s (a path is read with :func:`geolearn.io.read_model`).
    spacing : sequence of float, optional
        Grid spacing in m (taken from a VelocityModel/path when omitted).
    output, client, n_workers, progress
        See :func:`model_problem`.
    **acquisition
        Keywords of :func:`survey_problem`: ``origin``, ``sources``/``receivers`` or
        ``source_spacing``/``receiver_spacing`` (with ``source_depth``/``receiver_depth``),
        ``record_length`` (s), ``f0``/``delay`` or ``wavelet``/``wavelet_dt``, ``dt`` (s;
        default the largest whole-microsecond step at 80% of the stability limit), ``nbl``,
        ``space_order``, ``free_surface``, ``dtype``.

    Returns
    -------
    SurveyResult
        ``records`` ``(n_shots, max_receivers, nt)``, the problem, the file written.
    """
    problem = survey_problem(velocity, spacing, **acquisition)
    return model_problem(problem, output=output, client=client, n_workers=n_workers, progress=progress)
