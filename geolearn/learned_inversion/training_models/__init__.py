"""geolearn.learned_inversion.training_models: the velocity models learned schemes train on.

Pure NumPy, seeded, on any grid; nothing here runs a wave equation.

- Simple generator: :func:`random_model` / :func:`random_models` (layered, faulted and lens
  models, :data:`MODEL_KINDS`, optional water layer) as :class:`SyntheticModel`, with
  :func:`reflectivity`, :func:`smooth_velocity`, :func:`linear_background`,
  :func:`starting_models` (FWI starts) and :func:`stack_models` (to torch batches).
- Geology: :func:`geological_model` / :func:`geological_models` (:class:`GeologyOptions`: folded
  and faulted layers, thin beds, channels, salt-like bodies, unconformities, varying dips).
- Marmousi: :func:`marmousi_training_crops` (augmented crops outside the evaluation regions) and
  :func:`marmousi_evaluation_crops` (inside :data:`MARMOUSI_EVALUATION_REGIONS`, never trained on).
- Backgrounds made as a user's migration velocity would be: :func:`migration_backgrounds`.

Also in submodules: ``generator.WATER_VELOCITY``, ``backgrounds.smooth_slowness`` and the geology
building blocks (``geology_layers``, ``geology_structures``, ``geology_history``).
"""

from geolearn.learned_inversion.training_models.backgrounds import migration_backgrounds
from geolearn.learned_inversion.training_models.generator import (
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
from geolearn.learned_inversion.training_models.geology import (
    GeologyOptions,
    geological_model,
    geological_models,
)
from geolearn.learned_inversion.training_models.marmousi_augment import (
    MARMOUSI_EVALUATION_REGIONS,
    marmousi_evaluation_crops,
    marmousi_training_crops,
)

__all__ = [
    "MARMOUSI_EVALUATION_REGIONS",
    "MODEL_KINDS",
    "GeologyOptions",
    "SyntheticModel",
    "geological_model",
    "geological_models",
    "linear_background",
    "marmousi_evaluation_crops",
    "marmousi_training_crops",
    "migration_backgrounds",
    "random_model",
    "random_models",
    "reflectivity",
    "smooth_velocity",
    "stack_models",
    "starting_models",
]
