"""geolearn.learned_inversion: learned schemes with the wave physics inside.

Every network takes its physics at call time and stores none: ``net(y, J)`` for learned LSRTM
(``J`` a Born operator of any survey and background), ``net(v0, d, geometry)`` for learned FWI.

- Learned LSRTM on the Born operator: :func:`learned_lsrtm` / :func:`train_learned_lsrtm`
  (unrolled ISTA with CNN corrections), :func:`lsrtm_loss`, :func:`lsrtm_pairs`,
  :func:`cg_lsrtm` (the classical reference), :func:`pnp_fista_lsrtm`, :func:`deq_lsrtm`.
- Learned gradient LSRTM (Adler & Öktem): :class:`LearnedGradientLSRTM` (each layer a CNN of the
  image, ``Jᵀ(Jx − y)`` and the exact classical step; untrained it is CG), :class:`LearnedGradientRun`,
  :func:`learned_gradient_loss`; trained over many backgrounds with :func:`train_over_operators` on
  :func:`born_training_sets` of :func:`draw_training_velocities`.
- Safeguard: :class:`DataSafeguard` (a learned update must fit the data as well as the classical
  one, up to the noise level), :func:`safeguarded_fwi` (:class:`SafeguardedFWIRun`) for learned FWI.
- Learned FWI: :class:`LearnedFWI` / :func:`train_learned_fwi`, :func:`gd_fwi`
  (:class:`GradientDescentRun`), :func:`armijo_step`.
- Training models: :func:`random_models` (seeded generator), :func:`starting_models`,
  :func:`smooth_velocity`, :func:`linear_background`, :func:`stack_models`; geology
  (:func:`geological_model`, :func:`geological_models`, :class:`GeologyOptions`), Marmousi
  crops outside the evaluation regions (:func:`marmousi_training_crops`,
  :func:`marmousi_evaluation_crops`, :data:`MARMOUSI_EVALUATION_REGIONS`), migration backgrounds
  (:func:`migration_backgrounds`).
- Measures: :func:`psnr`, :func:`ssim`, :func:`relative_misfit`, :func:`peak_memory`. Cost is
  what the operators count (``J.applications``) and the solves in the cost ledger
  (:func:`geolearn.ledger.count_solves`); the FWI runs record their solves.
- Persistence: :func:`save_learned` / :func:`load_learned` (weights and training domain, read as
  data), :func:`check_transfer` (:class:`OutsideTrainingWarning`), :func:`learned_migrate`.
"""

from geolearn.learned_inversion.background_training import (
    BornTrainingSet,
    born_training_sets,
    draw_training_velocities,
    train_over_operators,
)
from geolearn.learned_inversion.backgrounds import migration_backgrounds
from geolearn.learned_inversion.fwi import LearnedFWI, fwi_training_loss, train_learned_fwi
from geolearn.learned_inversion.fwi_baseline import GradientDescentRun, armijo_step, gd_fwi
from geolearn.learned_inversion.fwi_safeguard import SafeguardedFWIRun, safeguarded_fwi
from geolearn.learned_inversion.generator import (
    MODEL_KINDS,
    SyntheticModel,
    linear_background,
    random_model,
    random_models,
    reflectivity,
    smooth_velocity,
    stack_models,
    starting_models,
)
from geolearn.learned_inversion.geology import GeologyOptions, geological_model, geological_models
from geolearn.learned_inversion.learned_gradient import (
    CLASSICAL_STEPS,
    LearnedGradientLSRTM,
    LearnedGradientRun,
    learned_gradient_loss,
)
from geolearn.learned_inversion.lsrtm import (
    cg_lsrtm,
    learned_lsrtm,
    lsrtm_loss,
    lsrtm_pairs,
    train_learned_lsrtm,
)
from geolearn.learned_inversion.marmousi_augment import (
    MARMOUSI_EVALUATION_REGIONS,
    marmousi_evaluation_crops,
    marmousi_training_crops,
)
from geolearn.learned_inversion.metrics import (
    data_misfit,
    peak_memory,
    psnr,
    relative_misfit,
    ssim,
)
from geolearn.learned_inversion.migration import learned_migrate
from geolearn.learned_inversion.persistence import (
    LoadedNetwork,
    OutsideTrainingWarning,
    check_transfer,
    load_learned,
    save_learned,
)
from geolearn.learned_inversion.pnp import deq_lsrtm, pnp_fista_lsrtm
from geolearn.learned_inversion.safeguard import DataSafeguard

__all__ = [
    "CLASSICAL_STEPS",
    "MARMOUSI_EVALUATION_REGIONS",
    "MODEL_KINDS",
    "BornTrainingSet",
    "DataSafeguard",
    "GeologyOptions",
    "GradientDescentRun",
    "LearnedFWI",
    "LearnedGradientLSRTM",
    "LearnedGradientRun",
    "LoadedNetwork",
    "OutsideTrainingWarning",
    "SafeguardedFWIRun",
    "SyntheticModel",
    "armijo_step",
    "born_training_sets",
    "cg_lsrtm",
    "check_transfer",
    "data_misfit",
    "deq_lsrtm",
    "draw_training_velocities",
    "fwi_training_loss",
    "gd_fwi",
    "geological_model",
    "geological_models",
    "learned_gradient_loss",
    "learned_lsrtm",
    "learned_migrate",
    "linear_background",
    "load_learned",
    "lsrtm_loss",
    "lsrtm_pairs",
    "marmousi_evaluation_crops",
    "marmousi_training_crops",
    "migration_backgrounds",
    "peak_memory",
    "pnp_fista_lsrtm",
    "psnr",
    "random_model",
    "random_models",
    "reflectivity",
    "relative_misfit",
    "safeguarded_fwi",
    "save_learned",
    "smooth_velocity",
    "ssim",
    "stack_models",
    "starting_models",
    "train_learned_fwi",
    "train_learned_lsrtm",
    "train_over_operators",
]
