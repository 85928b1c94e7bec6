"""Pre-flight checks: nothing is spent before the inputs are known good.

Every workflow (survey modelling, RTM, LSRTM, FWI, a configuration run, the CLI) calls
:func:`preflight` after it has read its inputs and before its first wave-equation solve. It
checks, in this order, and raises a one-line error naming the value and what would be valid:

1. outputs: the directory of every output file exists (or, for a run directory the workflow
   creates, its nearest existing ancestor) and is writable — :class:`~geolearn.errors.OutputError`;
2. free disk: at least the estimated size of the outputs is free on each target file system
   (:func:`shutil.disk_usage`) — OutputError;
3. velocities: shaped like the problem's grid — :class:`~geolearn.errors.ModelError`;
4. coverage: every source and receiver lies inside the velocity model —
   :class:`~geolearn.errors.GeometryError`;
5. time step: ``dt`` within the stability limit for the largest velocity the run will
   propagate in — :class:`~geolearn.errors.StabilityError`;
6. grid: at least :data:`MIN_POINTS_PER_WAVELENGTH` grid points per shortest wavelength of the
   wavelets (below it the grid cannot represent the wavefield at all; the wave layer warns
   below its accuracy threshold of 5) — ModelError.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from geolearn.errors import GeometryError, ModelError, OutputError, StabilityError
from geolearn.imaging.discretisation import stability_limit
from geolearn.imaging.problem import ShotProblem
from geolearn.wave import max_frequency

__all__ = ["FIGURE_BYTES", "MIN_POINTS_PER_WAVELENGTH", "preflight", "segy_bytes"]

#: Spatial Nyquist: fewer grid points per wavelength alias the shortest wavelength.
MIN_POINTS_PER_WAVELENGTH = 2.0

#: Upper bound of a PNG figure's size: the widest figure (5 panels, 21 x 3.6 in at 120 dpi) as
#: uncompressed RGBA is 2520 x 432 x 4 bytes = 4.4 MB.
FIGURE_BYTES = 5 * 2**20


def segy_bytes(n_traces: int, n_samples: int) -> int:
    """Size of a SEG-Y file of IEEE-float traces: 3600-byte file header, 240-byte trace headers."""
    return 3600 + int(n_traces) * (240 + 4 * int(n_samples))


def _existing_ancestor(directory: Path) -> Path:
    while not directory.exists() and directory != directory.parent:
        directory = directory.parent
    return directory


def _check_outputs(outputs: Mapping[str | os.PathLike, int], create_parents: bool) -> None:
    needed: dict[Path, int] = {}
    for output, nbytes in outputs.items():
        path = Path(output).absolute()
        directory = path.parent
        if not create_parents and not directory.is_dir():
            what = "is not a directory" if directory.exists() else "does not exist"
            raise OutputError(
                f"cannot write {path}: directory {directory} {what}; create it or choose another output"
            )
        target = _existing_ancestor(directory)
        if not target.is_dir():
            raise OutputError(f"cannot create {directory} for {path.name}: {target} is not a directory")
        if not os.access(target, os.W_OK | os.X_OK):
            raise OutputError(
                f"cannot write {path}: directory {target} is not writable; choose another output"
            )
        if path.is_dir():
            raise OutputError(f"cannot write {path}: it is a directory; give a file name")
        needed[target] = needed.get(target, 0) + int(nbytes)
    for target, nbytes in needed.items():
        free = shutil.disk_usage(target).free
        if free < nbytes:
            raise OutputError(f"not enough free disk for the outputs in {target}: about {nbytes / 1e6:.1f} MB "
                              f"needed, {free / 1e6:.1f} MB free; free space or choose another output")  # fmt: skip


def _check_coverage(problem: ShotProblem) -> None:
    lo = np.asarray(problem.origin)
    hi = lo + np.asarray(problem.spacing) * (np.asarray(problem.shape) - 1)
    tol = 1e-9 * float(np.max(hi - lo))
    extent = ", ".join(f"{a:g}..{b:g}" for a, b in zip(lo, hi))
    for shot in range(problem.n_shots):
        for what, points in (
            ("source", problem.src_positions[shot : shot + 1]),
            ("receiver", problem.rec_positions[shot]),
        ):
            outside = np.nonzero(~np.all((points >= lo - tol) & (points <= hi + tol), axis=1))[0]
            if outside.size:
                i = int(outside[0])
                raise GeometryError(f"shot {shot}: {what} {i} at {tuple(points[i].tolist())} m lies outside the "
                                    f"velocity model [{extent}] m; extend the model or drop the shot")  # fmt: skip


def _check_discretisation(problem: ShotProblem, vmin: float, vmax: float, bound: bool) -> None:
    limit = stability_limit(vmax, problem.spacing, problem.space_order)
    if not problem.dt <= limit:
        what = "the upper velocity bound" if bound else "the largest velocity of the models"
        raise StabilityError(f"dt = {problem.dt:.6g} s exceeds the stability limit {limit:.6g} s for {what}, "
                             f"{vmax:.6g} m/s (space order {problem.space_order}); lower that velocity or use "
                             f"dt <= {limit:.6g} s")  # fmt: skip
    fmax = max_frequency(problem.wavelets, problem.dt)
    h = max(problem.spacing)
    if fmax > 0 and vmin / (fmax * h) < MIN_POINTS_PER_WAVELENGTH:
        raise ModelError(
            f"grid spacing {h:g} m gives {vmin / (fmax * h):.2f} points per wavelength at {fmax:.4g} Hz for "
            f"{vmin:.6g} m/s; at least {MIN_POINTS_PER_WAVELENGTH:g} are needed: use spacing <= "
            f"{vmin / (fmax * MIN_POINTS_PER_WAVELENGTH):.3g} m or a wavelet below {vmin / (h * MIN_POINTS_PER_WAVELENGTH):.3g} Hz"
        )  # fmt: skip


def preflight(
    problem: ShotProblem | None = None,
    *,
    velocities: Sequence[np.ndarray] = (),
    vmax: float | None = None,
    outputs: Mapping[str | os.PathLike, int] | None = None,
    create_parents: bool = False,
) -> None:
    """Check outputs, disk space, geometry and discretisation before any wave-equation solve.

    Parameters
    ----------
    problem : ShotProblem, optional
        The survey to be solved (without it, only the outputs are checked).
    velocities : sequence of ndarray, each (nx, nz)
        Velocities (m/s) the run propagates in besides ``problem.reference`` (migration
        velocity, starting and true models); their extremes set the stability and sampling checks.
    vmax : float, optional
        A larger velocity the run may reach (e.g. FWI's upper bound), m/s.
    outputs : mapping of path to int, optional
        Files the run will write and their estimated sizes in bytes (:func:`segy_bytes`,
        :data:`FIGURE_BYTES`).
    create_parents : bool
        The run creates missing directories of ``outputs`` (a run directory); their nearest
        existing ancestor must then be writable. Otherwise each directory must exist.

    Raises
    ------
    OutputError, ModelError, GeometryError, StabilityError
        See the module docstring; one line naming the value and what would be valid.
    """
    _check_outputs(outputs or {}, create_parents)
    if problem is None:
        return
    for i, v in enumerate(velocities):
        if tuple(np.shape(v)) != problem.shape:
            raise ModelError(
                f"velocity {i} has shape {tuple(np.shape(v))}; the survey's grid is {problem.shape}"
            )
    _check_coverage(problem)
    values = [problem.reference, *velocities]
    v_low = min(float(np.min(v)) for v in values)
    v_models = max(float(np.max(v)) for v in values)
    bound = vmax is not None and float(vmax) > v_models
    _check_discretisation(problem, v_low, float(vmax) if bound else v_models, bound)
