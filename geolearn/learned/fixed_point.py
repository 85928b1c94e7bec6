"""Fixed-point solvers on batched tensors: plain iteration and safeguarded Anderson acceleration.

Both solve ``z = f(z)`` for ``z`` of shape ``(B, ...)`` and return a :class:`FixedPointResult`.
The residual is ``‖f(z) − z‖ / max(‖f(z)‖, tiny)`` over the whole batch; the iteration count
is the number of evaluations of ``f``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from geolearn.errors import ConfigError, ConvergenceError

__all__ = ["FixedPointResult", "anderson", "fixed_point_iteration"]

log = logging.getLogger("geolearn.learned.fixed_point")

Map = Callable[[torch.Tensor], torch.Tensor]


@dataclass
class FixedPointResult:
    """Solution ``z`` ``(B, ...)``, evaluations of ``f``, final relative residual, whether it met
    ``tol``, and how many Anderson steps fell back to a plain step (ill-conditioned system)."""

    z: torch.Tensor
    iterations: int
    residual: float
    converged: bool
    fallbacks: int = 0


def _residual(fz: torch.Tensor, z: torch.Tensor) -> float:
    num = float((fz - z).norm())
    if not math.isfinite(num):
        raise ConvergenceError("fixed-point iteration produced non-finite values (NaN or Inf)")
    return num / max(float(fz.norm()), torch.finfo(z.dtype).tiny)


def _check(tol: float, max_iter: int) -> None:
    if not tol > 0 or max_iter < 1:
        raise ConfigError(f"need tol > 0 and max_iter ≥ 1, got tol={tol}, max_iter={max_iter}")


def fixed_point_iteration(
    f: Map, z0: torch.Tensor, *, tol: float = 1e-6, max_iter: int = 200
) -> FixedPointResult:
    """Iterate ``z ← f(z)`` until the relative residual is below ``tol`` or ``max_iter`` evaluations."""
    _check(tol, max_iter)
    z, res = z0, math.inf
    for it in range(1, max_iter + 1):
        fz = f(z)
        res = _residual(fz, z)
        z = fz
        if res <= tol:
            return FixedPointResult(z, it, res, True)
    return FixedPointResult(z, max_iter, res, False)


def _anderson_step(
    X: list[torch.Tensor], F: list[torch.Tensor], beta: float, lam: float, cond_max: float
) -> tuple[torch.Tensor, bool]:
    """One Anderson extrapolation per sample; samples whose system is unusable take a plain step."""
    k = len(X)
    if k == 1:
        return F[-1], False
    Xk, Fk = torch.stack(X, 1), torch.stack(F, 1)
    G = Fk - Xk
    H = G @ G.transpose(1, 2)
    scale = H.diagonal(dim1=1, dim2=2).mean(-1)
    eye = torch.eye(k, dtype=H.dtype, device=H.device)
    usable = scale > 0  # a sample already at its fixed point has G = 0
    H = H + (lam * scale.clamp_min(torch.finfo(H.dtype).tiny))[:, None, None] * eye
    H = torch.where(usable[:, None, None], H, eye)
    usable &= torch.linalg.cond(H) <= cond_max
    # solve_ex reports singular systems per sample instead of raising (rounding can defeat the cond test)
    h, info = torch.linalg.solve_ex(H, torch.ones(H.shape[0], k, 1, dtype=H.dtype, device=H.device))
    usable &= info == 0
    h = h.squeeze(-1)
    alpha = h / h.sum(1, keepdim=True)
    usable &= torch.isfinite(alpha).all(1)
    plain = torch.zeros_like(alpha)
    plain[:, -1] = 1.0
    alpha = torch.where(usable[:, None], alpha, plain)
    x_new = (alpha.unsqueeze(-1) * (beta * Fk + (1 - beta) * Xk)).sum(1)
    return x_new, bool((~usable & (scale > 0)).any())


def anderson(
    f: Map,
    z0: torch.Tensor,
    *,
    m: int = 5,
    beta: float = 1.0,
    lam: float = 1e-10,
    tol: float = 1e-6,
    max_iter: int = 200,
    cond_max: float = 1e12,
) -> FixedPointResult:
    """Anderson acceleration (type II) with safeguards.

    Each step combines the last ``m`` iterates with weights ``α`` minimising
    ``‖Σ α_i (f(z_i) − z_i)‖`` subject to ``Σ α_i = 1``, from the regularised normal equations
    ``(GGᵀ + λ·tr(GGᵀ)/k·I) α ∝ 1``, per batch sample. A sample whose system has a condition
    number above ``cond_max`` or gives non-finite weights takes a plain fixed-point step instead
    (steps where that happened are counted in ``fallbacks``). The best iterate seen is returned.

    Parameters
    ----------
    f : callable ``(B, ...) -> (B, ...)``
    z0 : Tensor ``(B, ...)``
    m : int
        Memory (number of past iterates).
    beta : float
        Mixing (damping) parameter in ``(0, 1]``.
    lam : float
        Relative Tikhonov regularisation of the least-squares system.
    tol, max_iter : float, int
        Stopping: relative residual and evaluation cap.
    cond_max : float
        Largest accepted condition number of the normal equations.
    """
    _check(tol, max_iter)
    if m < 1 or not 0 < beta <= 1 or lam < 0:
        raise ConfigError(f"need m ≥ 1, 0 < beta ≤ 1, lam ≥ 0; got m={m}, beta={beta}, lam={lam}")
    B, shape = z0.shape[0], z0.shape
    x = z0.reshape(B, -1)
    fx = f(z0).reshape(B, -1)
    res = _residual(fx, x)
    X, F = [x], [fx]
    best_res, best = res, fx
    fallbacks, it = 0, 1
    while res > tol and it < max_iter:
        x_new, fell_back = _anderson_step(X, F, beta, lam, cond_max)
        fallbacks += fell_back
        fx_new = f(x_new.reshape(shape)).reshape(B, -1)
        it += 1
        res = _residual(fx_new, x_new)
        X.append(x_new)
        F.append(fx_new)
        if len(X) > m:
            X.pop(0)
            F.pop(0)
        if res < best_res:
            best_res, best = res, fx_new
    if fallbacks:
        log.debug("Anderson fell back to plain steps %d times", fallbacks)
    return FixedPointResult(best.reshape(shape), it, best_res, best_res <= tol, fallbacks)
