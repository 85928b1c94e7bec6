"""Tikhonov regularisation ``min_x ½‖Ax − y‖² + (λ/2)‖Lx‖²``: conjugate gradients and the closed form.

The minimiser solves the normal equations ``(AᵀA + λ LᵀL) x = Aᵀy``; ``L`` defaults to the
identity (ridge) and may be any LinearOperator on the domain of ``A``, e.g.
:class:`~geolearn.operators.Gradient` for smoothness.
"""

from __future__ import annotations

import logging
import math
import time

import torch

from geolearn.errors import ConvergenceError, ShapeError
from geolearn.operators import LinearOperator
from geolearn.solvers.forward_backward import Callback
from geolearn.solvers.objective import Objective
from geolearn.solvers.result import History, SolverResult

__all__ = ["tikhonov_cg", "tikhonov_closed_form"]

logger = logging.getLogger("geolearn.solvers.tikhonov")

# Largest number of unknowns for which the closed form builds dense matrices.
_MAX_DENSE = 8192


def _sumsq(t: torch.Tensor, nd: int) -> torch.Tensor:
    """Squared norm over the last ``nd`` axes (one value per problem)."""
    return (t * t).flatten(t.ndim - nd).sum(-1)


def _bc(c: torch.Tensor, nd: int) -> torch.Tensor:
    """Per-problem coefficients shaped to broadcast against ``(*batch, <nd axes>)``."""
    return c.reshape(*c.shape, *([1] * nd))


def _setup(A: LinearOperator, y: torch.Tensor, lam: float, reg_operator: LinearOperator | None) -> Objective:
    obj = Objective(A, y, lam)
    if reg_operator is not None:
        if not isinstance(reg_operator, LinearOperator):
            raise TypeError(
                f"reg_operator must be a geolearn LinearOperator, got {type(reg_operator).__name__}"
            )
        if reg_operator.domain_shape != A.domain_shape:
            raise ShapeError(
                f"reg_operator's domain {reg_operator.domain_shape} differs from A's domain {A.domain_shape}"
            )
    return obj


