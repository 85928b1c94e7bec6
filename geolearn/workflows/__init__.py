"""geolearn.workflows: configuration, run directories and checkpoint/resume for the inversion workflows.

- :func:`load_config` / :class:`Config`: TOML configuration with validation naming the key.
- :class:`RunDirectory`, :func:`save_state`, :func:`load_state`: atomic per-iteration state;
  see :mod:`geolearn.workflows.checkpoint` for the resume contract.
- :func:`rng_state`, :func:`restore_rng`: random-generator state for exact resumption.
"""

from geolearn.workflows.checkpoint import RunDirectory, load_state, restore_rng, rng_state, save_state
from geolearn.workflows.config import Config, describe_keys, load_config

__all__ = [
    "Config",
    "RunDirectory",
    "describe_keys",
    "load_config",
    "load_state",
    "restore_rng",
    "rng_state",
    "save_state",
]
