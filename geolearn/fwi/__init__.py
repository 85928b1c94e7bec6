"""geolearn.fwi: full-waveform inversion over a :class:`~geolearn.imaging.ShotProblem`.

- :func:`fwi` — multiscale FWI (L2/NCC/envelope misfits, projected L-BFGS or Adam, water mask
  and illumination preconditioning, wavelet estimation), checkpointed every iteration;
  :func:`fwi_gradient` — the shot-parallel misfit and its gradient.
- :func:`check_run` — the pre-flight of an inversion; :class:`FwiRun`, :func:`initial_state`,
  :func:`finish` — one inversion's inputs, its first state and the one way it ends (iterate,
  result, ``model.sgy`` and ``fwi.png`` in the run directory), used by :func:`fwi` and
  :func:`geolearn.runs.resume` alike.
- :class:`FwiSettings`, :func:`save_inputs`, :func:`load_inputs` — what a run directory keeps so
  that :func:`geolearn.runs.resume` needs nothing else.
- :func:`misfit`, :data:`MISFITS` — data misfits and their adjoint sources.
- :func:`lowpass`, :func:`band_schedule` — multiscale filtering.
- :func:`water_mask`, :func:`gradient_weights` — gradient masks and preconditioners.
"""

from geolearn.fwi.gradient import fwi_gradient, gradient_shot, misfit_shot
from geolearn.fwi.inversion import check_run, finish, fwi
from geolearn.fwi.loop import FwiRun, initial_state
from geolearn.fwi.misfits import MISFITS, misfit, misfit_and_residual
from geolearn.fwi.multiscale import band_schedule, lowpass
from geolearn.fwi.preconditioning import PRECONDITIONERS, gradient_weights, water_mask
from geolearn.fwi.state import FwiSettings, load_inputs, save_inputs

__all__ = [
    "MISFITS",
    "PRECONDITIONERS",
    "FwiRun",
    "FwiSettings",
    "band_schedule",
    "check_run",
    "finish",
    "fwi",
    "fwi_gradient",
    "gradient_shot",
    "gradient_weights",
    "initial_state",
    "load_inputs",
    "lowpass",
    "misfit",
    "misfit_and_residual",
    "misfit_shot",
    "save_inputs",
    "water_mask",
]
