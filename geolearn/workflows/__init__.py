"""geolearn.workflows: survey modelling, RTM, LSRTM, FWI, configuration and checkpoint/resume.

- :func:`model_survey`: synthetic SEG-Y shots from a velocity model and an acquisition.
- :func:`rtm`: reverse-time migration (illumination compensation, Laplacian filter).
- :func:`lsrtm`: least-squares migration by CG or sparsity-promoting FISTA; :class:`BornShots`, :class:`DCT2`.
- :func:`fwi`: multiscale FWI (L2/NCC/envelope misfits, projected L-BFGS or Adam, water mask and
  illumination preconditioning, wavelet estimation), checkpointed every iteration; :func:`resume`
  continues a run directory; :func:`fwi_gradient` is the shot-parallel misfit gradient.
- :func:`run_from_config`: any workflow from a TOML configuration.
- :class:`ShotProblem`, :func:`problem_from_survey`, :func:`choose_dt`, :func:`surface_acquisition`:
  plain-data surveys that travel to Dask workers.
- :func:`marmousi_crop`: the Marmousi reference model cropped and block-averaged.
- :func:`load_config` / :class:`Config`: TOML configuration with validation naming the key.
- :class:`RunDirectory`, :func:`save_state`, :func:`load_state`: atomic per-iteration state;
  see :mod:`geolearn.workflows.checkpoint` for the resume contract.
- :func:`rng_state`, :func:`restore_rng`: random-generator state for exact resumption.
"""

from geolearn.workflows.acquisition import ShotProblem, choose_dt, surface_acquisition
from geolearn.workflows.checkpoint import RunDirectory, load_state, restore_rng, rng_state, save_state
from geolearn.workflows.config import Config, describe_keys, load_config
from geolearn.workflows.fwi_inversion import fwi, fwi_gradient
from geolearn.workflows.fwi_state import FwiSettings
from geolearn.workflows.lbfgs import ProjectedLBFGS
from geolearn.workflows.lsrtm_imaging import BornShots, lsrtm
from geolearn.workflows.marmousi import MARMOUSI_WATER_DEPTH, marmousi_crop
from geolearn.workflows.misfits import MISFITS, misfit
from geolearn.workflows.multiscale import lowpass
from geolearn.workflows.preconditioning import water_mask
from geolearn.workflows.results import FwiResult, ImageResult, SurveyResult
from geolearn.workflows.rtm_imaging import laplacian_filter, rtm
from geolearn.workflows.runs import load_velocity, resume, run_from_config
from geolearn.workflows.survey_input import problem_from_survey, resolve_survey
from geolearn.workflows.survey_modeling import model_survey
from geolearn.workflows.transforms import DCT2
from geolearn.workflows.wavelet_estimation import estimate_wavelet

__all__ = [
    "DCT2",
    "MARMOUSI_WATER_DEPTH",
    "MISFITS",
    "BornShots",
    "Config",
    "FwiResult",
    "FwiSettings",
    "ImageResult",
    "ProjectedLBFGS",
    "RunDirectory",
    "ShotProblem",
    "SurveyResult",
    "choose_dt",
    "describe_keys",
    "estimate_wavelet",
    "fwi",
    "fwi_gradient",
    "laplacian_filter",
    "load_config",
    "load_state",
    "load_velocity",
    "lowpass",
    "lsrtm",
    "marmousi_crop",
    "misfit",
    "model_survey",
    "problem_from_survey",
    "resolve_survey",
    "restore_rng",
    "resume",
    "rng_state",
    "rtm",
    "run_from_config",
    "save_state",
    "surface_acquisition",
    "water_mask",
]
