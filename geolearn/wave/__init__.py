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
- :class:`PerformanceLog` — time, threads and GPts/s of every propagation (each operator's
  ``.performance``).
- :func:`max_frequency`, :func:`nyquist_factor` — a wavelet's highest frequency and the snapshot
  subsampling it allows.

Cost: every propagation this package runs is recorded, where it runs, in the cost ledger
(:mod:`geolearn.ledger`, wave-equation solves: a forward or adjoint sweep 1, a Born sweep 2 with
its background propagated or 1 reading a kept one); read it with
:func:`geolearn.ledger.count_solves`. The linear operators also count their applications
(``J.applications``).

Threads of the generated kernels: :func:`geolearn.set_threads` (one knob for the process), with
the policy in :mod:`geolearn.threads` (``thread_budget``, ``set_thread_share`` for a Dask worker's
share of the cores, ``usable_cores``, ``THREADS_ENV``), shared with :mod:`geolearn.parallel`.

Also in submodules (their public home):

- :mod:`geolearn.wave.linear` — :func:`~geolearn.wave.linear.born_shot`,
  :func:`~geolearn.wave.linear.born_adjoint_shot` (one shot of :class:`BornOperator`);
- :mod:`geolearn.wave.execution` — :class:`~geolearn.wave.execution.PropagationStats` (one entry
  of a :class:`PerformanceLog`), :class:`~geolearn.wave.execution.KernelSummary`;
- :mod:`geolearn.wave.background` — :class:`~geolearn.wave.background.BackgroundCache` (the Born
  background wavefields kept in memory);
- :mod:`geolearn.wave.solver` — :class:`~geolearn.wave.solver.Snapshots`, ``MEMORY_MODES``;
- :mod:`geolearn.wave.config` — :func:`~geolearn.wave.config.wave_config` (the configuration in force);
- :mod:`geolearn.wave.wavelet` — :func:`~geolearn.wave.wavelet.resample`;
- constants: ``BOUNDARIES`` (:mod:`~geolearn.wave.boundary`), ``ENCODINGS``
  (:mod:`~geolearn.wave.encoding`), ``PPW_THRESHOLD`` (:mod:`~geolearn.wave.model`).
"""

from geolearn.wave.config import WaveConfig, configure
from geolearn.wave.encoding import SourceEncoding, common_receivers, encode, encode_records
from geolearn.wave.execution import PerformanceLog
from geolearn.wave.geometry import Geometry
from geolearn.wave.linear import BornOperator, PointInterpolation, SourceModeling
from geolearn.wave.model import Model
from geolearn.wave.modeling import WaveModeling, fwi_objective
from geolearn.wave.propagator import build_count, clear_cache
from geolearn.wave.records import ShotRecords
from geolearn.wave.shot import ShotGradient, ShotPropagator
from geolearn.wave.solver_inputs import nyquist_factor
from geolearn.wave.wavelet import max_frequency, ricker

__all__ = [
    "BornOperator",
    "Geometry",
    "Model",
    "PerformanceLog",
    "PointInterpolation",
    "ShotGradient",
    "ShotPropagator",
    "ShotRecords",
    "SourceEncoding",
    "SourceModeling",
    "WaveConfig",
    "WaveModeling",
    "build_count",
    "clear_cache",
    "common_receivers",
    "configure",
    "encode",
    "encode_records",
    "fwi_objective",
    "max_frequency",
    "nyquist_factor",
    "ricker",
]
