"""geolearn.runs: TOML configurations, run directories, checkpoints and resumption.

- :func:`load_config` / :class:`Config` — the configuration schema with validation naming the
  key (``[[preprocess]]`` steps become ``cfg.preprocess``); :func:`describe_keys` lists every key
  with its default and meaning; :func:`read_toml` the raw tables of a file.
- :func:`run_from_config` — run any workflow from a configuration; :func:`resume` — finish an
  interrupted FWI run directory; :func:`load_velocity` — a ``[velocity]`` section's model.
- :func:`load_train_config` / :func:`train_from_config` — ``geolearn train-lsrtm``: train a learned
  gradient LSRTM for the survey of a configuration (:func:`example_train_config` prints one).
- :class:`RunDirectory` — a run's configuration and latest state (the state file itself is
  :mod:`geolearn.io.state`: pickle-free, atomic, with the resume contract).
"""

from geolearn.runs.checkpoint import RunDirectory
from geolearn.runs.config import Config, describe_keys, load_config, read_toml
from geolearn.runs.run import resume, run_from_config
from geolearn.runs.train_config import example_train_config, load_train_config, train_from_config
from geolearn.runs.velocity import load_velocity

__all__ = [
    "Config",
    "RunDirectory",
    "describe_keys",
    "example_train_config",
    "load_config",
    "load_train_config",
    "load_velocity",
    "read_toml",
    "resume",
    "run_from_config",
    "train_from_config",
]
