"""The configuration of ``geolearn train-lsrtm``: train a learned gradient LSRTM network for one survey.

A TOML file with the survey sections of a workflow configuration, read and checked by the same
schema (:func:`geolearn.runs.load_config`, as ``run.workflow = "lsrtm"``), and two sections of its
own:

- ``[survey]`` (SEG-Y path and header readings), ``[velocity]`` (the migration velocity),
  ``[geometry]``, ``[wavelet]`` (``"ricker"`` or ``"file"``), ``[modelling]`` and ``[[preprocess]]``:
  as in ``docs/workflows_config.md``;
- ``[training]``: :class:`TrainingConfig`, the settings of
  :func:`~geolearn.learned_inversion.survey_training.train_for_survey`;
- ``[output]``: :class:`OutputConfig`, the weights file and the work directory.

:func:`train_from_config` builds the survey's problem (no solve), then trains;
:func:`example_train_config` prints every key with its default and meaning.
"""

from __future__ import annotations

import dataclasses
import os
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from geolearn.errors import ConfigError
from geolearn.imaging import problem_from_survey
from geolearn.learned_inversion.survey_training import SurveyTraining, SurveyTrainingResult, train_for_survey
from geolearn.runs.config import Config, _apply_overrides, load_config, read_toml
from geolearn.runs.run import _survey_kwargs
from geolearn.runs.schema import build_section, fail, key_field, unknown_key
from geolearn.runs.velocity import load_velocity

__all__ = [
    "OutputConfig",
    "TrainConfig",
    "TrainingConfig",
    "example_train_config",
    "load_train_config",
    "train_from_config",
]

_D = SurveyTraining()  # the library's defaults are the configuration's


def _check_range(values: tuple[float, float]) -> str | None:
    return None if values[0] < values[1] else "must be [v_min, v_max] with v_min < v_max"


@dataclass(frozen=True)
class TrainingConfig:
    """``[training]``: what the network is trained on and how long (see :class:`SurveyTraining`)."""

    models: int = key_field(
        "Training models drawn on the survey's grid (geological generator).", _D.models, lo=1
    )
    steps: int = key_field("Adam steps, one model and one new random supershot each.", _D.steps, lo=1)
    layers: int = key_field(
        "Layers K of the learned gradient network (3K - 1 J/J^T per image).", _D.layers, lo=1
    )
    features: int = key_field("Hidden channels of each layer's CNN.", _D.features, lo=1)
    depth: int = key_field("3x3 convolutions per layer.", _D.depth, lo=2)
    memory: int = key_field("Memory channels carried between layers.", _D.memory, lo=0)
    seed: int = key_field(
        "Seed of the models, backgrounds, initial weights and every step's draws.", _D.seed, lo=0
    )
    learning_rate: float = key_field(
        "Adam step size (cosine decay to 0).", _D.learning_rate, lo=0.0, lo_open=True
    )
    data_weight: float = key_field("Weight of the relative data misfit in the loss.", _D.data_weight, lo=0.0)
    noise: float = key_field("Relative Gaussian noise on the training records.", _D.noise, lo=0.0, hi=0.99)
    marmousi_fraction: float = key_field(
        "Fraction of models that are augmented Marmousi training crops (needs data_dir or GEOLEARN_DATA_DIR).",
        _D.marmousi_fraction, lo=0.0, hi=1.0)  # fmt: skip
    smoothing_lengths: tuple[float, ...] = key_field(
        "Slowness-smoothing lengths of the training backgrounds in m (one drawn per model).",
        _D.smoothing_lengths, lo=0.0, lo_open=True)  # fmt: skip
    velocity_error: float = key_field("RMS relative smooth error of each background.", _D.velocity_error,
                                      lo=0.0, hi=0.49)  # fmt: skip
    velocity_range: tuple[float, float] | None = key_field(
        "Training velocities [v_min, v_max] in m/s (absent: 0.9x the lowest to 1.1x the highest "
        "velocity below the sea bed, capped at what the time step supports).", lo=0.0, lo_open=True,
        check=_check_range)  # fmt: skip
    encoding: str = key_field("Supershot of each step: 'auto' (rademacher if all shots share their receivers, "
                              "else subset), 'rademacher', 'gaussian' or 'subset'.", _D.encoding,
                              choices=("auto", "rademacher", "gaussian", "subset"))  # fmt: skip
    subset: int | None = key_field(
        "Shots per step (absent: all for supershots, a quarter for 'subset').", lo=1
    )
    checkpoint_every: int = key_field(
        "Steps between checkpoints in output.work_dir.", _D.checkpoint_every, lo=1
    )
    data_dir: str | None = key_field("Reference-data mirror for Marmousi crops (absent: GEOLEARN_DATA_DIR).",
                                     path=True)  # fmt: skip

    def settings(self) -> SurveyTraining:
        """The library's settings (every key but ``data_dir``)."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "data_dir"}
        return SurveyTraining(**values)


@dataclass(frozen=True)
class OutputConfig:
    """``[output]``: where the trained weights and the training's work files go."""

    weights: str | None = key_field("Weights file to write (for geolearn migrate --method learned --weights).",
                                    path=True)  # fmt: skip
    work_dir: str = key_field("Checkpoints, settings and cost; rerun the same config to resume.",
                              "train-lsrtm-work", path=True)  # fmt: skip


