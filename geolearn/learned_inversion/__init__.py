"""geolearn.learned_inversion: learned schemes with the wave physics inside.

Every network takes its physics at call time and stores none: ``net(y, J)`` for learned LSRTM
(``J`` a Born operator of any survey and background), ``net(v0, d, geometry)`` for learned FWI.

- Learned LSRTM on the Born operator: :func:`learned_lsrtm` / :func:`train_learned_lsrtm`
  (unrolled ISTA with CNN corrections), :func:`lsrtm_loss`, :func:`lsrtm_pairs`,
  :func:`cg_lsrtm` (the classical reference), :func:`pnp_fista_lsrtm`, :func:`deq_lsrtm`.
- Learned FWI: :class:`LearnedFWI` / :func:`train_learned_fwi`, :func:`gd_fwi`.
- Training models: :func:`random_models` (seeded generator), :func:`starting_models`,
  :func:`smooth_velocity`, :func:`linear_background`, :func:`stack_models`.
- Measures: :func:`psnr`, :func:`ssim`, :func:`relative_misfit`, :class:`CostCounter`,
  :class:`CountingOperator`, :func:`peak_memory`.
- Persistence: :func:`save_learned` / :func:`load_learned` (weights and training domain, read as
  data), :func:`check_transfer` (:class:`OutsideTrainingWarning`), :func:`learned_migrate`.
"""

from geolearn.learned_inversion.fwi import LearnedFWI, fwi_training_loss, train_learned_fwi
from geolearn.learned_inversion.fwi_baseline import gd_fwi
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
from geolearn.learned_inversion.lsrtm import (
    cg_lsrtm,
    learned_lsrtm,
    lsrtm_loss,
    lsrtm_pairs,
    train_learned_lsrtm,
)
from geolearn.learned_inversion.metrics import (
    CostCounter,
    CountingOperator,
    data_misfit,
    peak_memory,
    psnr,
    relative_misfit,
    ssim,
)
from geolearn.learned_inversion.persistence import (
    LoadedNetwork,
    OutsideTrainingWarning,
    check_transfer,
    learned_migrate,
    load_learned,
    save_learned,
)
from geolearn.learned_inversion.pnp import deq_lsrtm, pnp_fista_lsrtm

__all__ = [
    "MODEL_KINDS",
    "CostCounter",
    "CountingOperator",
    "LearnedFWI",
    "LoadedNetwork",
    "OutsideTrainingWarning",
    "SyntheticModel",
    "cg_lsrtm",
    "check_transfer",
    "data_misfit",
    "deq_lsrtm",
    "fwi_training_loss",
    "gd_fwi",
    "learned_lsrtm",
    "learned_migrate",
    "linear_background",
    "load_learned",
    "lsrtm_loss",
    "lsrtm_pairs",
    "peak_memory",
    "pnp_fista_lsrtm",
    "psnr",
    "random_model",
    "random_models",
    "reflectivity",
    "relative_misfit",
    "save_learned",
    "smooth_velocity",
    "ssim",
    "stack_models",
    "starting_models",
    "train_learned_fwi",
    "train_learned_lsrtm",
]