def tikhonov_cg(
    A: LinearOperator,
    y: torch.Tensor,
    lam: float,
    *,
    reg_operator: LinearOperator | None = None,
    x0: torch.Tensor | None = None,
    max_iter: int | None = None,
    tol: float = 1e-10,
    callback: Callback | None = None,
) -> SolverResult:
    """Solve ``(AᵀA + λ LᵀL) x = Aᵀy`` by conjugate gradients (batched, any device).

    Parameters
    ----------
    A : LinearOperator
        Forward operator.
    y : torch.Tensor
        Data ``(*batch, *A.range_shape)``, finite, of ``A.dtype``.
    lam : float
        ``λ >= 0``; with ``λ = 0`` this is CG on the normal equations (CGNE).
    reg_operator : LinearOperator, optional
        ``L`` (domain = ``A.domain_shape``); default the identity.
    x0 : torch.Tensor, optional
        Warm start, ``(*batch, *A.domain_shape)`` or ``A.domain_shape``; default zeros.
    max_iter : int, optional
        Iteration cap; default twice the number of unknowns (n steps suffice in exact arithmetic;
        round-off on ill-conditioned systems needs more).
    tol : float, default 1e-10
        Stop when ``‖Aᵀy − (AᵀA + λLᵀL)x‖ <= tol ‖Aᵀy‖`` for every problem.
    callback : callable, optional
        ``callback(k, x, record)`` after each iteration (``record``: latest history entry), as
        :func:`~geolearn.solvers.fista` calls it; returning True stops the solver (``converged``
        is then False unless the tolerance also held).

    Returns
    -------
    SolverResult
        ``history.objective`` is ``½‖Ax − y‖² + (λ/2)‖Lx‖²`` (``data`` and ``regularisation``
        its parts) and ``history.residual`` the largest relative normal-equation residual.
    """
    obj = _setup(A, y, lam, reg_operator)
    n_unknowns = A.shape[1]
    max_iter = 2 * n_unknowns if max_iter is None else int(max_iter)
    if max_iter < 1 or not (tol >= 0 and math.isfinite(tol)):
        raise ValueError(f"need max_iter >= 1 and finite tol >= 0, got max_iter={max_iter}, tol={tol}")
    Lop = reg_operator
    lam = obj.lam
    tiny = torch.finfo(A.dtype).tiny
    nd, nd_a = obj.ndim, len(A.range_shape)
    nd_l = nd if Lop is None else len(Lop.range_shape)

    def L_fwd(v: torch.Tensor) -> torch.Tensor:
        return v if Lop is None else Lop(v)

    def L_adj(v: torch.Tensor) -> torch.Tensor:
        return v if Lop is None else Lop.adjoint(v)

    history, t0 = History(), time.perf_counter()
    converged, k = False, 0
    with torch.no_grad():
        x = obj.check_x(x0) if x0 is not None else y.new_zeros(obj.x_shape)
        Ax, Lx = A(x), L_fwd(x)
        b = A.adjoint(obj.y)
        b_norm = torch.clamp(obj.norm(b), min=tiny)
        r = b - A.adjoint(Ax) - lam * L_adj(Lx)
        p, rr = r, _sumsq(r, nd)
        for k in range(1, max_iter + 1):
            Ap, Lp = A(p), L_fwd(p)
            # pᵀ(AᵀA + λLᵀL)p = ‖Ap‖² + λ‖Lp‖²; a converged problem has p = 0 and gets alpha = 0.
            alpha = rr / torch.clamp(_sumsq(Ap, nd_a) + lam * _sumsq(Lp, nd_l), min=tiny)
            x = x + _bc(alpha, nd) * p
            # Ax and Lx are updated by linearity, so the history costs no extra application.
            Ax, Lx = Ax + _bc(alpha, nd_a) * Ap, Lx + _bc(alpha, nd_l) * Lp
            r = r - _bc(alpha, nd) * (A.adjoint(Ap) + lam * L_adj(Lp))
            rr_new = _sumsq(r, nd)
            rel = torch.sqrt(rr_new) / b_norm
            data, reg = obj.data(x, Ax).sum(), 0.5 * lam * _sumsq(Lx, nd_l).sum()
            step_norm = alpha.abs() * torch.sqrt(_sumsq(p, nd))
            history.append(
                objective=data + reg,
                data=data,
                regularisation=reg,
                residual=rel.max(),
                relative_change=(step_norm / torch.clamp(obj.norm(x), min=tiny)).max(),
                time=time.perf_counter() - t0,
            )
            if not bool(torch.isfinite(x).all()):
                raise ConvergenceError(f"tikhonov_cg produced non-finite values at iteration {k}")
            converged = bool((rel <= tol).all())
            if callback is not None and callback(k, x, history.last()):
                logger.info("tikhonov_cg: stopped by the callback at iteration %d", k)
                break
            if converged:
                break
            p = r + _bc(rr_new / torch.clamp(rr, min=tiny), nd) * p
            rr = rr_new
    logger.info("tikhonov_cg: %s after %d iterations", "converged" if converged else "not converged", k)
    return SolverResult(x.detach(), k, converged, history)


def tikhonov_closed_form(
    A: LinearOperator, y: torch.Tensor, lam: float, *, reg_operator: LinearOperator | None = None
) -> torch.Tensor:
    """Solve ``(AᵀA + λ LᵀL) x = Aᵀy`` directly with dense matrices (small problems only).

    Parameters are as in :func:`tikhonov_cg`. Builds ``A.dense()`` and ``L.dense()``, so the
    number of unknowns must not exceed 8192. The system matrix must be non-singular
    (``λ > 0`` with a full-rank ``L``, or ``A`` of full column rank).

    Returns
    -------
    torch.Tensor
        ``x`` of shape ``(*batch, *A.domain_shape)``.
    """
    obj = _setup(A, y, lam, reg_operator)
    n = A.shape[1]
    if n > _MAX_DENSE:
        raise ShapeError(
            f"tikhonov_closed_form builds dense {n}x{n} matrices; use tikhonov_cg above {_MAX_DENSE} unknowns"
        )
    with torch.no_grad():
        M = A.dense()
        R = torch.eye(n, dtype=A.dtype, device=A.device) if reg_operator is None else reg_operator.dense()
        N = M.T @ M + obj.lam * (R.T @ R)
        rhs = obj.y.reshape(-1, A.shape[0]) @ M
        x = torch.linalg.solve(N, rhs.T).T
    return x.reshape(obj.x_shape)