#: Sections of a workflow configuration that describe the survey (read by :func:`load_config`).
SURVEY_SECTIONS = ("survey", "velocity", "geometry", "wavelet", "modelling")
OWN_SECTIONS = {"training": TrainingConfig, "output": OutputConfig}


@dataclass(frozen=True)
class TrainConfig:
    """A validated ``geolearn train-lsrtm`` configuration (build it with :func:`load_train_config`)."""

    survey: Config
    training: TrainingConfig
    output: OutputConfig


def load_train_config(
    source: str | os.PathLike[str] | Mapping[str, Any],
    *,
    overrides: Mapping[str, Any] | None = None,
    base_dir: str | os.PathLike[str] | None = None,
) -> TrainConfig:
    """Read and validate a ``geolearn train-lsrtm`` configuration (TOML file or mapping).

    Relative paths are relative to the TOML file (or ``base_dir``); ``overrides`` are dotted keys
    as for :func:`~geolearn.runs.load_config`.

    Raises
    ------
    ConfigError
        Naming the dotted key, its value and what is valid: unknown sections or keys, wrong
        types or ranges, missing ``survey.path``, ``velocity.path`` or ``output.weights``, files
        that do not exist, ``wavelet.kind = 'estimate'`` (training needs a fixed source).
    FileNotFoundError
        ``source`` is a path that does not exist.
    """
    if isinstance(source, Mapping):
        raw = {k: dict(v) if isinstance(v, Mapping) else v for k, v in source.items()}
        base = Path(base_dir) if base_dir is not None else Path.cwd()
    else:
        raw = read_toml(source)
        base = Path(base_dir) if base_dir is not None else Path(source).resolve().parent
    _apply_overrides(raw, overrides or {})
    valid = [*SURVEY_SECTIONS, "preprocess", *OWN_SECTIONS]
    for name in raw:
        if name not in valid:
            raise unknown_key(name, valid, "")
    own = {name: build_section(cls, raw.pop(name, {}), name, base) for name, cls in OWN_SECTIONS.items()}
    if own["output"].weights is None:
        raise ConfigError("output.weights is required: the weights file to write (e.g. weights = 'lsrtm.pt')")
    if raw.get("wavelet", {}).get("kind") == "estimate":
        raise fail("wavelet.kind", "estimate", "training needs a fixed source: use 'ricker' or 'file'")
    survey = load_config({**raw, "run": {"workflow": "lsrtm"}}, base_dir=base)
    return TrainConfig(survey, own["training"], own["output"])


def train_from_config(
    config: TrainConfig | str | os.PathLike[str] | Mapping[str, Any], *, progress: bool = True
) -> SurveyTrainingResult:
    """Train for the configuration's survey and write ``output.weights`` (see :func:`train_for_survey`).

    The survey's problem is built from its SEG-Y headers and the velocity file as
    ``geolearn migrate`` builds it; every check runs before the first wave-equation solve.
    """
    cfg = config if isinstance(config, TrainConfig) else load_train_config(config)
    c = cfg.survey
    vp, spacing, origin = load_velocity(c.velocity, c.velocity.path)
    problem, _ = problem_from_survey(c.survey.path, vp, spacing, origin=origin, **_survey_kwargs(c))
    return train_for_survey(problem, vp, cfg.output.work_dir, cfg.training.settings(), output=cfg.output.weights,
                            data_dir=cfg.training.data_dir, progress=progress)  # fmt: skip


def example_train_config() -> str:
    """A complete example configuration: the required paths, then every key of the own sections
    with its default (commented out when absent by default) and meaning."""
    lines = [
        "# geolearn train-lsrtm CONFIG.toml: train a learned gradient LSRTM network for one survey.",
        "# Survey sections as in docs/workflows_config.md ([survey], [velocity], [geometry], [wavelet],",
        "# [modelling], [[preprocess]]); relative paths are relative to this file.",
        "[survey]",
        "path = 'shots.sgy'            # SEG-Y shot gathers (only their geometry is used)",
        "[velocity]",
        "path = 'migration_velocity.sgy'",
        "[wavelet]",
        "kind = 'ricker'               # or 'file' with path = ...; the source of geolearn migrate",
        "peak_frequency = 10.0         # Hz (geolearn migrate --f0)",
        "[modelling]",
        "space_order = 8",
        "nbl = 40",
    ]
    for name, cls in OWN_SECTIONS.items():
        lines.append(f"[{name}]")
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            value = f.default
            if name == "output" and f.name == "weights":
                value = "lsrtm_weights.pt"
            shown = list(value) if isinstance(value, tuple) else value
            text = repr(shown).replace("True", "true").replace("False", "false")
            doc = f"# {f.metadata['doc']}" + (
                "" if value is not None else f" ({hints[f.name]})".replace("typing.", "")
            )
            lines.append(
                f"{'# ' if value is None else ''}{f.name} = {text if value is not None else '...'}  {doc}"
            )
    return "\n".join(lines) + "\n"
