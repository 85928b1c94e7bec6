"""Verification tools for anyone's operator or objective: dot (adjoint) test and Taylor test.

Tolerances follow the design notes: the dot test passes below 1e-10 in float64 and 1e-4 in
float32 (Devito operators pass ``tol=1e-6`` in float64); the Taylor test passes when the
log-log slopes of the zeroth- and first-order remainders are within 0.1 of 1 and 2.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from geolearn.errors import AdjointTestError, GradientTestError, ShapeError
from geolearn.operators.base import LinearOperator

__all__ = ["TaylorResult", "default_dot_tolerance", "dot_test", "gradient_check", "taylor_test"]

logger = logging.getLogger("geolearn.operators.verification")

_TINY = 1e-300


def default_dot_tolerance(dtype: torch.dtype) -> float:
    """Default dot-test tolerance for ``dtype``: 1e-10 (float64), 1e-4 (float32), 1e-2 (16-bit)."""
    if dtype == torch.float64:
        return 1e-10
    if dtype == torch.float32:
        return 1e-4
    return 1e-2


def _randn(shape: tuple[int, ...], gen: torch.Generator, like: torch.Tensor | LinearOperator) -> torch.Tensor:
    # Draw on the CPU in float64 so the numbers depend on the seed only, not on device or dtype.
    return torch.randn(shape, generator=gen, dtype=torch.float64).to(dtype=like.dtype, device=like.device)


def dot_test(
    A: LinearOperator,
    *,
    n_trials: int = 3,
    tol: float | None = None,
    seed: int = 0,
    raise_error: bool = True,
) -> float:
    """Dot-product test of ``A`` against its adjoint with random Gaussian vectors.

    Computes ``|<Ax, y> - <x, Aᵀy>| / max(|<Ax, y>|, tiny)`` for ``n_trials`` random pairs
    (inner products accumulated in float64) and returns the largest.

    Parameters
    ----------
    A : LinearOperator
        Operator under test, in its own dtype and device.
    n_trials : int, default 3
        Number of random ``(x, y)`` pairs.
    tol : float, optional
        Pass threshold; default from :func:`default_dot_tolerance` for ``A.dtype``.
    seed : int, default 0
        Seed of the random vectors.
    raise_error : bool, default True
        Raise :class:`~geolearn.errors.AdjointTestError` when the error exceeds ``tol``.

    Returns
    -------
    float
        The largest relative error over the trials.
    """
    if int(n_trials) < 1:
        raise ValueError(f"n_trials must be a positive integer, got {n_trials}")
    tol = default_dot_tolerance(A.dtype) if tol is None else float(tol)
    gen = torch.Generator().manual_seed(int(seed))
    worst = 0.0
    with torch.no_grad():
        for _ in range(int(n_trials)):
            x = _randn(A.domain_shape, gen, A)
            y = _randn(A.range_shape, gen, A)
            lhs = float(torch.sum(A.apply(x).double() * y.double()))
            rhs = float(torch.sum(x.double() * A.adjoint(y).double()))
            err = abs(lhs - rhs) / max(abs(lhs), _TINY)
            if not math.isfinite(err):
                err = math.inf
            worst = max(worst, err)
    logger.debug("dot test of %s: relative error %.3e (tol %.1e)", type(A).__name__, worst, tol)
    if raise_error and not worst <= tol:
        raise AdjointTestError(
            f"dot test failed for {A!r}: relative error {worst:.3e} exceeds tol={tol:.1e} "
            "(the adjoint does not match the forward operator)"
        )
    return worst


@dataclass
class TaylorResult:
    """Outcome of :func:`taylor_test`.

    Attributes
    ----------
    h : list of float
        Step lengths (halving).
    r0, r1 : list of float
        Zeroth-order remainder ``|f(x + h dx) - f(x)|`` and first-order remainder
        ``|f(x + h dx) - f(x) - h <g, dx>|`` at each ``h``.
    floor : list of float
        Round-off floor at each ``h``; remainders at or below it are not fitted.
    slope0, slope1 : float
        Least-squares slopes of ``log r0`` and ``log r1`` against ``log h`` over the fitted
        points (``nan`` when fewer than two points lie above the round-off floor).
    n_fit0, n_fit1 : int
        Number of points used in each fit (the last ones above the round-off floor).
    linear : bool
        True when every first-order remainder lies at the round-off floor, i.e. ``f`` is
        linear along ``dx`` and the gradient is exact to round-off (``slope1`` is then ``nan``).
    passed : bool
        ``|slope0 - 1| <= tol`` and (``|slope1 - 2| <= tol`` or ``linear``).
    tol : float
        The slope tolerance used.
    """

    h: list[float]
    r0: list[float]
    r1: list[float]
    floor: list[float]
    slope0: float
    slope1: float
    n_fit0: int
    n_fit1: int
    linear: bool
    passed: bool
    tol: float = 0.1
    notes: list[str] = field(default_factory=list)

    def table(self) -> str:
        """The remainders as a text table (one row per ``h``)."""
        rows = [f"{'h':>12} {'r0':>12} {'r1':>12}"]
        rows += [f"{h:12.4e} {a:12.4e} {b:12.4e}" for h, a, b in zip(self.h, self.r0, self.r1)]
        rows.append(f"slope0={self.slope0:.3f} slope1={self.slope1:.3f} passed={self.passed}")
        return "\n".join(rows)


def _above_floor(r: list[float], floor: list[float]) -> int:
    """Length of the leading run of remainders above the round-off floor."""
    n = 0
    while n < len(r) and r[n] > floor[n]:
        n += 1
    return n


def _fit_window(n_valid: int, n_fit: int) -> slice:
    """The last ``n_fit`` points above the floor: the smallest steps that still carry signal."""
    return slice(max(0, n_valid - n_fit), n_valid)


def _slope(h: list[float], r: list[float]) -> float:
    if len(r) < 2:
        return math.nan
    lh = torch.tensor([math.log(v) for v in h], dtype=torch.float64)
    lr = torch.tensor([math.log(v) for v in r], dtype=torch.float64)
    lh = lh - lh.mean()
    return float((lh * (lr - lr.mean())).sum() / (lh * lh).sum())


def taylor_test(
    f: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    dx: torch.Tensor | None = None,
    *,
    grad: torch.Tensor | None = None,
    h0: float = 1.0,
    n_halvings: int = 10,
    n_fit: int = 6,
    tol: float = 0.1,
    noise_factor: float = 1e3,
    seed: int = 0,
) -> TaylorResult:
    """Taylor test of the gradient of a scalar function ``f`` at ``x`` along ``dx``.

    With ``h = h0, h0/2, ...`` the remainders ``r0(h) = |f(x + h dx) - f(x)|`` and
    ``r1(h) = |f(x + h dx) - f(x) - h <g, dx>|`` decay like ``h`` and ``h²`` when ``g`` is the
    gradient; a wrong ``g`` makes ``r1`` decay like ``h``.

    Round-off: remainders below ``noise_factor * eps * (|f(x)| + |f(x + h dx)|)`` (``eps`` of
    ``x``'s dtype) carry no information. Each slope is therefore fitted over the last
    ``n_fit`` points of the leading run above that floor: the smallest steps that still carry
    signal, where the Taylor expansion is most nearly asymptotic. Choose ``dx`` and ``h0`` so that ``h0 dx`` is a small but not tiny
    perturbation (a few percent of ``x``): then about ten halvings stay in the asymptotic
    regime and above the floor in float64. A function linear along ``dx`` has ``r1`` at the
    floor everywhere; that is reported as ``linear=True`` and counts as passing.

    Parameters
    ----------
    f : callable
        Maps a tensor shaped like ``x`` to a scalar tensor; differentiable by autograd
        unless ``grad`` is given.
    x : torch.Tensor
        Point of the test.
    dx : torch.Tensor, optional
        Direction, shaped like ``x``. Default: Gaussian (from ``seed``) scaled to
        ``‖dx‖ = 0.01 max(‖x‖, 1)``.
    grad : torch.Tensor, optional
        The gradient of ``f`` at ``x`` to test; computed by autograd when omitted.
    h0 : float, default 1.0
        Largest step.
    n_halvings : int, default 10
        Number of steps ``h0 / 2**k``, ``k = 0 .. n_halvings - 1``; at least 3.
    n_fit : int, default 6
        Number of points in each log-log fit (fewer when fewer lie above the floor); at least 2.
    tol : float, default 0.1
        Tolerance on each slope.
    noise_factor : float, default 1e3
        Multiplier of ``eps`` in the round-off floor.
    seed : int, default 0
        Seed of the default direction.

    Returns
    -------
    TaylorResult
    """
    if int(n_fit) < 2:
        raise ValueError(f"n_fit must be at least 2, got {n_fit}")
    if int(n_halvings) < 3:
        raise ValueError(f"n_halvings must be at least 3, got {n_halvings}")
    if not h0 > 0:
        raise ValueError(f"h0 must be positive, got {h0}")
    x = x.detach()
    if dx is None:
        gen = torch.Generator().manual_seed(int(seed))
        dx = _randn(tuple(x.shape), gen, x)
        scale = 0.01 * max(float(torch.linalg.vector_norm(x)), 1.0)
        dx = dx * (scale / float(torch.linalg.vector_norm(dx)))
    elif dx.shape != x.shape:
        raise ShapeError(f"dx has shape {tuple(dx.shape)} but x has shape {tuple(x.shape)}; they must match")
    if grad is None:
        xg = x.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(f(xg), xg)
    elif grad.shape != x.shape:
        raise ShapeError(
            f"grad has shape {tuple(grad.shape)} but x has shape {tuple(x.shape)}; they must match"
        )
    eps = torch.finfo(x.dtype).eps
    with torch.no_grad():
        f0 = float(f(x))
        slope_dir = float(torch.sum(grad.detach().double() * dx.double()))
        hs, r0, r1, floor = [], [], [], []
        for k in range(int(n_halvings)):
            h = float(h0) / 2**k
            fh = float(f(x + h * dx))
            hs.append(h)
            r0.append(abs(fh - f0))
            r1.append(abs(fh - f0 - h * slope_dir))
            floor.append(noise_factor * eps * (abs(f0) + abs(fh)))
    if not all(math.isfinite(v) for v in r0 + r1):
        raise GradientTestError(f"f returned non-finite values along dx (remainders r0={r0}); reduce h0")
    w0 = _fit_window(_above_floor(r0, floor), int(n_fit))
    w1 = _fit_window(_above_floor(r1, floor), int(n_fit))
    slope0, slope1 = _slope(hs[w0], r0[w0]), _slope(hs[w1], r1[w1])
    n0, n1 = w0.stop - w0.start, w1.stop - w1.start
    linear = all(v <= fl for v, fl in zip(r1, floor)) and n0 >= 2
    notes = []
    if n0 < 2:
        notes.append("fewer than two zeroth-order remainders above the round-off floor: increase h0 or ‖dx‖")
    passed = abs(slope0 - 1.0) <= tol and (linear or abs(slope1 - 2.0) <= tol)
    result = TaylorResult(hs, r0, r1, floor, slope0, slope1, n0, n1, linear, bool(passed), tol, notes)
    logger.debug("Taylor test:\n%s", result.table())
    return result


def gradient_check(
    f: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    grad: torch.Tensor | Callable[[torch.Tensor], torch.Tensor],
    *,
    dx: torch.Tensor | None = None,
    h0: float = 1.0,
    n_halvings: int = 10,
    n_fit: int = 6,
    tol: float = 0.1,
    seed: int = 0,
) -> TaylorResult:
    """Check a hand-written gradient with :func:`taylor_test`; raise if it fails.

    Parameters
    ----------
    f, x, dx, h0, n_halvings, n_fit, tol, seed
        As in :func:`taylor_test`.
    grad : torch.Tensor or callable
        The gradient at ``x``, or a function returning it for a point.

    Returns
    -------
    TaylorResult
        The passing result.

    Raises
    ------
    GradientTestError
        When the slopes are not within ``tol`` of 1 and 2.
    """
    g = grad(x.detach()) if callable(grad) else grad
    result = taylor_test(f, x, dx, grad=g, h0=h0, n_halvings=n_halvings, n_fit=n_fit, tol=tol, seed=seed)
    if not result.passed:
        raise GradientTestError(
            f"gradient check failed: slopes {result.slope0:.3f} (expected 1) and {result.slope1:.3f} "
            f"(expected 2, tol {tol}); {' '.join(result.notes)}\n{result.table()}"
        )
    return result
