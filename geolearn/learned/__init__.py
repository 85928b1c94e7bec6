"""Learned iterative schemes on any :class:`~geolearn.operators.LinearOperator`.

Unrolled ISTA, the LISTA family (tied/untied, LISTA-CP, support selection, ALISTA,
identifiable unit-row form), learned FISTA with a Lyapunov guarantee, plug-and-play ISTA with
a (firmly) nonexpansive DnCNN denoiser, deep equilibrium layers with implicit gradients, a
trainer, and seeded synthetic sparse-coding data. Imports ``operators`` and ``solvers`` only.

Every scheme takes its operator at call time, ``net(y, A)`` (like deepinv's ``model(y,
physics)``), and stores none: learned steps are fractions of a unit computed from the call's
operator (:class:`LipschitzEstimator`, :func:`cauchy_steps`, :class:`Physics`), so one trained
network runs on other operators, and ``net.to(device, dtype)`` moves all it owns.
"""

from geolearn.learned.cnn import zero_output_cnn
from geolearn.learned.constraints import (
    bounded,
    bounded_inverse,
    decreasing,
    decreasing_inverse,
    positive,
    positive_inverse,
)
from geolearn.learned.data import SparseCodingProblem, make_sparse_coding, oracle_least_squares
from geolearn.learned.denoisers import DnCNN, train_denoiser
from geolearn.learned.deq import DEQ, DEQStats
from geolearn.learned.fista import LearnedFISTA, LyapunovReport, lyapunov_energy
from geolearn.learned.fixed_point import FixedPointResult, anderson, fixed_point_iteration
from geolearn.learned.lipschitz import FirmnessReport, check_firm_nonexpansive, estimate_lipschitz
from geolearn.learned.lista import ALISTA, LISTA, alista_weight, canonicalize, dense_matrix, support_shrink
from geolearn.learned.lista_backprop import lista_backprop
from geolearn.learned.maps import IterationMap
from geolearn.learned.physics import LipschitzEstimator, Physics, cauchy_steps
from geolearn.learned.pnp import PnPISTA
from geolearn.learned.spectral import SpectralConv2d, conv_operator_norm
from geolearn.learned.training import Trainer, TrainingHistory, nmse_db
from geolearn.learned.unrolled import UnrolledISTA

__all__ = [
    "ALISTA",
    "DEQ",
    "LISTA",
    "DEQStats",
    "DnCNN",
    "FirmnessReport",
    "FixedPointResult",
    "IterationMap",
    "LearnedFISTA",
    "LipschitzEstimator",
    "LyapunovReport",
    "Physics",
    "PnPISTA",
    "SparseCodingProblem",
    "SpectralConv2d",
    "Trainer",
    "TrainingHistory",
    "UnrolledISTA",
    "alista_weight",
    "anderson",
    "bounded",
    "bounded_inverse",
    "canonicalize",
    "cauchy_steps",
    "check_firm_nonexpansive",
    "conv_operator_norm",
    "decreasing",
    "decreasing_inverse",
    "dense_matrix",
    "estimate_lipschitz",
    "fixed_point_iteration",
    "lista_backprop",
    "lyapunov_energy",
    "make_sparse_coding",
    "nmse_db",
    "oracle_least_squares",
    "positive",
    "positive_inverse",
    "support_shrink",
    "train_denoiser",
    "zero_output_cnn",
]
