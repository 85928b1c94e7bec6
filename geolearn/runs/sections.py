"""The sections of the workflow configuration: one frozen dataclass per TOML table.

Each field is made with :func:`~geolearn.runs.schema.key_field`: its documentation, default,
unit and constraints live beside it, and :func:`geolearn.runs.load_config` validates a TOML
table against it. ``docs/workflows_config.md`` lists every key (:func:`geolearn.runs.describe_keys`).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from geolearn.runs.schema import key_field

__all__ = [
    "WORKFLOWS",
    "AcquisitionConfig",
    "CheckpointConfig",
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
        'Run directory (config copy, checkpoints, outputs, figures); its config.toml stores it as ".".',
        "runs/geolearn",
        path=True,
    )
    seed: int = key_field("Seed of every random draw of the run.", 0, lo=0)
    dtype: str = key_field("Floating-point precision.", "float32", choices=("float32", "float64"))
    progress: bool = key_field("Show progress bars (geolearn -q turns them off).", True)


def _check_header(value: Mapping[str, Any]) -> str | None:
    from geolearn.io import HeaderMapping

    try:
        HeaderMapping(value)
    except ValueError as exc:  # ConfigError or SegyFormatError, both ValueErrors
        return str(exc)
    return None


@dataclass(frozen=True)
class SurveyConfig:
    """``[survey]``: the observed shot records, and overrides of how their headers are read.

    Absent overrides leave each reading to the evidence (see ``geolearn inspect``).
    """

    path: str | None = key_field("SEG-Y file of shot gathers (observed data).", path=True)
    shots: tuple[int, ...] | None = key_field(
        "Subset of shot indices (0-based) to use; all shots when absent.", lo=0
    )
    coordinate_units: str | None = key_field("Units of the x/y coordinates (absent: byte 89 unless the values "
                                             "say otherwise).", choices=("m", "ft", "deg", "arcsec", "dms"))  # fmt: skip
    header: Mapping[str, Any] | None = key_field(
        "Header values at other bytes, e.g. {source_x = 73, group_x = [75, 4]}.", check=_check_header
    )
    coordinate_scalar: int | None = key_field("Coordinate scalar for every trace instead of byte 71.")
    elevation_scalar: int | None = key_field("Elevation scalar for every trace instead of byte 69.")
    z_positive: str | None = key_field(
        "Elevation fields hold elevations ('up') or depths ('down'); absent: from the evidence.",
        choices=("up", "down"),
    )
    polarity: str = key_field(
        "'auto' flips traces found reversed against their neighbours.",
        "auto",
        choices=("auto", "as_recorded"),
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

    kind: str = key_field("Source wavelet: a Ricker; estimated from the data (rtm, lsrtm; the Ricker is the probe); "
                          "a measured file (its amplitude fitted to the data).", "ricker",
                          choices=("ricker", "estimate", "file"))  # fmt: skip
    peak_frequency: float = key_field("Peak frequency in Hz.", 10.0, lo=0.0, lo_open=True)
    delay: float | None = key_field("Time of the wavelet peak in s (absent: 1 / peak_frequency).", lo=0.0)
    path: str | None = key_field(
        "Wavelet file for kind 'file': time (s) and amplitude columns, or a one-trace SEG-Y.", path=True
    )
    window: float = key_field(
        "Seconds after the modelled first arrivals that an estimate or amplitude fit uses.",
        0.5,
        lo=0.0,
        lo_open=True,
    )


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
    water_mute: bool = key_field("Zero the image above the sea bed found in the velocity model.", True)
    display_gain: str = key_field(
        "Depth gain of image.png only (image.sgy is not gained).", "agc", choices=("agc", "depth", "none")
    )


@dataclass(frozen=True)
class LsrtmConfig:
    """``[lsrtm]``: least-squares migration."""

    method: str = key_field("Solver: conjugate gradients on the normal equations or sparsity-promoting FISTA.", "cg",
                       choices=("cg", "fista"))  # fmt: skip
    iterations: int = key_field("Iterations.", 10, lo=1)
    sparsity: float = key_field("Weight of the L1 penalty (FISTA only).", 0.0, lo=0.0)
    water_mute: bool = key_field("Zero the image above the sea bed found in the velocity model.", True)
    display_gain: str = key_field(
        "Depth gain of image.png only (image.sgy is not gained).", "none", choices=("agc", "depth", "none")
    )


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
    """``[parallel]``: shot-parallel execution (see :class:`geolearn.parallel.ShotExecutor`).

    ``n_workers = "auto"`` (TOML has no null; the default) is the Python API's ``n_workers=None``:
    one single-threaded worker per usable core, measured fastest (``docs/parallel.md``).
    """

    client: str = key_field(
        "'serial', 'local' (LocalCluster) or a Dask scheduler address.", "serial", check=_check_address
    )
    n_workers: int | None = key_field(
        "Worker processes of a 'local' cluster; \"auto\" (or absent): one single-threaded worker per usable core.",
        None, lo=1, auto=True,
    )  # fmt: skip
    retries: int = key_field("Retries of a shot whose computation raises.", 2, lo=0)
    ordered: bool = key_field("Reduce in shot order (bitwise reproducible, resumable).", True)


@dataclass(frozen=True)
class CheckpointConfig:
    """``[checkpoint]``: how often the state is saved."""

    every: int = key_field("Save the state every this many iterations.", 1, lo=1)
