"""geolearn.learned_inversion: learned schemes with the wave physics inside.

Every network takes its physics at call time and stores none: ``net(y, J)`` for learned LSRTM
(``J`` a Born operator of any survey and background), ``net(v0, d, geometry)`` for learned FWI.

- Learned gradient LSRTM (Adler & Öktem): :class:`LearnedGradientLSRTM` (each layer a CNN of the
  image, ``Jᵀ(Jx − y)`` and the exact classical step; untrained it is CG; :meth:`~LearnedGradientLSRTM.run`
  gives a :class:`LearnedGradientRun`), trained over many backgrounds with
  :func:`train_over_operators` on :func:`born_training_sets` (:class:`BornTrainingSet`), or for one
  survey with :func:`train_for_survey` (``geolearn train-lsrtm``).
- Unrolled ISTA LSRTM: :func:`learned_lsrtm` / :func:`train_learned_lsrtm`; :func:`cg_lsrtm` (the
  classical reference), :func:`pnp_fista_lsrtm`, :func:`deq_lsrtm`.
- Safeguard: :class:`DataSafeguard` (a learned update must fit the data as well as the classical
  one it replaces, up to the noise level); :func:`safeguarded_fwi` for learned FWI.
- Learned FWI: :class:`LearnedFWI` / :func:`train_learned_fwi`; :func:`gd_fwi` (gradient descent
  with line search, the classical reference).
- Measures: :func:`psnr`, :func:`ssim`, :func:`relative_misfit`. Cost is what the operators count
  (``J.applications``) and the solves in the cost ledger (:func:`geolearn.ledger.count_solves`).
- Persistence: :func:`save_learned` / :func:`load_learned` (weights and training domain, read as
  data), :func:`check_transfer` (:class:`OutsideTrainingWarning`), :func:`learned_migrate`.
- The velocity models the networks train on: :mod:`geolearn.learned_inversion.training_models`.

Also in submodules (their public home): losses and pairs (``lsrtm.lsrtm_loss``,
``lsrtm.lsrtm_pairs``, ``learned_gradient.learned_gradient_loss``, ``fwi.fwi_training_loss``),
``learned_gradient.CLASSICAL_STEPS``, ``fwi_baseline.armijo_step`` and ``GradientDescentRun``,
``fwi_safeguard.SafeguardedFWIRun``, ``background_training.draw_training_velocities``,
``born_sampler.BornSampler`` (training batches with a new experiment's operator per step),
``survey_training.SurveyTraining`` / ``SurveyTrainingResult``, ``persistence.LoadedNetwork``,
``metrics.data_misfit`` and ``metrics.peak_memory``.
"""

from geolearn.learned_inversion.background_training import (
    BornTrainingSet,
    born_training_sets,
    train_over_operators,
)
from geolearn.learned_inversion.fwi import LearnedFWI, train_learned_fwi
from geolearn.learned_inversion.fwi_baseline import gd_fwi
from geolearn.learned_inversion.fwi_safeguard import safeguarded_fwi
from geolearn.learned_inversion.learned_gradient import LearnedGradientLSRTM, LearnedGradientRun
from geolearn.learned_inversion.lsrtm import cg_lsrtm, learned_lsrtm, train_learned_lsrtm
from geolearn.learned_inversion.metrics import psnr, relative_misfit, ssim
from geolearn.learned_inversion.migration import learned_migrate
from geolearn.learned_inversion.persistence import (
    OutsideTrainingWarning,
    check_transfer,
    load_learned,
    save_learned,
)
from geolearn.learned_inversion.pnp import deq_lsrtm, pnp_fista_lsrtm
from geolearn.learned_inversion.safeguard import DataSafeguard
from geolearn.learned_inversion.survey_training import train_for_survey

__all__ = [
    "BornTrainingSet",
    "DataSafeguard",
    "LearnedFWI",
    "LearnedGradientLSRTM",
    "LearnedGradientRun",
    "OutsideTrainingWarning",
    "born_training_sets",
    "cg_lsrtm",
    "check_transfer",
    "deq_lsrtm",
    "gd_fwi",
    "learned_lsrtm",
    "learned_migrate",
    "load_learned",
    "pnp_fista_lsrtm",
    "psnr",
    "relative_misfit",
    "safeguarded_fwi",
    "save_learned",
    "ssim",
    "train_for_survey",
    "train_learned_fwi",
    "train_learned_lsrtm",
    "train_over_operators",
]
