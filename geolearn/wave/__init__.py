"""Devito acoustic wave-equation operators as verified PyTorch operators.

The only subpackage that imports Devito. SI units at every interface (m, s, m/s, Hz);
models are ``(nx, nz)`` / ``(nx, ny, nz)`` (depth last), records ``(n_shots, n_receivers, nt)``.

- :class:`Model`, :class:`Geometry`, :func:`ricker`, :class:`ShotRecords` — the problem.
- :class:`WaveModeling` (F) and :func:`fwi_objective` — nonlinear modelling and its gradient.
- :class:`BornOperator` (J, adjoint = RTM), :class:`SourceModeling`, :class:`PointInterpolation`
  — LinearOperators.
- :class:`ShotPropagator` — one shot at a fixed velocity, NumPy in/out (forward, Born, adjoint,
  illumination), for shot-parallel workflows.
- :func:`build_count` / :func:`clear_cache` — the generated-operator cache.
"""

from geolearn.wave.boundary import BOUNDARIES
from geolearn.wave.geometry import Geometry
from geolearn.wave.linear import BornOperator, PointInterpolation, SourceModeling
from geolearn.wave.model import PPW_THRESHOLD, Model
from geolearn.wave.modeling import WaveModeling, fwi_objective
from geolearn.wave.propagator import build_count, clear_cache
from geolearn.wave.records import ShotRecords
from geolearn.wave.shot import ShotPropagator
from geolearn.wave.solver import MEMORY_MODES
from geolearn.wave.wavelet import max_frequency, resample, ricker

__all__ = [
    "BOUNDARIES",
    "MEMORY_MODES",
    "PPW_THRESHOLD",
    "BornOperator",
    "Geometry",
    "Model",
    "PointInterpolation",
    "ShotPropagator",
    "ShotRecords",
    "SourceModeling",
    "WaveModeling",
    "build_count",
    "clear_cache",
    "fwi_objective",
    "max_frequency",
    "resample",
    "ricker",
]
