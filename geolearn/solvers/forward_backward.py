"""Forward-backward splitting for ``min_x ½‖Ax − y‖² + λ R(x)``: ISTA (with relaxation) and FISTA.

Both apply ``A`` and ``Aᵀ`` once per iteration (``A`` of the extrapolated FISTA point is
obtained by linearity from the two latest ``A x``), record the objective and its parts per
iteration, work on batches of problems (leading axes of ``y``) and on any device.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

import torch
from tqdm.auto import tqdm

from geolearn.errors import ConvergenceError, StabilityError
from geolearn.operators import LinearOperator, operator_norm
from geolearn.solvers.objective import Objective
from geolearn.solvers.regularisers import Regulariser
from geolearn.solvers.result import History, SolverResult

__all__ = ["fista", "ista"]

logger = logging.getLogger("geolearn.solvers.forward_backward")

Callback = Callable[[int, torch.Tensor, dict[str, float]], bool | None]
_STOPS = ("relative_change", "residual")
# Relative slack on FISTA's bound γ ≤ 1/L: L is a power-iteration estimate (from below).
_FISTA_SLACK = 1e-4


def _lipschitz(A: LinearOperator, lipschitz: float | None, seed: int) -> float:
    if lipschitz is None:
        return operator_norm(A, tol=1e-8, max_iter=1000, seed=seed) ** 2
    lipschitz = float(lipschitz)
    if not (lipschitz > 0 and math.isfinite(lipschitz)):
        raise ValueError(f"lipschitz must be a positive finite number (‖A‖₂²), got {lipschitz}")
    return lipschitz


def _check_common(max_iter: int, tol: float, stop: str) -> None:
    if int(max_iter) < 1:
        raise ValueError(f"max_iter must be a positive integer, got {max_iter}")
    if not (tol >= 0 and math.isfinite(tol)):
        raise ValueError(f"tol must be finite and >= 0, got {tol}")
    if stop not in _STOPS:
        raise ValueError(f"stop must be one of {_STOPS}, got {stop!r}")


def _step(step: float | None, L: float, bound: float, allow: bool, name: str) -> float:
    """Default ``1/L``; otherwise check ``0 < step`` and ``step < bound/L`` unless allowed."""
    if step is None:
        return 1.0 / L
    step = float(step)
    if not (step > 0 and math.isfinite(step)):
        raise StabilityError(f"step must be a positive finite number, got {step}")
    if step * L >= bound and not allow:
        raise StabilityError(
            f"{name} step {step:.6g} gives step·L = {step * L:.6g} with L = ‖A‖₂² = {L:.6g}; "
            f"{name} converges only for step·L < {bound:g} (pass allow_large_step=True to override)"
        )
    return step


class _Loop:
    """Shared bookkeeping: history, timing, stopping tests, callback, progress, logging."""

    def __init__(
        self,
        obj: Objective,
        name: str,
        max_iter: int,
        tol: float,
        stop: str,
        callback: Callback | None,
        progress: bool,
    ) -> None:
        self.obj, self.name, self.tol, self.stop, self.callback = obj, name, tol, stop, callback
        self.history = History()
        self.converged = False
        self.t0 = time.perf_counter()
        self.bar = tqdm(total=int(max_iter), desc=name, disable=not progress, leave=False)

    def record(
        self,
        k: int,
        x: torch.Tensor,
        x_old: torch.Tensor,
        Ax: torch.Tensor,
        z: torch.Tensor,
        z_next: torch.Tensor,
    ) -> bool:
        """Record iteration ``k`` (new iterate ``x``); return True when the solver should stop.

        ``z`` is the point whose forward-backward image is ``z_next`` (fixed-point residual).
        """
        if not bool(torch.isfinite(x).all()):
            raise ConvergenceError(
                f"{self.name} produced non-finite values at iteration {k}; check the step size and data scaling"
            )
        obj = self.obj
        tiny = torch.finfo(x.dtype).tiny
        with torch.no_grad():
            data, reg = obj.data(x, Ax).sum(), obj.regularisation(x).sum()
            residual = obj.norm(z - z_next)
            change = obj.norm(x - x_old) / torch.clamp(obj.norm(x), min=tiny)
            rel_residual = residual / torch.clamp(torch.maximum(obj.norm(z), obj.norm(z_next)), min=tiny)
        self.history.append(
            objective=data + reg,
            data=data,
            regularisation=reg,
            residual=residual.max(),
            relative_change=change.max(),
            time=time.perf_counter() - self.t0,
        )
        self.bar.update()
        test = change if self.stop == "relative_change" else rel_residual
        self.converged = bool((test <= self.tol).all())
        if self.callback is not None and self.callback(k, x, self.history.last()):
            logger.info("%s: stopped by the callback at iteration %d", self.name, k)
            return True
        return self.converged

    def finish(self, x: torch.Tensor, n_iter: int, step: float, L: float) -> SolverResult:
        self.bar.close()
        converged = self.converged
        last = self.history.last()
        logger.info(
            "%s: %s after %d iterations (objective %.6g, residual %.3g)",
            self.name,
            "converged" if converged else "not converged",
            n_iter,
            last.get("objective", math.nan),
            last.get("residual", math.nan),
        )
        return SolverResult(x.detach(), n_iter, converged, self.history, step, L)


def _relaxation_at(
    relaxation: float | Callable[[int], float], k: int, step: float, L: float, allow: bool
) -> float:
    theta = float(relaxation(k) if callable(relaxation) else relaxation)
    if not 0 < theta < 2:
        raise StabilityError(f"relaxation θ_{k} = {theta} must lie in (0, 2)")
    # Combettes (2004): with step γ < 2/L, relaxed forward-backward converges for θ < 2 − γL/2.
    limit = 2.0 - step * L / 2.0
    if theta >= limit and not allow:
        raise StabilityError(
            f"relaxation θ_{k} = {theta} must be below 2 − step·L/2 = {limit:.6g} for convergence "
            "(pass allow_large_step=True to override)"
        )
    return theta


def ista(
    A: LinearOperator,
    y: torch.Tensor,
    lam: float = 0.0,
    *,
    regulariser: Regulariser | None = None,
    step: float | None = None,
    relaxation: float | Callable[[int], float] = 1.0,
    x0: torch.Tensor | None = None,
    max_iter: int = 1000,
    tol: float = 1e-8,
    stop: str = "relative_change",
    callback: Callback | None = None,
    allow_large_step: bool = False,
    lipschitz: float | None = None,
    seed: int = 0,
    progress: bool = False,
) -> SolverResult:
    """ISTA / relaxed forward-backward splitting for ``min_x ½‖Ax − y‖² + λ R(x)``.

    ``z_k = prox_{γλR}(x_k − γ Aᵀ(A x_k − y))``, ``x_{k+1} = x_k + θ_k (z_k − x_k)``.

    Parameters
    ----------
    A : LinearOperator
        Forward operator.
    y : torch.Tensor
        Data ``(*batch, *A.range_shape)`` in ``A.dtype``, finite; leading axes are independent problems.
    lam : float, default 0.0
        ``λ >= 0``.
    regulariser : Regulariser, optional
        ``R``; default :class:`~geolearn.solvers.L1` (LASSO).
    step : float, optional
        ``γ``; default ``1/L`` with ``L = ‖A‖₂²``. ``γ L >= 2`` raises :class:`StabilityError`.
    relaxation : float or callable, default 1.0
        ``θ_k`` (a constant or a function of ``k``), in ``(0, 2 − γL/2)``; otherwise StabilityError.
    x0 : torch.Tensor, optional
        Warm start, ``(*batch, *A.domain_shape)`` or ``A.domain_shape``; default zeros.
    max_iter : int, default 1000
        Iteration cap.
    tol : float, default 1e-8
        Stopping tolerance for ``stop``.
    stop : {"relative_change", "residual"}
        Stop when ``‖x_{k+1} − x_k‖/‖x_{k+1}‖ <= tol`` or when the relative fixed-point residual
        ``‖x_k − z_k‖ / max(‖x_k‖, ‖z_k‖) <= tol``, for every problem.
    callback : callable, optional
        ``callback(k, x, record)`` after each iteration (``record``: latest history entry);
        returning True stops the solver (``converged`` is then False unless the test also held).
    allow_large_step : bool, default False
        Skip the step and relaxation stability checks (not the ``(0, 2)`` range of θ).
    lipschitz : float, optional
        ``L`` if known; otherwise estimated by :func:`~geolearn.operators.operator_norm` (with ``seed``).
    seed : int, default 0
        Seed of the power iteration.
    progress : bool, default False
        Show a tqdm progress bar.

    Returns
    -------
    SolverResult
        ``x``, ``n_iter``, ``converged``, ``history`` (see :class:`History`), ``step``, ``lipschitz``.
    """
    obj = Objective(A, y, lam, regulariser)
    _check_common(max_iter, tol, stop)
    L = _lipschitz(A, lipschitz, seed)
    step = _step(step, L, 2.0, allow_large_step, "ISTA")
    x = obj.check_x(x0) if x0 is not None else y.new_zeros(obj.x_shape)
    loop = _Loop(obj, "ista", max_iter, tol, stop, callback, progress)
    k = 0
    with torch.no_grad():
        Ax = A(x)
        for k in range(1, int(max_iter) + 1):
            theta = _relaxation_at(relaxation, k, step, L, allow_large_step)
            z = obj.prox(x - step * A.adjoint(Ax - obj.y), step)
            x_new = z if theta == 1.0 else x + theta * (z - x)
            Ax_new = A(x_new)
            stop_now = loop.record(k, x_new, x, Ax_new, x, z)
            x, Ax = x_new, Ax_new
            if stop_now:
                break
    return loop.finish(x, k, step, L)


def fista(
    A: LinearOperator,
    y: torch.Tensor,
    lam: float = 0.0,
    *,
    regulariser: Regulariser | None = None,
    step: float | None = None,
    x0: torch.Tensor | None = None,
    max_iter: int = 1000,
    tol: float = 1e-8,
    stop: str = "relative_change",
    callback: Callback | None = None,
    allow_large_step: bool = False,
    lipschitz: float | None = None,
    seed: int = 0,
    progress: bool = False,
) -> SolverResult:
    """FISTA (Beck & Teboulle 2009) for ``min_x ½‖Ax − y‖² + λ R(x)``.

    ``x_{k+1} = prox_{γλR}(z_k − γ Aᵀ(A z_k − y))``, ``t_{k+1} = (1 + sqrt(1 + 4 t_k²))/2``,
    ``z_{k+1} = x_{k+1} + ((t_k − 1)/t_{k+1}) (x_{k+1} − x_k)``.

    Parameters are those of :func:`ista` without ``relaxation``. The step must satisfy
    ``γ L <= 1`` (``O(1/k²)`` convergence needs it; a relative slack of 1e-4 allows for the
    power-iteration estimate of ``L``); larger steps raise :class:`StabilityError` unless
    ``allow_large_step``. The residual recorded and tested is the fixed-point residual at the
    extrapolated point ``z_k``, which costs no extra operator application.
    """
    obj = Objective(A, y, lam, regulariser)
    _check_common(max_iter, tol, stop)
    L = _lipschitz(A, lipschitz, seed)
    step = _step(step, L, 1.0 + _FISTA_SLACK, allow_large_step, "FISTA")
    x = obj.check_x(x0) if x0 is not None else y.new_zeros(obj.x_shape)
    loop = _Loop(obj, "fista", max_iter, tol, stop, callback, progress)
    k, t = 0, 1.0
    with torch.no_grad():
        Ax = A(x)
        z, Az = x, Ax
        for k in range(1, int(max_iter) + 1):
            x_new = obj.prox(z - step * A.adjoint(Az - obj.y), step)
            Ax_new = A(x_new)
            stop_now = loop.record(k, x_new, x, Ax_new, z, x_new)
            t_new = (1.0 + math.sqrt(1.0 + 4.0 * t * t)) / 2.0
            beta = (t - 1.0) / t_new
            z, Az = x_new + beta * (x_new - x), Ax_new + beta * (Ax_new - Ax)
            x, Ax, t = x_new, Ax_new, t_new
            if stop_now:
                break
    return loop.finish(x, k, step, L)
