"""TOML configuration for the workflows: a dataclass schema with defaults and strict validation.

:func:`load_config` reads a TOML file (or a mapping), rejects unknown keys with a "did you
mean" suggestion, checks every value's type, choices and range, resolves relative paths
against the TOML file's directory and returns a frozen :class:`Config`. Every error is a
:class:`~geolearn.errors.ConfigError` naming the dotted key, the bad value and what is valid::

    fwi.misfit = 'l3' is invalid: must be one of 'l2', 'ncc', 'envelope'
    unknown key 'fwi.iteratons' (did you mean 'fwi.iterations'?)

All keys, their units and defaults are listed by :func:`describe_keys` and documented in
``docs/workflows_config.md``; ``examples/fwi_marmousi.toml`` is a complete example.
Path values may use environment variables (``${GEOLEARN_DATA_DIR}/marmousi/vp_marmousi_bi``)
and ``~``; relative paths are relative to the TOML file.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import sys
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from geolearn.errors import ConfigError
from geolearn.runs.schema import build_section, fail, key_field, unknown_key

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, packaged separately
    import tomli as tomllib

__all__ = [
    "AcquisitionConfig",
    "CheckpointConfig",
    "Config",
    "FwiConfig",
    "GeometryConfig",
    "LsrtmConfig",
    "ModellingConfig",
    "ParallelConfig",
    "RtmConfig",
    "RunConfig",
    "SurveyConfig",
    "VelocityConfig",
    "WaveletConfig",
    "describe_keys",
    "load_config",
]

WORKFLOWS = ("model", "rtm", "lsrtm", "fwi")
_ADDRESS_SCHEMES = ("tcp://", "tls://", "ucx://", "inproc://", "ws://", "wss://")


def _check_address(value: str) -> str | None:
    if value in ("serial", "local") or value.startswith(_ADDRESS_SCHEMES):
        return None
    host, sep, port = value.rpartition(":")
    if sep and host and port.isdigit():
        return None
    return "must be 'serial', 'local' or a scheduler address such as 'tcp://10.0.0.5:8786'"


def _check_even(value: int) -> str | None:
    return None if value % 2 == 0 else "must be even"


def _check_increasing(values: tuple[float, ...]) -> str | None:
    if any(b <= a for a, b in itertools.pairwise(values)):
        return "must be strictly increasing (one low-pass corner per band, lowest first)"
    return None


def _check_bounds(values: tuple[float, float]) -> str | None:
    return None if values[0] < values[1] else "must be [v_min, v_max] with v_min < v_max"


@dataclass(frozen=True)
class RunConfig:
    """``[run]``: what to run and where to write it."""

    workflow: str = key_field("Workflow to run.", "fwi", choices=WORKFLOWS)
    output_dir: str = key_field(
        "Run directory (config copy, checkpoints, outputs, figures).", "runs/geolearn", path=True
    )
    seed: int = key_field("Seed of every random draw of the run.", 0, lo=0)
    dtype: str = key_field("Floating-point precision.", "float32", choices=("float32", "float64"))
    progress: bool = key_field("Show progress bars.", True)


@dataclass(frozen=True)
class SurveyConfig:
    """``[survey]``: the observed shot records."""

    path: str | None = key_field("SEG-Y file of shot gathers (observed data).", path=True)
    shots: tuple[int, ...] | None = key_field(
        "Subset of shot indices (0-based) to use; all shots when absent.", lo=0
    )


@dataclass(frozen=True)
class VelocityConfig:
    """``[velocity]``: the starting/migration velocity model, ``(nx, nz)`` in m/s."""

    path: str | None = key_field(
        "Velocity model file (starting model for FWI, migration velocity for RTM/LSRTM).", path=True
    )
    format: str = key_field("File format of the velocity files.", "segy", choices=("segy", "npy", "bin"))
    units: str = key_field("Units of the values in the files.", "m/s", choices=("m/s", "km/s"))
    shape: tuple[int, ...] | None = key_field(
        "Grid shape (nx, nz) in samples; required for format 'bin'.", lo=1
    )
    spacing: tuple[float, ...] | None = key_field(
        "Grid spacing (dx, dz) in m; overrides the file's.", lo=0.0, lo_open=True
    )
    origin: tuple[float, ...] = key_field("Coordinates of the first grid point (x0, z0) in m.", (0.0, 0.0))
    crop: tuple[float, ...] | None = key_field(
        "Region kept, [x_min, x_max, z_min, z_max] in m (absent: whole model)."
    )
    resample: float | None = key_field("Grid spacing in m to resample the (cropped) model to (absent: keep).", lo=0.0,
                                  lo_open=True)  # fmt: skip
    smoothing: float = key_field(
        "Gaussian smoothing length in m applied after loading (0: none).", 0.0, lo=0.0
    )
    true_path: str | None = key_field(
        "True model, same format: model error in the history, synthetic data.", path=True
    )


@dataclass(frozen=True)
class GeometryConfig:
    """``[geometry]``: overrides of what the SEG-Y headers say (absent: trust the headers)."""

    dt: float | None = key_field("Sample interval in s.", lo=0.0, lo_open=True)
    nt: int | None = key_field("Samples per trace.", lo=1)
    coordinate_scale: float | None = key_field(
        "Multiplier applied to header coordinates to get m.", lo=0.0, lo_open=True
    )
    source_depth: float | None = key_field("Source depth in m.", lo=0.0)
    receiver_depth: float | None = key_field("Receiver depth in m.", lo=0.0)


@dataclass(frozen=True)
class AcquisitionConfig:
    """``[acquisition]``: the synthetic survey of workflow ``model`` (and FWI from a true model)."""

    source_spacing: float = key_field("Distance between sources in m.", 100.0, lo=0.0, lo_open=True)
    source_depth: float = key_field("Source depth in m.", 10.0, lo=0.0)
    receiver_spacing: float = key_field("Distance between receivers in m.", 10.0, lo=0.0, lo_open=True)
    receiver_depth: float = key_field("Receiver depth in m.", 10.0, lo=0.0)
    record_length: float = key_field("Record length in s.", 2.0, lo=0.0, lo_open=True)
    dt: float | None = key_field(
        "Output sample interval in s (absent: chosen from the CFL condition).", lo=0.0, lo_open=True
    )


@dataclass(frozen=True)
class WaveletConfig:
    """``[wavelet]``: the source signature."""

    kind: str = key_field("Source wavelet.", "ricker", choices=("ricker",))
    peak_frequency: float = key_field("Peak frequency in Hz.", 10.0, lo=0.0, lo_open=True)
    delay: float | None = key_field("Time of the wavelet peak in s (absent: 1 / peak_frequency).", lo=0.0)


@dataclass(frozen=True)
class ModellingConfig:
    """``[modelling]``: wave-equation discretisation."""

    space_order: int = key_field("Spatial finite-difference order.", 8, lo=2, hi=16, check=_check_even)
    nbl: int = key_field("Absorbing boundary width in grid cells.", 40, lo=0)


@dataclass(frozen=True)
class RtmConfig:
    """``[rtm]``: reverse-time migration."""

    illumination: bool = key_field("Divide the image by the source illumination.", True)
    laplacian: bool = key_field("Apply a Laplacian filter to remove backscattering artefacts.", True)


@dataclass(frozen=True)
class LsrtmConfig:
    """``[lsrtm]``: least-squares migration."""

    method: str = key_field("Solver: conjugate gradients on the normal equations or sparsity-promoting FISTA.", "cg",
                       choices=("cg", "fista"))  # fmt: skip
    iterations: int = key_field("Iterations.", 10, lo=1)
    sparsity: float = key_field("Weight of the L1 penalty (FISTA only).", 0.0, lo=0.0)


@dataclass(frozen=True)
class FwiConfig:
    """``[fwi]``: full-waveform inversion."""

    misfit: str = key_field("Data misfit.", "l2", choices=("l2", "ncc", "envelope"))
    optimizer: str = key_field("Optimiser.", "lbfgs", choices=("lbfgs", "adam"))
    iterations: int = key_field("Iterations per frequency band.", 10, lo=1)
    bands: tuple[float, ...] = key_field("Low-pass corner frequency in Hz of each band, lowest first (empty: one unfiltered band).",
                                    (), lo=0.0, lo_open=True, check=_check_increasing)  # fmt: skip
    bounds: tuple[float, float] = key_field("Velocity bounds [v_min, v_max] in m/s.", (1400.0, 5000.0), lo=0.0,
                                       lo_open=True, check=_check_bounds)  # fmt: skip
    learning_rate: float = key_field("Adam step size in m/s.", 10.0, lo=0.0, lo_open=True)
    lbfgs_memory: int = key_field("Number of L-BFGS correction pairs.", 10, lo=1)
    water_depth: float = key_field(
        "Depth in m above which the gradient is zeroed (water layer).", 0.0, lo=0.0
    )
    precondition: str = key_field(
        "Gradient preconditioning.", "illumination", choices=("none", "illumination")
    )
    estimate_wavelet: bool = key_field("Estimate the source wavelet per band.", False)


@dataclass(frozen=True)
class ParallelConfig:
    """``[parallel]``: shot-parallel execution (see :class:`geolearn.parallel.ShotExecutor`)."""

    client: str = key_field(
        "'serial', 'local' (LocalCluster) or a Dask scheduler address.", "serial", check=_check_address
    )
    n_workers: int = key_field("Worker processes of a 'local' cluster.", 2, lo=1)
    retries: int = key_field("Retries of a shot whose computation raises.", 2, lo=0)
    ordered: bool = key_field("Reduce in shot order (bitwise reproducible, resumable).", True)


@dataclass(frozen=True)
class CheckpointConfig:
    """``[checkpoint]``: how often the state is saved."""

    every: int = key_field("Save the state every this many iterations.", 1, lo=1)


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

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """Nested plain dict (tuples as lists, absent values omitted), writable with ``tomli_w``."""

        def plain(v: Any) -> Any:
            return list(v) if isinstance(v, tuple) else v

        return {
            section.name: {
                f.name: plain(getattr(getattr(self, section.name), f.name))
                for f in dataclasses.fields(getattr(self, section.name))
                if getattr(getattr(self, section.name), f.name) is not None
            }
            for section in dataclasses.fields(self)
        }


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


def _apply_overrides(raw: dict[str, Any], overrides: Mapping[str, Any]) -> None:
    for dotted, value in overrides.items():
        section, sep, key = dotted.partition(".")
        if not sep or not key or "." in key:
            raise ConfigError(f"override key {dotted!r} must look like 'section.key', e.g. 'fwi.iterations'")
        table = raw.setdefault(section, {})
        if not isinstance(table, dict):
            raise ConfigError(f"{section} must be a table ([{section}]), got {type(table).__name__}")
        table[key] = value


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
        if not path.is_file():
            raise FileNotFoundError(f"configuration file {path} not found")
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path} is not valid TOML: {exc}") from None
        base = Path(base_dir) if base_dir is not None else path.resolve().parent
    _apply_overrides(raw, overrides or {})
    sections = {f.name: f for f in dataclasses.fields(Config)}
    hints = typing.get_type_hints(Config)
    for name in raw:
        if name not in sections:
            raise unknown_key(name, list(sections), "")
    cfg = Config(**{name: build_section(hints[name], raw.get(name, {}), name, base) for name in sections})
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
    for section in dataclasses.fields(Config):
        cls = typing.get_type_hints(Config)[section.name]
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            hint = str(hints[f.name]).replace("typing.", "").replace("NoneType", "None")
            out.append(
                {
                    "key": f"{section.name}.{f.name}",
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
