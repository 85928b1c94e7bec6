"""Deep equilibrium layer: ``x* = Φ_θ(x*; y, A)`` for any :class:`IterationMap`, with implicit gradients.

Forward: the fixed point is found without autograd (plain iteration or Anderson). Backward
(``backward="implicit"``): the incoming gradient ``g = ∂ℒ/∂x*`` is replaced by the solution of
``v = J_Φᵀ v + g`` (i.e. ``(I − J_Φᵀ) v = g``), computed by fixed-point or Anderson iterations on
vector-Jacobian products, and ``v`` is pushed through one differentiable application of ``Φ``
to reach ``θ`` and ``y``. ``backward="jacobian_free"`` skips the solve (``v = g``; Fung et al.).
Memory is that of one layer, independent of the number of iterations. Like the maps it wraps,
a DEQ stores no operator: ``deq(y, A)``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch
from torch import nn

from geolearn.errors import ConfigError, ConvergenceError
from geolearn.learned._checks import check_data, check_operator
from geolearn.learned.fixed_point import FixedPointResult, anderson, fixed_point_iteration
from geolearn.learned.maps import IterationMap
from geolearn.operators import LinearOperator

__all__ = ["DEQ", "DEQStats"]

log = logging.getLogger("geolearn.learned.deq")


@dataclass
class DEQStats:
    """Iteration counts and relative residuals of the last forward and backward solves
    (backward fields stay ``None`` until a backward pass has run)."""

    forward_iterations: int = 0
    forward_residual: float = float("nan")
    forward_fallbacks: int = 0
    backward_iterations: int | None = None
    backward_residual: float | None = None


class DEQ(nn.Module):
    """Fixed-point layer over layer ``layer`` of an :class:`IterationMap` (shared parameters).

    Parameters
    ----------
    iteration_map : IterationMap
        E.g. ``UnrolledISTA(1, ...)``, ``LearnedFISTA(1, ...)``, ``PnPISTA(1, D)``, ``LISTA(A, 1)``.
    layer : int
        Which parameter set of the map to iterate.
    solver : {"anderson", "fixed_point"}
        Forward solver.
    tol, max_iter : float, int
        Forward stopping rule (relative residual) and iteration cap.
    backward : {"implicit", "jacobian_free"}
    backward_solver : {"anderson", "fixed_point"}
    backward_tol, backward_max_iter : float, int
        Stopping rule of the adjoint solve.
    anderson_m, anderson_beta, anderson_lam : int, float, float
        Anderson memory, mixing and regularisation (see :func:`anderson`).
    strict : bool
        Raise :class:`ConvergenceError` when a solve does not reach its tolerance (otherwise
        log a warning and use the best iterate).
    """

    def __init__(
        self,
        iteration_map: IterationMap,
        *,
        layer: int = 0,
        solver: str = "anderson",
        tol: float = 1e-6,
        max_iter: int = 200,
        backward: str = "implicit",
        backward_solver: str = "anderson",
        backward_tol: float = 1e-8,
        backward_max_iter: int = 200,
        anderson_m: int = 5,
        anderson_beta: float = 1.0,
        anderson_lam: float = 1e-10,
        strict: bool = False,
    ) -> None:
        super().__init__()
        if not isinstance(iteration_map, IterationMap):
            raise TypeError(f"iteration_map must be an IterationMap, got {type(iteration_map).__name__}")
        for name, value, valid in (
            ("solver", solver, ("anderson", "fixed_point")),
            ("backward", backward, ("implicit", "jacobian_free")),
            ("backward_solver", backward_solver, ("anderson", "fixed_point")),
        ):
            if value not in valid:
                raise ConfigError(f"{name} must be one of {valid}, got {value!r}")
        self.map = iteration_map
        self.layer = iteration_map.check_layer(layer)
        self.solver, self.backward, self.backward_solver = solver, backward, backward_solver
        self.tol, self.max_iter = float(tol), int(max_iter)
        self.backward_tol, self.backward_max_iter = float(backward_tol), int(backward_max_iter)
        self.anderson_kw = {"m": anderson_m, "beta": anderson_beta, "lam": anderson_lam}
        self.strict = bool(strict)
        self.stats = DEQStats()

    def _solve(
        self, f, z0: torch.Tensor, method: str, tol: float, max_iter: int, what: str
    ) -> FixedPointResult:
        if method == "anderson":
            out = anderson(f, z0, tol=tol, max_iter=max_iter, **self.anderson_kw)
        else:
            out = fixed_point_iteration(f, z0, tol=tol, max_iter=max_iter)
        if not out.converged:
            msg = f"DEQ {what} solve stopped at residual {out.residual:.3e} > tol {tol:.1e} after {out.iterations} iterations"
            if self.strict:
                raise ConvergenceError(msg + "; raise max_iter or loosen tol")
            log.warning(msg)
        return out

    def forward(
        self,
        y: torch.Tensor,
        A: LinearOperator,
        z0: torch.Tensor | None = None,
        *,
        lipschitz: float | None = None,
    ) -> torch.Tensor:
        """Fixed point for data ``y`` ``(B, *A.range_shape)`` and operator ``A``; returns ``(B, *A.domain_shape)``.

        ``z0`` (``(B, *state_shape)``) warm-starts the forward solve; ``lipschitz`` is passed to
        the map's step scale (see :meth:`IterationMap.forward`). The step scale is computed
        once per call and held fixed during both solves.
        """
        check_operator(A)
        y, unbatched = check_data(A, y)
        physics = self.map.physics(y, A, lipschitz=lipschitz)
        f = lambda z: self.map.step(z, y, physics, self.layer)  # noqa: E731
        if z0 is None:
            z0 = self.map.init_state(y, physics)
        with torch.no_grad():
            fwd = self._solve(f, z0.detach(), self.solver, self.tol, self.max_iter, "forward")
        self.stats = stats = DEQStats(fwd.iterations, fwd.residual, fwd.fallbacks)
        z_star = fwd.z
        if torch.is_grad_enabled():
            z = f(z_star)  # one differentiable step connects the output to θ and y
            if self.backward == "implicit" and z.requires_grad:
                z_leaf = z_star.detach().requires_grad_(True)
                with torch.enable_grad():
                    fz = f(z_leaf)

                def implicit_grad(grad: torch.Tensor | None) -> torch.Tensor | None:
                    if grad is None:  # an undefined incoming gradient stays undefined
                        return None

                    def adjoint_map(v: torch.Tensor) -> torch.Tensor:
                        (vjp,) = torch.autograd.grad(fz, z_leaf, v, retain_graph=True)
                        return vjp + grad

                    bwd = self._solve(
                        adjoint_map,
                        grad,
                        self.backward_solver,
                        self.backward_tol,
                        self.backward_max_iter,
                        "backward",
                    )
                    stats.backward_iterations, stats.backward_residual = bwd.iterations, bwd.residual
                    return bwd.z

                z.register_hook(implicit_grad)
            z_star = z
        x = self.map.output(z_star)
        return x.squeeze(0) if unbatched else x
