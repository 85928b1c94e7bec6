"""geolearn.workflows: survey modelling, RTM, LSRTM, FWI, configuration and checkpoint/resume.

- :func:`model_survey`: synthetic SEG-Y shots from a velocity model and an acquisition.
- :func:`rtm`: reverse-time migration (illumination compensation, Laplacian filter).
- :func:`lsrtm`: least-squares migration by CG or sparsity-promoting FISTA; :class:`BornShots`.
- :class:`ShotProblem`, :func:`problem_from_survey`, :func:`choose_dt`, :func:`surface_acquisition`:
  plain-data surveys that travel to Dask workers.
- :func:`load_config` / :class:`Config`: TOML configuration with validation naming the key.
- :class:`RunDirectory`, :func:`save_state`, :func:`load_state`: atomic per-iteration state;
  see :mod:`geolearn.workflows.checkpoint` for the resume contract.
- :func:`rng_state`, :func:`restore_rng`: random-generator state for exact resumption.
"""

from geolearn.workflows.acquisition import (
    ShotProblem,
    choose_dt,
    problem_from_survey,
    resolve_survey,
    surface_acquisition,
)
from geolearn.workflows.checkpoint import RunDirectory, load_state, restore_rng, rng_state, save_state
from geolearn.workflows.config import Config, describe_keys, load_config
from geolearn.workflows.lsrtm_imaging import BornShots, lsrtm
from geolearn.workflows.misfits import MISFITS, misfit
from geolearn.workflows.results import FwiResult, ImageResult, SurveyResult
from geolearn.workflows.rtm_imaging import laplacian_filter, rtm
from geolearn.workflows.survey_modeling import model_survey

__all__ = [
    "MISFITS",
    "BornShots",
    "Config",
    "FwiResult",
    "ImageResult",
    "RunDirectory",
    "ShotProblem",
    "SurveyResult",
    "choose_dt",
    "describe_keys",
    "laplacian_filter",
    "load_config",
    "load_state",
    "lsrtm",
    "misfit",
    "model_survey",
    "problem_from_survey",
    "resolve_survey",
    "restore_rng",
    "rng_state",
    "rtm",
    "save_state",
    "surface_acquisition",
]
