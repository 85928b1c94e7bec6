"""Learned iterative schemes on any :class:`~geolearn.operators.LinearOperator`.

Unrolled ISTA, learned FISTA with a Lyapunov guarantee, plug-and-play ISTA with a (firmly)
nonexpansive DnCNN denoiser, deep equilibrium layers with implicit gradients, and a trainer.
Imports ``operators`` and ``solvers`` only.

Every scheme takes its operator at call time, ``net(y, A)`` (like deepinv's ``model(y,
physics)``), and stores none: learned steps are fractions of a unit computed from the call's
operator (:class:`LipschitzEstimator`, :func:`cauchy_steps`, :class:`Physics`), so one trained
network runs on other operators, and ``net.to(device, dtype)`` moves all it owns.

- Schemes: :class:`UnrolledISTA`, :class:`LearnedFISTA`, :class:`PnPISTA`, :class:`DEQ` (any
  :class:`IterationMap` to its fixed point, by :func:`anderson` or :func:`fixed_point_iteration`).
- Networks: :class:`DnCNN` (:func:`train_denoiser`), :class:`SpectralConv2d`, :func:`zero_output_cnn`.
- Training: :class:`Trainer`, :class:`TrainingHistory`, :func:`nmse_db`.
- Guarantees checked: :func:`lyapunov_energy`, :func:`estimate_lipschitz`,
  :func:`check_firm_nonexpansive`.

:mod:`geolearn.learned.sparse` is the sparse-coding toolbox: the LISTA family (tied/untied,
LISTA-CP, support selection, ALISTA, identifiable unit rows), which learns explicit matrices, and
the seeded sparse-coding benchmark problem.

Also in submodules (their public home):

- :mod:`geolearn.learned.constraints` — constraint-by-parameterisation maps (``bounded``,
  ``positive``, ``decreasing`` and their inverses) for writing a scheme of your own;
- :mod:`geolearn.learned.deq` (:class:`~geolearn.learned.deq.DEQStats`),
  :mod:`geolearn.learned.fixed_point` (:class:`~geolearn.learned.fixed_point.FixedPointResult`),
  :mod:`geolearn.learned.fista` (:class:`~geolearn.learned.fista.LyapunovReport`),
  :mod:`geolearn.learned.lipschitz` (:class:`~geolearn.learned.lipschitz.FirmnessReport`) — reports;
- :mod:`geolearn.learned.spectral` — :func:`~geolearn.learned.spectral.conv_operator_norm`;
- :mod:`geolearn.learned.training` — the types a :class:`Trainer` takes: ``Batch`` (``(y, x*)``, or
  ``(y, x*, operator)`` with its own operator), ``Sampler`` and the losses ``Loss`` / ``ModelLoss``.
"""

from geolearn.learned.cnn import zero_output_cnn
from geolearn.learned.denoisers import DnCNN, train_denoiser
from geolearn.learned.deq import DEQ
from geolearn.learned.fista import LearnedFISTA, lyapunov_energy
from geolearn.learned.fixed_point import anderson, fixed_point_iteration
from geolearn.learned.lipschitz import check_firm_nonexpansive, estimate_lipschitz
from geolearn.learned.maps import IterationMap
from geolearn.learned.physics import LipschitzEstimator, Physics, cauchy_steps
from geolearn.learned.pnp import PnPISTA
from geolearn.learned.spectral import SpectralConv2d
from geolearn.learned.training import Trainer, TrainingHistory, nmse_db
from geolearn.learned.unrolled import UnrolledISTA

__all__ = [
    "DEQ",
    "DnCNN",
    "IterationMap",
    "LearnedFISTA",
    "LipschitzEstimator",
    "Physics",
    "PnPISTA",
    "SpectralConv2d",
    "Trainer",
    "TrainingHistory",
    "UnrolledISTA",
    "anderson",
    "cauchy_steps",
    "check_firm_nonexpansive",
    "estimate_lipschitz",
    "fixed_point_iteration",
    "lyapunov_energy",
    "nmse_db",
    "train_denoiser",
    "zero_output_cnn",
]
