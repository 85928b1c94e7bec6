"""Devito acoustic wave-equation operators as verified PyTorch operators.

The only subpackage that imports Devito. SI units at every interface (m, s, m/s, Hz);
models are ``(nx, nz)`` / ``(nx, ny, nz)`` (depth last), records ``(n_shots, n_receivers, nt)``.

- :class:`Model`, :class:`Geometry`, :func:`ricker`, :class:`ShotRecords` — the problem.
- :class:`WaveModeling` (F) and :func:`fwi_objective` — nonlinear modelling and its gradient.
- :class:`BornOperator` (J, adjoint = RTM), :class:`SourceModeling`, :class:`PointInterpolation`
  — LinearOperators.
- :func:`encode`, :class:`SourceEncoding`, :func:`encode_records`, :func:`common_receivers` —
  simultaneous-source supershots (random ±1 / Gaussian weights) and random shot subsets.
- :class:`ShotPropagator` — one shot at a fixed velocity, NumPy in/out (forward, Born, adjoint,
  misfit gradient as a :class:`ShotGradient`, illumination): the per-shot engine of
  :class:`WaveModeling`, :func:`fwi_objective` and the shot-parallel workflows.
- :func:`build_count` / :func:`clear_cache` — the generated-operator cache.
- :func:`configure` / :class:`WaveConfig` — Devito compile options and log level.
- :func:`set_threads` / :func:`thread_budget` — threads of the generated kernels
  (:func:`set_thread_share` for a Dask worker's share of the cores).
- :class:`PerformanceLog` / :class:`PropagationStats` — time, threads and GPts/s of every
  propagation (each operator's ``.performance``).
"""

from geolearn.threads import (
    THREADS_ENV,
    ThreadBudget,
    set_thread_share,
    set_threads,
    thread_budget,
    usable_cores,
)
from geolearn.wave.background import BackgroundCache
from geolearn.wave.boundary import BOUNDARIES
from geolearn.wave.config import WaveConfig, configure, wave_config
from geolearn.wave.encoding import ENCODINGS, SourceEncoding, common_receivers, encode, encode_records
from geolearn.wave.execution import KernelSummary, PerformanceLog, PropagationStats
from geolearn.wave.geometry import Geometry
from geolearn.wave.linear import (
    BornOperator,
    PointInterpolation,
    SourceModeling,
    born_adjoint_shot,
    born_shot,
)
from geolearn.wave.model import PPW_THRESHOLD, Model
from geolearn.wave.modeling import WaveModeling, fwi_objective
from geolearn.wave.propagator import build_count, clear_cache
from geolearn.wave.records import ShotRecords
from geolearn.wave.shot import ShotGradient, ShotPropagator
from geolearn.wave.solver import MEMORY_MODES, Snapshots
from geolearn.wave.solver_inputs import nyquist_factor
from geolearn.wave.wavelet import max_frequency, resample, ricker

__all__ = [
    "BOUNDARIES",
    "ENCODINGS",
    "MEMORY_MODES",
    "PPW_THRESHOLD",
    "THREADS_ENV",
    "BackgroundCache",
    "BornOperator",
    "Geometry",
    "KernelSummary",
    "Model",
    "PerformanceLog",
    "PointInterpolation",
    "PropagationStats",
    "ShotGradient",
    "ShotPropagator",
    "ShotRecords",
    "Snapshots",
    "SourceEncoding",
    "SourceModeling",
    "ThreadBudget",
    "WaveConfig",
    "WaveModeling",
    "born_adjoint_shot",
    "born_shot",
    "build_count",
    "clear_cache",
    "common_receivers",
    "configure",
    "encode",
    "encode_records",
    "fwi_objective",
    "max_frequency",
    "nyquist_factor",
    "resample",
    "ricker",
    "set_thread_share",
    "set_threads",
    "thread_budget",
    "usable_cores",
    "wave_config",
]
