"""What an FWI run directory holds: its files, their sizes before the run starts, the outputs at its end.

A run directory (``fwi(..., run_dir=...)``, ``run.output_dir`` of a configuration) ends with::

    run_dir/
      config.toml      the configuration (runs started from one; written when the run starts)
      fwi_inputs.npz   problem, observed data, starting/true models, settings (when it starts)
      state.npz        the latest state (after every ``checkpoint_every`` iterations)
      model.sgy        the final velocity (nx, nz) in m/s, IEEE float SEG-Y       } written by
      fwi.png          models, first gradient and convergence (:meth:`FwiResult.plot`) } finish()

The last two are written by :func:`geolearn.fwi.finish`, the one way an inversion ends, so an
uninterrupted run and one killed and resumed write the same files.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from geolearn.fwi.multiscale import band_schedule
from geolearn.fwi.state import INPUTS_FILE, FwiSettings
from geolearn.imaging.preflight import FIGURE_BYTES, segy_bytes
from geolearn.imaging.problem import ShotProblem
from geolearn.imaging.results import FwiResult
from geolearn.io.state import STATE_FILE
from geolearn.viz.convergence import save_figure

__all__ = ["FIGURE_FILE", "MODEL_FILE", "run_outputs", "write_outputs"]

MODEL_FILE = "model.sgy"
FIGURE_FILE = "fwi.png"

#: Allowance for the JSON skeletons, history and archive headers of the .npz files, bytes.
_NPZ_OVERHEAD = 2**20


def run_outputs(
    problem: ShotProblem, settings: FwiSettings, has_true: bool, run_dir: str | os.PathLike
) -> dict[Path, int]:
    """Every file an inversion writes into ``run_dir`` with an upper estimate of its size in bytes.

    ``state.npz`` counts twice: while it is replaced, the new copy and the previous one coexist.
    """
    cells = math.prod(problem.shape)
    inputs = 8 * (math.prod(problem.record_shape) + cells * (3 if has_true else 2) + problem.wavelets.size)
    optimiser = 2 * settings.lbfgs_memory if settings.optimizer == "lbfgs" else 3
    n_bands = len(band_schedule(settings.bands))
    # model, gradient, preconditioner, first gradient per band, optimiser memory, wavelets
    state = 8 * (cells * (3 + n_bands + optimiser) + problem.wavelets.size)
    directory = Path(run_dir)
    return {
        directory / INPUTS_FILE: inputs + _NPZ_OVERHEAD,
        directory / STATE_FILE: 2 * (state + _NPZ_OVERHEAD),
        directory / MODEL_FILE: segy_bytes(math.prod(problem.shape[:-1]), problem.shape[-1]),
        directory / FIGURE_FILE: FIGURE_BYTES,
    }


def write_outputs(result: FwiResult, run_dir: str | os.PathLike) -> dict[str, Path]:
    """Write the final model (``model.sgy``) and the figure (``fwi.png``) into ``run_dir``, atomically.

    Returns
    -------
    dict
        ``{"model": path, "figure": path}``.
    """
    from geolearn.io import write_model

    directory = Path(run_dir)
    p = result.problem
    model = Path(
        write_model(directory / MODEL_FILE, result.velocity.astype(np.float32), p.spacing, origin=p.origin)
    )
    figure = save_figure(result.plot(), directory / FIGURE_FILE)
    return {"model": model, "figure": figure}
