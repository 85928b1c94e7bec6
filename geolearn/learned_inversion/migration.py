"""Imaging a survey with a trained learned-LSRTM network (``geolearn migrate --method learned``).

:func:`learned_migrate` reads a weights file (:func:`~geolearn.learned_inversion.persistence.load_learned`),
builds the Born operator of the user's survey and migration velocity (all shots, unencoded) and applies
the network — a learned gradient network by default with its
:class:`~geolearn.learned_inversion.DataSafeguard` (noise level 0: every layer fits the data at least as
well as the CG step it replaces). A grid spacing or frequency band outside the training ones is reported
by :func:`~geolearn.learned_inversion.persistence.check_transfer`.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np
import torch

from geolearn.errors import ConfigError
from geolearn.imaging import resolve_survey
from geolearn.learned_inversion.persistence import check_transfer, load_learned
from geolearn.learned_inversion.safeguard import DataSafeguard
from geolearn.wave import BornOperator, WaveModeling

__all__ = ["MIGRATION_KINDS", "learned_migrate"]

logger = logging.getLogger("geolearn.learned_inversion.migration")

#: Kinds of weights file that image a survey (LSRTM networks; learned FWI inverts, it does not migrate).
MIGRATION_KINDS = ("learned_lsrtm", "learned_gradient")


def learned_migrate(
    survey: Any,
    velocity: Any,
    weights_path: str | os.PathLike[str],
    *,
    spacing: tuple[float, float] | None = None,
    subtract_direct: bool = True,
    safeguard: DataSafeguard | bool | None = None,
    **survey_kwargs: Any,
) -> np.ndarray:
    """Image a survey with a trained learned-LSRTM network (the ``geolearn migrate --method learned`` path).

    The Born operator of the survey's acquisition and ``velocity`` (all shots, unencoded) is built
    and given to the network, whichever kind the file holds (``"learned_gradient"`` or
    ``"learned_lsrtm"``); any acquisition and background may be used. A grid spacing or frequency
    band outside the training ones is reported by :func:`check_transfer`.

    Parameters
    ----------
    survey : SurveyResult, (ShotProblem, records), geolearn.io.Survey or SEG-Y path
        Anything :func:`~geolearn.imaging.resolve_survey` accepts.
    velocity : array, tensor, VelocityModel or path
        Migration (background) velocity in m/s on the survey grid ``(nx, nz)``.
    weights_path : path-like
        File written by :func:`save_learned` with kind ``"learned_gradient"`` or ``"learned_lsrtm"``.
    spacing : (dx, dz), optional
        Grid spacing in metres when ``velocity`` is a bare array.
    subtract_direct : bool
        Subtract the records modelled in the background velocity (direct wave and smooth-model
        arrivals) so that the network sees scattered (Born-like) data, as in training.
    safeguard : DataSafeguard, bool or None
        Learned gradient networks only. None (default) or True: ``DataSafeguard()`` (noise level
        0), so every layer keeps its learned update only where it fits the data at least as well
        as the CG step it replaces (one more J per call, ``3K`` instead of ``3K − 1``): field data
        are never quite like the training data. A DataSafeguard: that one (e.g. with the data's
        noise level); False: none. The unrolled ISTA network has no safeguard (True or a
        DataSafeguard is refused).
    **survey_kwargs
        Passed to :func:`~geolearn.imaging.resolve_survey` (e.g. ``f0``).

    Returns
    -------
    ndarray
        Image ``(nx, nz)`` float64: the estimated velocity perturbation in m/s.
    """
    loaded = load_learned(weights_path)
    if loaded.kind not in MIGRATION_KINDS:
        raise ConfigError(
            f"{weights_path} holds a {loaded.kind} network; migration needs one of {MIGRATION_KINDS}"
        )
    guard = _safeguard(loaded.kind, safeguard)
    problem, observed, vp = resolve_survey(survey, velocity, spacing, **survey_kwargs)
    model, geometry = problem.to_wave()
    net = loaded.net.to(model.dtype)
    check_transfer(loaded.training, geometry)
    v = torch.as_tensor(vp, dtype=model.dtype)
    J = BornOperator(model, geometry, v)
    y = torch.as_tensor(observed, dtype=model.dtype)
    with torch.no_grad():
        if subtract_direct:
            y = y - WaveModeling(model, geometry)(v)
        if guard is None:
            return net(y[None], J)[0].double().numpy()
        run = net.run(y[None], J, safeguard=guard)
    kept = run.accepted[0].tolist()
    logger.info("safeguard kept the learned update in %d of %d layers (%s); misfit %s", sum(kept), len(kept),
                kept, [round(float(m), 4) for m in run.misfit[0]])  # fmt: skip
    return run.image[0].double().numpy()


def _safeguard(kind: str, safeguard: DataSafeguard | bool | None) -> DataSafeguard | None:
    """The safeguard ``learned_migrate`` applies to a network of ``kind`` (see its docstring)."""
    if safeguard is not None and not isinstance(safeguard, (bool, DataSafeguard)):
        raise ConfigError(f"safeguard must be None, True, False or a DataSafeguard, got {safeguard!r}")
    if kind == "learned_lsrtm":
        if safeguard is True or isinstance(safeguard, DataSafeguard):
            raise ConfigError(
                "the unrolled ISTA network (learned_lsrtm) has no data safeguard; pass safeguard=None"
            )
        return None
    if safeguard is False:
        return None
    return safeguard if isinstance(safeguard, DataSafeguard) else DataSafeguard()
