"""Reverse-time migration, conditioned for reading: illumination, Laplacian, water-column mute.

The conditioning functions live in :mod:`geolearn.imaging.conditioning`; the source wavelet can be
estimated from the data first (:func:`geolearn.imaging.estimate_wavelet`)."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from geolearn.errors import ConfigError
from geolearn.imaging.conditioning import compensate_illumination, laplacian_filter, water_mute
from geolearn.imaging.preflight import preflight, segy_bytes
from geolearn.imaging.problem import ShotProblem
from geolearn.imaging.results import ImageResult
from geolearn.imaging.shots import executor, migrate_shot
from geolearn.imaging.survey_input import resolve_survey
from geolearn.imaging.wavelet import fit_wavelet
from geolearn.ledger import count_solves
from geolearn.parallel import ShotExecutor

__all__ = ["migrate", "rtm", "write_image_file"]

logger = logging.getLogger("geolearn.imaging.rtm")


def migrate(
    problem: ShotProblem, velocity: np.ndarray, data: np.ndarray, ex: ShotExecutor, *,
    subtract_background: bool = False, progress: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """Sum of :func:`~geolearn.imaging.shots.migrate_shot` over all shots (``image``, ``illumination``, ``data_norm2``)."""
    return ex.map_reduce(migrate_shot, range(problem.n_shots), problem, velocity, data, subtract_background,
                         progress=progress, desc="RTM")  # fmt: skip


def image_output(output: str | os.PathLike | None, problem: ShotProblem) -> dict[str | os.PathLike, int]:
    """``{output: estimated bytes}`` of an image written by :func:`write_image_file` (empty without output)."""
    if output is None:
        return {}
    return {output: segy_bytes(int(np.prod(problem.shape[:-1])), problem.shape[-1])}


def write_image_file(path: str | os.PathLike, image: np.ndarray, problem: ShotProblem) -> Path:
    """Write an image ``(nx, nz)`` as depth-axis SEG-Y with CDP coordinates (atomic)."""
    from geolearn.io import write_image

    return Path(write_image(path, np.asarray(image, dtype=np.float32), problem.spacing, origin=problem.origin,
                            sample_axis="depth"))  # fmt: skip


def rtm(
    survey: Any,
    velocity: np.ndarray | torch.Tensor | str | os.PathLike,
    spacing: Sequence[float] | None = None,
    *,
    origin: Sequence[float] | None = None,
    illumination: bool = True,
    laplacian: bool = True,
    mute_water: bool = True,
    subtract_background: bool = True,
    illumination_eps: float = 1e-3,
    wavelet_fit: str = "none",
    wavelet_window: float | None = 0.5,
    output: str | os.PathLike | None = None,
    client: Any = None,
    n_workers: int | None = None,
    progress: bool = False,
    **survey_kwargs: Any,
) -> ImageResult:
    """Reverse-time migration of a shot survey.

    The image is ``Jᵀ d`` (adjoint Born in the velocity parametrisation, zero-lag
    cross-correlation of source and receiver wavefields), then, each optional and in this order,
    divided by the source illumination, filtered by ``−Δ`` and muted above the sea bed
    (:mod:`geolearn.imaging.conditioning`).

    Parameters
    ----------
    survey : SurveyResult, (ShotProblem, records), geolearn.io.Survey or SEG-Y path
        The data (see :func:`~geolearn.imaging.problem.resolve_survey`). For SEG-Y,
        ``survey_kwargs`` go to :func:`~geolearn.imaging.problem_from_survey`
        (``z_positive``, ``coordinate_units``, ``header``, ``preprocess``, ``f0``, ``wavelet``,
        ``shots``, ``nbl``, ``space_order``, ...).
    velocity : array (nx, nz), tensor, VelocityModel or path
        Migration velocity in m/s (smooth).
    spacing, origin : sequence of float, optional
        Grid of an array velocity, m.
    illumination : bool
        Divide by ``illum + illumination_eps · max(illum)``, ``illum = Σ_shots Σ_t (∂²u/∂t²)²``
        (:func:`~geolearn.imaging.compensate_illumination`).
    laplacian : bool
        Apply :func:`~geolearn.imaging.laplacian_filter` against low-wavenumber backscatter.
    mute_water : bool
        Zero the water column above the sea bed the velocity shows
        (:func:`~geolearn.imaging.water_mute`; nothing is muted without a sea-water top layer).
    subtract_background : bool
        Migrate ``d − F(v_mig)``: removes the direct wave predicted by the migration velocity
        (and wavelet: estimate it, or give the measured one, for field data).
    wavelet_fit : {'none', 'amplitude', 'spectrum'}
        Fit the problem's wavelet to the data first (:func:`~geolearn.imaging.fit_wavelet`, one
        forward solve per shot): its amplitude (a measured signature in other units than the data)
        or its whole spectrum (estimated, the given wavelet as probe).
    wavelet_window : float or None
        Length (s) of the early-arrival window the fit uses; None fits whole traces.
    output : path, optional
        SEG-Y image to write (depth axis in the sample interval, CDP x coordinates).
    client, n_workers, progress
        Shot-parallel execution (see :func:`geolearn.imaging.model_survey`).

    Returns
    -------
    ImageResult
        ``image`` ``(nx, nz)``, ``illumination``, ``history["n_solves"]`` (the wave-equation
        solves performed, measured with :func:`geolearn.ledger.count_solves`); ``problem.wavelets``
        holds the wavelet used (fitted with ``wavelet_fit``).
    """
    if not illumination_eps > 0:
        raise ConfigError(f"illumination_eps must be > 0, got {illumination_eps}")
    problem, observed, vp = resolve_survey(survey, velocity, spacing, origin=origin, **survey_kwargs)
    preflight(problem, velocities=[vp], outputs=image_output(output, problem))
    with executor(client, n_workers=n_workers, progress=progress) as ex, count_solves() as cost:
        problem = fit_wavelet(
            problem, vp, observed, ex, wavelet_fit, window=wavelet_window, progress=progress
        )
        out = migrate(problem, vp, observed, ex, subtract_background=subtract_background, progress=progress)
    image, illum = out["image"], out["illumination"]
    if illumination:
        image = compensate_illumination(image, illum, illumination_eps)
    if laplacian:
        image = laplacian_filter(image, problem.spacing)
    if mute_water:
        image = water_mute(image, vp, problem.spacing, problem.origin)
    path = write_image_file(output, image, problem) if output is not None else None
    history = {"n_solves": [cost.solves]}
    return ImageResult(image, problem, vp, history, illum, "rtm", path)
