"""Projected L-BFGS with bound constraints and an explicit, checkpointable memory.

SciPy's L-BFGS-B hides its memory, so an interrupted run could not resume exactly. This is
the same quasi-Newton idea with everything in a plain dict (:meth:`ProjectedLBFGS.state_dict`):
the two-loop recursion (Nocedal & Wright, Alg. 7.4) on the free variables, with a diagonal
initial inverse Hessian ``γ M`` (``M`` the gradient preconditioner, ``γ = sᵀy / yᵀMy``),
projection onto the bounds along the search path (``x(α) = P(x + α p)``) and an Armijo
backtracking line search driven by the caller (reverse communication), so that the caller
can evaluate shots in parallel and checkpoint between iterations.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from geolearn.errors import ConfigError

__all__ = ["ProjectedLBFGS"]


class ProjectedLBFGS:
    """Limited-memory BFGS directions for ``min f(x)`` subject to ``lower <= x <= upper``.

    Parameters
    ----------
    lower, upper : float
        Bounds (m/s for velocities).
    memory : int
        Number of correction pairs ``(s, y)`` kept.
    c1 : float
        Armijo constant of the sufficient-decrease test.

    Notes
    -----
    A pair is stored only when ``sᵀy > 1e-10 ‖s‖ ‖y‖`` (positive curvature), which keeps the
    implicit inverse Hessian positive definite.
    """

    def __init__(self, lower: float, upper: float, *, memory: int = 10, c1: float = 1e-4) -> None:
        if not lower < upper:
            raise ConfigError(f"bounds must satisfy lower < upper, got [{lower}, {upper}]")
        if memory < 1:
            raise ConfigError(f"L-BFGS memory must be >= 1 pair, got {memory}")
        self.lower, self.upper, self.memory, self.c1 = float(lower), float(upper), int(memory), float(c1)
        self.s: list[np.ndarray] = []
        self.y: list[np.ndarray] = []

    def project(self, x: np.ndarray) -> np.ndarray:
        """Clip onto the bounds."""
        return np.clip(x, self.lower, self.upper)

    def free(self, x: np.ndarray, g: np.ndarray) -> np.ndarray:
        """Boolean mask of variables not held at a bound by the gradient."""
        at_lower = (x <= self.lower) & (g > 0)
        at_upper = (x >= self.upper) & (g < 0)
        return ~(at_lower | at_upper)

    def direction(self, x: np.ndarray, g: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Quasi-Newton descent direction ``p`` (zero on bound-held and zero-weight variables).

        ``weights`` is the diagonal preconditioner ``M`` (``x``'s shape, >= 0).
        """
        free = self.free(x, g)
        q = np.where(free, g, 0.0)
        alphas = []
        for s, y in zip(reversed(self.s), reversed(self.y)):
            rho = 1.0 / np.vdot(y, s)
            a = rho * np.vdot(s, q)
            alphas.append((a, rho))
            q = q - a * np.where(free, y, 0.0)
        if self.s:
            s, y = self.s[-1], self.y[-1]
            gamma = np.vdot(s, y) / max(np.vdot(y, weights * y), np.finfo(float).tiny)
        else:
            gamma = 1.0
        r = gamma * weights * q
        for (s, y), (a, rho) in zip(zip(self.s, self.y), reversed(alphas)):
            b = rho * np.vdot(y, r)
            r = r + (a - b) * np.where(free, s, 0.0)
        p = -np.where(free, r, 0.0)
        if np.vdot(p, g) >= 0:  # not a descent direction (stale memory): fall back to -M g
            self.reset()
            p = -np.where(free, weights * g, 0.0)
        return p

    def accept(self, f: float, g: np.ndarray, x: np.ndarray, f_new: float, x_new: np.ndarray) -> bool:
        """Armijo test ``f(x_new) <= f(x) + c1 gᵀ(x_new − x)`` for a projected trial point.

        A trial must also lower ``f`` in floating point (``f_new < f``). Near a minimiser the
        predicted decrease ``c1 gᵀ(x_new − x)`` falls below the rounding of ``f`` (about
        ``ε |f|``); the Armijo inequality alone then accepts steps that change nothing but
        noise. With the strict decrease the line search fails there instead, which is the
        caller's signal that ``f`` cannot resolve further progress: the attainable first-order
        optimality is about ``sqrt(2 λ_max ε |f|)`` for curvature ``λ_max``.
        """
        return bool(f_new < f and f_new <= f + self.c1 * np.vdot(g, x_new - x))

    def optimality(self, x: np.ndarray, g: np.ndarray) -> float:
        """First-order optimality ``‖x − P(x − g)‖``: zero exactly at a bound-constrained stationary point."""
        return float(np.linalg.norm(x - self.project(x - g)))

    def update(self, s: np.ndarray, y: np.ndarray) -> bool:
        """Store the pair ``(s, y)`` if its curvature is positive; return whether it was stored."""
        sy = float(np.vdot(s, y))
        if sy <= 1e-10 * np.linalg.norm(s) * np.linalg.norm(y):
            return False
        self.s.append(np.array(s, dtype=np.float64))
        self.y.append(np.array(y, dtype=np.float64))
        del self.s[: -self.memory], self.y[: -self.memory]
        return True

    def reset(self) -> None:
        """Forget the memory (e.g. when the objective changes with a new frequency band)."""
        self.s, self.y = [], []

    def state_dict(self) -> dict[str, Any]:
        """The complete optimiser state (storable with :func:`geolearn.io.state.save_state`)."""
        return {"s": list(self.s), "y": list(self.y), "lower": self.lower, "upper": self.upper,
                "memory": self.memory, "c1": self.c1}  # fmt: skip

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self.lower, self.upper = float(state["lower"]), float(state["upper"])
        self.memory, self.c1 = int(state["memory"]), float(state["c1"])
        self.s = [np.asarray(a, dtype=np.float64) for a in state["s"]]
        self.y = [np.asarray(a, dtype=np.float64) for a in state["y"]]
