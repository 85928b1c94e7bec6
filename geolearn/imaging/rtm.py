"""Reverse-time migration with source-illumination compensation and a Laplacian filter."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from geolearn.errors import ConfigError
from geolearn.imaging.preflight import preflight, segy_bytes
from geolearn.imaging.problem import ShotProblem
from geolearn.imaging.results import ImageResult
from geolearn.imaging.shots import SOLVES, executor, migrate_shot
from geolearn.imaging.survey_input import resolve_survey
from geolearn.parallel import ShotExecutor

__all__ = ["laplacian_filter", "migrate", "rtm", "write_image_file"]

logger = logging.getLogger("geolearn.imaging.rtm")


def laplacian_filter(image: np.ndarray, spacing: Sequence[float]) -> np.ndarray:
    """``−Δ image`` (second-order differences, zero outside), which suppresses RTM's low-wavenumber backscatter.

    The minus sign keeps the polarity of reflectors (``−Δ`` multiplies a plane-wave
    component by ``|k|² ≥ 0``). Shape and units: ``(nx, nz)`` in, same shape out, per m².
    """
    img = np.asarray(image, dtype=np.float64)
    out = np.zeros_like(img)
    for axis, h in enumerate(spacing):
        padded = np.pad(img, [(1, 1) if a == axis else (0, 0) for a in range(img.ndim)])
        lo = np.take(padded, range(0, img.shape[axis]), axis=axis)
        hi = np.take(padded, range(2, img.shape[axis] + 2), axis=axis)
        out -= (lo - 2 * img + hi) / h**2
    return out


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
    subtract_background: bool = True,
    illumination_eps: float = 1e-3,
    output: str | os.PathLike | None = None,
    client: Any = None,
    n_workers: int = 2,
    progress: bool = False,
    **survey_kwargs: Any,
) -> ImageResult:
    """Reverse-time migration of a shot survey.

    The image is ``Jᵀ d`` (adjoint Born in the velocity parametrisation, zero-lag
    cross-correlation of source and receiver wavefields), optionally divided by the source
    illumination and filtered by ``−Δ``.

    Parameters
    ----------
    survey : SurveyResult, (ShotProblem, records), geolearn.io.Survey or SEG-Y path
        The data (see :func:`~geolearn.imaging.problem.resolve_survey`). For SEG-Y,
        ``survey_kwargs`` go to :func:`~geolearn.imaging.problem.problem_from_survey`
        (``z_positive``, ``f0``, ``delay``, ``shots``, ``nbl``, ``space_order``, ...).
    velocity : array (nx, nz), tensor, VelocityModel or path
        Migration velocity in m/s (smooth).
    spacing, origin : sequence of float, optional
        Grid of an array velocity, m.
    illumination : bool
        Divide by ``illum + illumination_eps · max(illum)``, ``illum = Σ_shots Σ_t (∂²u/∂t²)²``.
    laplacian : bool
        Apply :func:`laplacian_filter` last.
    subtract_background : bool
        Migrate ``d − F(v_mig)``: removes the direct wave predicted by the migration velocity.
    output : path, optional
        SEG-Y image to write (depth axis in the sample interval, CDP x coordinates).
    client, n_workers, progress
        Shot-parallel execution (see :func:`geolearn.imaging.model_survey`).

    Returns
    -------
    ImageResult
        ``image`` ``(nx, nz)``, ``illumination``, ``history["n_solves"]``.
    """
    if not illumination_eps > 0:
        raise ConfigError(f"illumination_eps must be > 0, got {illumination_eps}")
    problem, observed, vp = resolve_survey(survey, velocity, spacing, origin=origin, **survey_kwargs)
    preflight(problem, velocities=[vp], outputs=image_output(output, problem))
    with executor(client, n_workers=n_workers, progress=progress) as ex:
        out = migrate(problem, vp, observed, ex, subtract_background=subtract_background, progress=progress)
    image, illum = out["image"], out["illumination"]
    if illumination:
        image = image / (illum + illumination_eps * illum.max())
    if laplacian:
        image = laplacian_filter(image, problem.spacing)
    path = write_image_file(output, image, problem) if output is not None else None
    history = {"n_solves": [SOLVES["migrate"] * problem.n_shots]}
    return ImageResult(image, problem, vp, history, illum, "rtm", path)
