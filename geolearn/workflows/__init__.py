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
- Learned inversion with wave physics: :func:`learned_lsrtm` / :func:`train_learned_lsrtm`,
  :class:`LearnedFWI` / :func:`train_learned_fwi`, :func:`deq_lsrtm`, :func:`pnp_fista_lsrtm`, the model
  generator (:func:`random_models`), metrics (:func:`psnr`, :func:`ssim`, :class:`CostCounter`) and
  :func:`save_learned` / :func:`load_learned` / :func:`learned_migrate`.
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
from geolearn.workflows.learned_fwi import (
    LearnedFWI,
    fwi_training_loss,
    gd_fwi,
    train_learned_fwi,
)
from geolearn.workflows.learned_io import (
    LoadedNetwork,
    learned_migrate,
    load_learned,
    operator_config,
    save_learned,
)
from geolearn.workflows.learned_lsrtm import (
    ImageCorrection,
    ScaledDenoiser,
    TransformedScheme,
    born_lipschitz_bound,
    cg_lsrtm,
    deq_lsrtm,
    learned_lsrtm,
    lsrtm_pairs,
    pnp_fista_lsrtm,
    steepest_descent_step,
    train_learned_lsrtm,
    train_lsrtm_denoiser,
)
from geolearn.workflows.lsrtm_imaging import BornShots, lsrtm
from geolearn.workflows.marmousi import MARMOUSI_WATER_DEPTH, marmousi_crop
from geolearn.workflows.metrics import (
    CostCounter,
    CountingOperator,
    PeakMemory,
    data_misfit,
    gaussian_window,
    peak_memory,
    psnr,
    relative_misfit,
    ssim,
    ssim_map,
)
from geolearn.workflows.misfits import MISFITS, misfit
from geolearn.workflows.model_generator import (
    MODEL_KINDS,
    SyntheticModel,
    linear_background,
    random_model,
    random_models,
    reflectivity,
    smooth_velocity,
    stack_models,
)
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
    "MODEL_KINDS",
    "BornShots",
    "Config",
    "CostCounter",
    "CountingOperator",
    "FwiResult",
    "FwiSettings",
    "ImageCorrection",
    "ImageResult",
    "LearnedFWI",
    "LoadedNetwork",
    "PeakMemory",
    "ProjectedLBFGS",
    "RunDirectory",
    "ScaledDenoiser",
    "ShotProblem",
    "SurveyResult",
    "SyntheticModel",
    "TransformedScheme",
    "born_lipschitz_bound",
    "cg_lsrtm",
    "choose_dt",
    "data_misfit",
    "deq_lsrtm",
    "describe_keys",
    "estimate_wavelet",
    "fwi",
    "fwi_gradient",
    "fwi_training_loss",
    "gaussian_window",
    "gd_fwi",
    "laplacian_filter",
    "learned_lsrtm",
    "learned_migrate",
    "linear_background",
    "load_config",
    "load_learned",
    "load_state",
    "load_velocity",
    "lowpass",
    "lsrtm",
    "lsrtm_pairs",
    "marmousi_crop",
    "misfit",
    "model_survey",
    "operator_config",
    "peak_memory",
    "pnp_fista_lsrtm",
    "problem_from_survey",
    "psnr",
    "random_model",
    "random_models",
    "reflectivity",
    "relative_misfit",
    "resolve_survey",
    "restore_rng",
    "resume",
    "rng_state",
    "rtm",
    "run_from_config",
    "save_learned",
    "save_state",
    "smooth_velocity",
    "ssim",
    "ssim_map",
    "stack_models",
    "steepest_descent_step",
    "surface_acquisition",
    "train_learned_fwi",
    "train_learned_lsrtm",
    "train_lsrtm_denoiser",
    "water_mask",
]
