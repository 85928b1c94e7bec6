"""TOML configuration for the workflows: a dataclass schema with defaults and strict validation.

:func:`load_config` reads a TOML file (or a mapping), rejects unknown keys with a "did you
mean" suggestion, checks every value's type, choices and range, resolves relative paths
against the TOML file's directory and returns a frozen :class:`Config`. Every error is a
:class:`~geolearn.errors.ConfigError` naming the dotted key, the bad value and what is valid::

    fwi.misfit = 'l3' is invalid: must be one of 'l2', 'ncc', 'envelope'
    unknown key 'fwi.iteratons' (did you mean 'fwi.iterations'?)

All keys, their units and defaults are listed by :func:`describe_keys` and documented in
``docs/workflows_config.md``; ``examples/fwi_marmousi.toml`` is a complete example, and
``examples/field_survey.toml`` one with a ``[[preprocess]]`` list (:func:`geolearn.processing.parse_steps`,
checked at load; against the survey's time axis before any solve).
Path values may use environment variables (``${GEOLEARN_DATA_DIR}/marmousi/vp_marmousi_bi``)
and ``~``; relative paths are relative to the TOML file.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from geolearn.errors import ConfigError
from geolearn.processing import Pipeline, parse_steps
from geolearn.runs.schema import build_section, fail, unknown_key
from geolearn.runs.sections import (
    AcquisitionConfig,
    CheckpointConfig,
    FwiConfig,
    GeometryConfig,
    LsrtmConfig,
    ModellingConfig,
    ParallelConfig,
    RtmConfig,
    RunConfig,
    SurveyConfig,
    VelocityConfig,
    WaveletConfig,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, packaged separately
    import tomli as tomllib

__all__ = ["Config", "describe_keys", "load_config", "read_toml"]


@dataclass(frozen=True)
class Config:
    """A complete, validated workflow configuration (build it with :func:`load_config`)."""

    run: RunConfig = field(default_factory=RunConfig)
    survey: SurveyConfig = field(default_factory=SurveyConfig)
    velocity: VelocityConfig = field(default_factory=VelocityConfig)
    geometry: GeometryConfig = field(default_factory=GeometryConfig)
    acquisition: AcquisitionConfig = field(default_factory=AcquisitionConfig)
    wavelet: WaveletConfig = field(default_factory=WaveletConfig)
    modelling: ModellingConfig = field(default_factory=ModellingConfig)
    rtm: RtmConfig = field(default_factory=RtmConfig)
    lsrtm: LsrtmConfig = field(default_factory=LsrtmConfig)
    fwi: FwiConfig = field(default_factory=FwiConfig)
    parallel: ParallelConfig = field(default_factory=ParallelConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    preprocess: Pipeline = field(default_factory=lambda: parse_steps([]))

    def to_dict(self) -> dict[str, Any]:
        """Nested plain dict (tuples as lists, absent values omitted), writable with ``tomli_w``.

        ``preprocess`` is the list of step tables (``[[preprocess]]``), present when not empty.
        """

        def plain(v: Any) -> Any:
            return list(v) if isinstance(v, tuple) else dict(v) if isinstance(v, Mapping) else v

        out: dict[str, Any] = {
            section: {
                f.name: plain(getattr(getattr(self, section), f.name))
                for f in dataclasses.fields(getattr(self, section))
                if getattr(getattr(self, section), f.name) is not None
            }
            for section in _SECTIONS
        }
        if self.preprocess.steps:
            out["preprocess"] = self.preprocess.as_dicts()
        return out


#: The ``[section]`` tables of a configuration (``preprocess`` is a list of steps, not a table).
_SECTIONS = tuple(f.name for f in dataclasses.fields(Config) if f.name != "preprocess")


def _cross_checks(cfg: Config) -> None:
    v = cfg.velocity
    if v.format == "bin" and v.shape is None:
        raise ConfigError("velocity.shape is required when velocity.format = 'bin' (e.g. shape = [nx, nz])")
    for key, arr in (
        ("velocity.shape", v.shape),
        ("velocity.spacing", v.spacing),
        ("velocity.origin", v.origin),
    ):
        if arr is not None and len(arr) not in (2, 3):
            raise fail(key, list(arr), "must have 2 (x, z) or 3 (x, y, z) elements")
    if v.crop is not None and (
        len(v.crop) not in (4, 6) or any(a >= b for a, b in zip(v.crop[::2], v.crop[1::2]))
    ):
        raise fail(
            "velocity.crop",
            list(v.crop),
            "must be [x_min, x_max, z_min, z_max] (or 6 values in 3D) with min < max",
        )
    wf = cfg.run.workflow
    if v.path is None:
        raise ConfigError(f"velocity.path is required for run.workflow = {wf!r}")
    if wf in ("rtm", "lsrtm") and cfg.survey.path is None:
        raise ConfigError(f"survey.path is required for run.workflow = {wf!r}")
    _check_source(cfg)
    if wf == "fwi" and cfg.survey.path is None and v.true_path is None:
        raise ConfigError(
            "run.workflow = 'fwi' needs survey.path (observed data) or velocity.true_path (to synthesise it)"
        )
    for key, p in (
        ("survey.path", cfg.survey.path),
        ("velocity.path", v.path),
        ("velocity.true_path", v.true_path),
    ):
        if p is not None and not Path(p).is_file():
            raise fail(key, p, "file not found")


def _check_source(cfg: Config) -> None:
    """The wavelet kind and the preprocessing need a recorded survey (and a file for kind 'file')."""
    w, wf, recorded = cfg.wavelet, cfg.run.workflow, cfg.survey.path is not None
    if w.kind == "file":
        if w.path is None:
            raise ConfigError(
                "wavelet.path is required for wavelet.kind = 'file' (time, amplitude text or SEG-Y)"
            )
        if not Path(w.path).is_file():
            raise fail("wavelet.path", w.path, "file not found")
    if w.kind == "estimate" and wf not in ("rtm", "lsrtm"):
        hint = "; FWI estimates per band with fwi.estimate_wavelet = true" if wf == "fwi" else ""
        raise fail("wavelet.kind", w.kind, f"applies to run.workflow 'rtm' and 'lsrtm'{hint}")
    if w.kind == "file" and not recorded:
        raise fail("wavelet.kind", w.kind, "applies to a recorded survey (survey.path)")
    if cfg.preprocess.steps and not recorded:
        raise ConfigError("[[preprocess]] steps apply to a recorded survey: give survey.path")


def _apply_overrides(raw: dict[str, Any], overrides: Mapping[str, Any]) -> None:
    for dotted, value in overrides.items():
        section, sep, key = dotted.partition(".")
        if not sep or not key or "." in key:
            raise ConfigError(f"override key {dotted!r} must look like 'section.key', e.g. 'fwi.iterations'")
        table = raw.setdefault(section, {})
        if not isinstance(table, dict):
            raise ConfigError(f"{section} must be a table ([{section}]), got {type(table).__name__}")
        table[key] = value


def read_toml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The raw tables of a TOML file (not validated).

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ConfigError
        ``path`` is not valid TOML.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"configuration file {path} not found")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None


def load_config(
    source: str | os.PathLike[str] | Mapping[str, Any],
    *,
    overrides: Mapping[str, Any] | None = None,
    base_dir: str | os.PathLike[str] | None = None,
) -> Config:
    """Read and validate a workflow configuration.

    Parameters
    ----------
    source : path or mapping
        A TOML file, or an already-parsed mapping of the same structure.
    overrides : mapping, optional
        Dotted keys replacing values of ``source``, e.g. ``{"fwi.iterations": 3}``
        (as from ``geolearn fwi CONFIG --set fwi.iterations=3``); validated the same way.
    base_dir : path, optional
        Directory against which relative paths are resolved. Default: the TOML file's
        directory, or the current directory for a mapping.

    Returns
    -------
    Config
        Frozen configuration; paths are absolute.

    Raises
    ------
    ConfigError
        On unreadable TOML, unknown sections or keys, wrong types, values outside their
        choices or range, missing required paths and files that do not exist. The message
        names the dotted key, the value and what would be valid.
    FileNotFoundError
        If ``source`` is a path that does not exist.
    """
    if isinstance(source, Mapping):
        raw = {k: dict(v) if isinstance(v, Mapping) else v for k, v in source.items()}
        base = Path(base_dir) if base_dir is not None else Path.cwd()
    else:
        path = Path(source)
        raw = read_toml(path)
        base = Path(base_dir) if base_dir is not None else path.resolve().parent
    _apply_overrides(raw, overrides or {})
    steps = raw.pop("preprocess", [])
    if not isinstance(steps, list):
        raise ConfigError(f"preprocess must be a list of step tables ([[preprocess]] step = 'bandpass' ...), "
                          f"got {type(steps).__name__}")  # fmt: skip
    hints = typing.get_type_hints(Config)
    for name in raw:
        if name not in _SECTIONS:
            raise unknown_key(name, [*_SECTIONS, "preprocess"], "")
    sections = {name: build_section(hints[name], raw.get(name, {}), name, base) for name in _SECTIONS}
    cfg = Config(**sections, preprocess=parse_steps(steps))
    _cross_checks(cfg)
    return cfg


def describe_keys() -> list[dict[str, Any]]:
    """Every configuration key with its type, default, constraints and documentation.

    Returns
    -------
    list of dict
        One dict per key: ``key`` (dotted), ``type``, ``default``, ``choices``, ``lo``/``hi``
        (range bounds or None; ``lo_open`` when ``lo`` is exclusive), ``doc``, in schema order. Used to write ``docs/workflows_config.md``.
    """
    out = []
    for section in _SECTIONS:
        cls = typing.get_type_hints(Config)[section]
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            hint = str(hints[f.name]).replace("typing.", "").replace("NoneType", "None")
            out.append(
                {
                    "key": f"{section}.{f.name}",
                    "type": hint.replace("<class '", "").replace("'>", ""),
                    "default": f.default,
                    "choices": f.metadata["choices"],
                    "lo": f.metadata["lo"],
                    "hi": f.metadata["hi"],
                    "lo_open": f.metadata["lo_open"],
                    "doc": f.metadata["doc"],
                }
            )
    return out
