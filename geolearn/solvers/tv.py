"""Total-variation denoising prox, solved on the dual by fast gradient projection.

``prox_tv(x, θ) = argmin_u ½‖u − x‖² + θ TV(u)`` with ``TV(u) = Σ_i ‖(D u)_i‖`` (isotropic,
Euclidean norm over the ``ndim`` gradient components at each grid point) or ``Σ |D u|``
(anisotropic), ``D`` the forward-difference :class:`~geolearn.operators.Gradient` with
Neumann boundary. Inner solver: FGP of Beck & Teboulle (2009), i.e. FISTA on the dual

    min_{‖p_i‖ ≤ 1}  ½‖x − θ Dᵀp‖²,     u = x − θ Dᵀp,

with step ``1/(θ L)``, ``L = 4 Σ_d 1/spacing_d² ≥ ‖D‖²``. It stops when the relative
primal-dual gap ``(P(u) − Dual(p)) / P(u)`` (checked every 5 iterations) is at most ``tol``
for every problem of a batch, or after ``max_iter`` iterations. The gap is a certificate:
``P(u) − min P`` and ``½‖u − u*‖²`` are both below ``tol · P(u)``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import torch

from geolearn.errors import ShapeError
from geolearn.operators import Gradient

__all__ = ["prox_tv", "tv_norm"]

logger = logging.getLogger("geolearn.solvers.tv")

_GAP_EVERY = 5


def _grad_op(x: torch.Tensor, ndim: int | None, spacing: float | Sequence[float]) -> Gradient:
    ndim = x.ndim if ndim is None else int(ndim)
    if not 1 <= ndim <= x.ndim:
        raise ShapeError(f"ndim={ndim} spatial dimensions do not fit x of shape {tuple(x.shape)}")
    return Gradient(tuple(x.shape[x.ndim - ndim :]), spacing=spacing, dtype=x.dtype, device=x.device)


def _pointwise_norm(g: torch.Tensor, ndim: int, isotropic: bool) -> torch.Tensor:
    """Norm of the gradient at each point; ``g`` is ``(*batch, ndim, *spatial)``."""
    axis = g.ndim - ndim - 1
    return torch.linalg.vector_norm(g, dim=axis) if isotropic else torch.abs(g)


def tv_norm(
    x: torch.Tensor,
    *,
    ndim: int | None = None,
    spacing: float | Sequence[float] = 1.0,
    isotropic: bool = True,
) -> torch.Tensor:
    """Total variation of ``x`` over its last ``ndim`` axes (all by default).

    Returns a tensor of the batch shape ``x.shape[:-ndim]`` (a 0-d tensor when unbatched);
    differentiable almost everywhere.
    """
    D = _grad_op(x, ndim, spacing)
    nd = len(D.domain_shape)
    return _pointwise_norm(D(x), nd, isotropic).flatten(x.ndim - nd).sum(-1)


def _project_dual(p: torch.Tensor, ndim: int, isotropic: bool) -> torch.Tensor:
    if not isotropic:
        return torch.clamp(p, -1.0, 1.0)
    norm = _pointwise_norm(p, ndim, True).unsqueeze(p.ndim - ndim - 1)
    return p / torch.clamp(norm, min=1.0)


def _tv_gap(
    x: torch.Tensor, u: torch.Tensor, p: torch.Tensor, threshold: float, D: Gradient, isotropic: bool
) -> torch.Tensor:
    """Relative primal-dual gap per problem: ``(P(u) − Dual(p)) / max(P(u), tiny)``.

    ``P(u) = ½‖u − x‖² + θ TV(u)`` and ``Dual(p) = ½‖x‖² − ½‖x − θDᵀp‖²`` for feasible ``p``, so
    the gap bounds ``P(u) − min P`` and, by strong convexity, ``½‖u − u*‖²``.
    """
    nd = len(D.domain_shape)
    spatial = tuple(range(x.ndim - nd, x.ndim))
    tv = _pointwise_norm(D(u), nd, isotropic).flatten(x.ndim - nd).sum(-1)
    primal = 0.5 * torch.sum((u - x) ** 2, dim=spatial) + threshold * tv
    # u = x − θDᵀp, so ½‖x − θDᵀp‖² = ½‖u‖².
    dual = 0.5 * torch.sum(x * x, dim=spatial) - 0.5 * torch.sum(u * u, dim=spatial)
    return (primal - dual) / torch.clamp(primal, min=torch.finfo(x.dtype).tiny)


def _tv_dual_solve(
    x: torch.Tensor, threshold: float, D: Gradient, isotropic: bool, max_iter: int, tol: float
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """FGP on the dual; returns the primal solution, the dual variable and the iteration count."""
    nd = len(D.domain_shape)
    lipschitz = 4.0 * sum(1.0 / h**2 for h in D.spacing)
    p = torch.zeros(*x.shape[: x.ndim - nd], *D.range_shape, dtype=x.dtype, device=x.device)
    q, t = p, 1.0
    for k in range(1, max_iter + 1):
        p_new = _project_dual(q + D(x - threshold * D.adjoint(q)) / (threshold * lipschitz), nd, isotropic)
        t_new = (1.0 + math.sqrt(1.0 + 4.0 * t * t)) / 2.0
        q = p_new + ((t - 1.0) / t_new) * (p_new - p)
        p, t = p_new, t_new
        # The gap costs one more application of D; checking it every few iterations keeps it cheap.
        if k % _GAP_EVERY == 0 or k == max_iter:
            u = x - threshold * D.adjoint(p)
            if bool((_tv_gap(x, u, p, threshold, D, isotropic) <= tol).all()):
                return u, p, k
    logger.debug("prox_tv reached max_iter=%d before tol=%g", max_iter, tol)
    return u, p, max_iter


def prox_tv(
    x: torch.Tensor,
    threshold: float,
    *,
    ndim: int | None = None,
    spacing: float | Sequence[float] = 1.0,
    isotropic: bool = True,
    max_iter: int = 200,
    tol: float = 1e-6,
) -> torch.Tensor:
    """TV denoising: ``argmin_u ½‖u − x‖² + threshold · TV(u)`` (see the module notes).

    Parameters
    ----------
    x : torch.Tensor
        ``(*batch, *spatial)``; the last ``ndim`` axes are the image, e.g. ``(nx, nz)``.
    threshold : float
        ``θ >= 0`` (already multiplied by a step size when used inside a solver).
    ndim : int, optional
        Number of spatial axes; default all axes of ``x``.
    spacing : float or sequence of float, default 1.0
        Grid spacing per spatial axis (the TV is of the physical gradient).
    isotropic : bool, default True
        Isotropic (Euclidean norm of the gradient) or anisotropic (sum of absolute differences).
    max_iter : int, default 200
        Iteration cap of the inner FGP solver.
    tol : float, default 1e-6
        Relative duality-gap tolerance of the inner solver.

    Returns
    -------
    torch.Tensor
        Same shape and dtype as ``x``.
    """
    threshold = float(threshold)
    if not (threshold >= 0 and math.isfinite(threshold)):
        raise ValueError(f"threshold must be finite and >= 0, got {threshold}")
    if int(max_iter) < 1 or not tol > 0:
        raise ValueError(f"need max_iter >= 1 and tol > 0, got max_iter={max_iter}, tol={tol}")
    if threshold == 0:
        return x.clone()
    D = _grad_op(x, ndim, spacing)
    u, _, n_iter = _tv_dual_solve(x, threshold, D, isotropic, int(max_iter), float(tol))
    logger.debug("prox_tv: %d inner iterations", n_iter)
    return u
