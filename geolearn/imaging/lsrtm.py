"""Least-squares RTM: Born inversion by CG (CGLS) or sparsity-promoting FISTA, shot-parallel.

LSRTM finds the velocity perturbation ``δv`` (m/s, ``(nx, nz)``) that explains the scattered
data ``d − F(v0)`` through the Born operator ``J(v0)``:

- ``method="cg"``: ``min ½‖J D z − d‖²`` by conjugate gradients on the normal equations
  (:func:`geolearn.solvers.tikhonov_cg` with λ = 0, i.e. CGLS), whose data misfit cannot
  increase from one iteration to the next;
- ``method="fista"``: ``min ½‖J D S z − d‖² + λ‖z‖₁`` by :func:`geolearn.solvers.fista`, with
  ``S`` the identity (image domain) or the orthonormal DCT (``transform="dct"``) and
  ``λ = sparsity · ‖(J D S)ᵀ d‖∞`` (``sparsity`` is relative: 1 gives ``z = 0``).

``D`` is an optional diagonal preconditioner from the source illumination,
``1/sqrt(illum + ε max illum)`` normalised to a maximum of 1; the image is ``δv = D S z``.

Cost: ``history["n_solves"]`` is measured with the cost ledger (:mod:`geolearn.ledger`), on
whichever workers the shots ran. Entry 0 is everything before the solver's first iteration
(wavelet fit, background modelling, the preconditioner's migration, FISTA's ``λ`` and step);
entry ``k`` is read after iteration ``k`` of either solver (their ``callback``), so CG's first
entry also holds its initial ``Aᵀd``.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from geolearn.errors import ConfigError
from geolearn.imaging.conditioning import water_mute
from geolearn.imaging.modeling import model_records
from geolearn.imaging.preflight import preflight
from geolearn.imaging.problem import ShotProblem
from geolearn.imaging.results import ImageResult
from geolearn.imaging.rtm import image_output, migrate, write_image_file
from geolearn.imaging.shots import executor
from geolearn.imaging.survey_input import resolve_survey
from geolearn.imaging.wavelet import fit_wavelet
from geolearn.ledger import count_solves
from geolearn.operators import Diagonal, LinearOperator, operator_norm
from geolearn.operators.transforms import DCT2
from geolearn.solvers import fista, tikhonov_cg
from geolearn.wave import BornOperator

__all__ = ["lsrtm"]

logger = logging.getLogger("geolearn.imaging.lsrtm")

METHODS = ("cg", "fista")
TRANSFORMS = ("none", "dct")


def _preconditioner(illum: np.ndarray, eps: float) -> np.ndarray:
    d = 1.0 / np.sqrt(illum + eps * illum.max())
    return d / d.max()


def lsrtm(
    survey: Any,
    velocity: np.ndarray | torch.Tensor | str | os.PathLike,
    spacing: Sequence[float] | None = None,
    *,
    origin: Sequence[float] | None = None,
    method: str = "cg",
    iterations: int = 10,
    sparsity: float = 0.0,
    transform: str = "none",
    precondition: bool = True,
    illumination_eps: float = 1e-3,
    subtract_background: bool = True,
    wavelet_fit: str = "none",
    wavelet_window: float | None = 0.5,
    mute_water: bool = False,
    power_iterations: int = 10,
    seed: int = 0,
    output: str | os.PathLike | None = None,
    client: Any = None,
    n_workers: int | None = None,
    progress: bool = False,
    **survey_kwargs: Any,
) -> ImageResult:
    """Least-squares reverse-time migration (see the module docstring for the problems solved).

    Parameters
    ----------
    survey, velocity, spacing, origin, survey_kwargs
        As in :func:`geolearn.imaging.rtm`.
    method : {"cg", "fista"}
    iterations : int
        Solver iterations (each one Born and one adjoint Born per shot: 4 solves, as no shot
        task keeps its background).
    sparsity : float
        FISTA's L1 weight relative to ``‖Aᵀd‖∞`` (0 to 1); must be 0 for CG.
    transform : {"none", "dct"}
        Sparsity domain for FISTA.
    precondition : bool
        Use the illumination preconditioner ``D`` (costs one extra migration).
    subtract_background : bool
        Invert ``d − F(v0)`` (the scattered data) rather than ``d``.
    wavelet_fit, wavelet_window
        Fit the wavelet to the data first, as in :func:`geolearn.imaging.rtm`.
    mute_water : bool
        Zero the final image above the sea bed (:func:`geolearn.imaging.water_mute`).
    power_iterations : int
        Power iterations (4 solves per shot each) estimating ``‖A‖₂²`` for FISTA's step
        ``1 / (1.1 ‖A‖₂²)``.
    seed : int
        Seed of the power iteration.
    output : path, optional
        SEG-Y image (depth axis, coordinates).
    client, n_workers, progress
        Shot-parallel execution (see :func:`geolearn.imaging.model_survey`).

    Returns
    -------
    ImageResult
        ``image`` = δv ``(nx, nz)`` m/s; ``history`` per iteration ``iteration`` (0 = before
        the first), ``misfit`` ``½‖J δv − d‖²``, ``objective`` (misfit + λ‖z‖₁), ``n_solves``
        (cumulative, measured: see the module docstring) and ``time`` (s).
    """
    _check_options(method, transform, iterations, sparsity)
    problem, observed, vp = resolve_survey(survey, velocity, spacing, origin=origin, **survey_kwargs)
    preflight(problem, velocities=[vp], outputs=image_output(output, problem))
    t_start = time.perf_counter()
    with executor(client, n_workers=n_workers, progress=progress) as ex, count_solves() as cost:
        problem = fit_wavelet(
            problem, vp, observed, ex, wavelet_fit, window=wavelet_window, progress=progress
        )
        model = problem.model()
        born = BornOperator(
            model, problem.geometry(model), torch.as_tensor(vp), executor=ex, progress=progress
        )
        data = observed
        if subtract_background:
            data = observed - model_records(problem, vp, ex, progress=progress)
        op: LinearOperator = born
        scale = None
        if precondition:
            illum = migrate(problem, vp, data, ex, progress=progress)["illumination"]
            scale = _preconditioner(illum, illumination_eps)
            op = born @ Diagonal(torch.as_tensor(scale, dtype=born.dtype))
        if transform == "dct":
            op = op @ DCT2(problem.shape, dtype=born.dtype)
        y = torch.as_tensor(data, dtype=born.dtype)
        lam, lip = 0.0, None
        if method == "fista":
            lam = sparsity * float(op.adjoint(y).abs().max())
            lip = 1.1 * operator_norm(op, tol=1e-2, max_iter=power_iterations, seed=seed) ** 2
        n_solves = [cost.solves]

        def read_ledger(k: int, x: torch.Tensor, record: dict[str, float]) -> None:
            n_solves.append(cost.solves)

        if method == "cg":
            res = tikhonov_cg(op, y, lam, max_iter=iterations, tol=0.0, callback=read_ledger)
        else:
            res = fista(op, y, lam, lipschitz=lip, max_iter=iterations, tol=0.0, progress=progress, seed=seed,
                        callback=read_ledger)  # fmt: skip
        image = _synthesis(res.x, scale, transform, problem)
    if mute_water:
        image = water_mute(image, vp, problem.spacing, problem.origin)
    misfit0 = 0.5 * float(np.sum(data**2))
    history = {
        "iteration": list(range(res.n_iter + 1)),
        "misfit": [misfit0, *res.history.data],
        "objective": [misfit0, *res.history.objective],
        "n_solves": n_solves,
        "time": [0.0, *res.history.time],
    }
    logger.info("lsrtm-%s: misfit %.4g -> %.4g in %d iterations (lambda %.3g), %.1f s", method, misfit0,
                history["misfit"][-1], res.n_iter, lam, time.perf_counter() - t_start)  # fmt: skip
    path = write_image_file(output, image, problem) if output is not None else None
    return ImageResult(image, problem, vp, history, None, f"lsrtm-{method}", path)


def _check_options(method: str, transform: str, iterations: int, sparsity: float) -> None:
    """Refuse settings of :func:`lsrtm` that no solver takes, before any solve."""
    if method not in METHODS:
        raise ConfigError(f"method must be one of {METHODS}, got {method!r}")
    if transform not in TRANSFORMS:
        raise ConfigError(f"transform must be one of {TRANSFORMS}, got {transform!r}")
    if not (isinstance(iterations, int) and iterations >= 1):
        raise ConfigError(f"iterations must be an integer >= 1, got {iterations!r}")
    if not 0.0 <= sparsity <= 1.0:
        raise ConfigError(f"sparsity must lie in [0, 1] (a fraction of ‖Aᵀd‖∞), got {sparsity}")
    if method == "cg" and (sparsity > 0 or transform != "none"):
        raise ConfigError(
            "sparsity and transform apply to method='fista' only; CG solves the plain least squares"
        )


def _synthesis(z: torch.Tensor, scale: np.ndarray | None, transform: str, problem: ShotProblem) -> np.ndarray:
    """``δv = D S z`` from the solver's variable."""
    x = z.detach().to(torch.float64)
    if transform == "dct":
        x = DCT2(problem.shape, dtype=torch.float64)(x)
    img = x.cpu().numpy()
    return img * scale if scale is not None else img
