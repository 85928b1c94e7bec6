"""Classical variational solvers: proximal operators, ISTA/FISTA, Tikhonov (CG and closed form)."""

from geolearn.solvers.forward_backward import fista, ista
from geolearn.solvers.lbfgs import ProjectedLBFGS
from geolearn.solvers.objective import Objective
from geolearn.solvers.prox import (
    project_box,
    project_nonnegative,
    prox_elastic_net,
    prox_squared_l2,
    soft_threshold,
)
from geolearn.solvers.regularisers import (
    L1,
    Box,
    ElasticNet,
    NonNegative,
    Regulariser,
    SquaredL2,
    TotalVariation,
)
from geolearn.solvers.result import History, SolverResult
from geolearn.solvers.tikhonov import tikhonov_cg, tikhonov_closed_form
from geolearn.solvers.tv import prox_tv, tv_norm

__all__ = [
    "L1",
    "Box",
    "ElasticNet",
    "History",
    "NonNegative",
    "Objective",
    "ProjectedLBFGS",
    "Regulariser",
    "SolverResult",
    "SquaredL2",
    "TotalVariation",
    "fista",
    "ista",
    "project_box",
    "project_nonnegative",
    "prox_elastic_net",
    "prox_squared_l2",
    "prox_tv",
    "soft_threshold",
    "tikhonov_cg",
    "tikhonov_closed_form",
    "tv_norm",
]
