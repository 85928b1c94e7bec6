"""geolearn.learned_inversion: learned schemes with the wave physics inside.

- Learned LSRTM on the Born operator: :func:`learned_lsrtm` / :func:`train_learned_lsrtm`
  (unrolled steepest descent with CNN corrections), :func:`lsrtm_loss`, :func:`lsrtm_pairs`,
  :func:`cg_lsrtm` (the classical reference), :func:`pnp_fista_lsrtm`, :func:`deq_lsrtm`.
- Learned FWI: :class:`LearnedFWI` / :func:`train_learned_fwi`, :func:`gd_fwi`.
- Training models: :func:`random_models` (seeded generator), :func:`starting_models`,
  :func:`smooth_velocity`, :func:`linear_background`, :func:`stack_models`.
- Measures: :func:`psnr`, :func:`ssim`, :func:`relative_misfit`, :class:`CostCounter`,
  :class:`CountingOperator`, :func:`peak_memory`.
- Persistence: :func:`save_learned` / :func:`load_learned`, :func:`learned_migrate`.
"""

from geolearn.learned_inversion.fwi import LearnedFWI, fwi_training_loss, gd_fwi, train_learned_fwi
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
    deq_lsrtm,
    learned_lsrtm,
    lsrtm_loss,
    lsrtm_pairs,
    pnp_fista_lsrtm,
    steepest_descent_step,
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
from geolearn.learned_inversion.persistence import LoadedNetwork, learned_migrate, load_learned, save_learned

__all__ = [
    "MODEL_KINDS",
    "CostCounter",
    "CountingOperator",
    "LearnedFWI",
    "LoadedNetwork",
    "SyntheticModel",
    "cg_lsrtm",
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
    "steepest_descent_step",
    "train_learned_fwi",
    "train_learned_lsrtm",
]
