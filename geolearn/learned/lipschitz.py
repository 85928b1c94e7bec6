"""Lipschitz estimates and firm-nonexpansiveness checks for denoisers and iteration maps."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.autograd import forward_ad

from geolearn.errors import ConvergenceError, ShapeError

__all__ = ["FirmnessReport", "check_firm_nonexpansive", "estimate_lipschitz"]


def _jvp(f: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    with forward_ad.dual_level():
        return forward_ad.unpack_dual(f(forward_ad.make_dual(x, v))).tangent


def _vjp(f: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    with torch.enable_grad():
        xg = x.detach().requires_grad_(True)
        (g,) = torch.autograd.grad(f(xg), xg, w)
    return g


def estimate_lipschitz(
    f: Callable[[torch.Tensor], torch.Tensor],
    samples: torch.Tensor,
    *,
    n_iter: int = 100,
    tol: float = 1e-6,
    seed: int = 0,
) -> float:
    """Largest local Lipschitz constant ``max_i ‖J_f(x_i)‖₂`` over the given samples.

    ``‖J_f(x)‖₂`` is found by power iteration on ``J_fᵀJ_f`` built from forward-mode
    Jacobian-vector products and reverse-mode vector-Jacobian products. For a linear ``f`` this
    is its operator norm; for a nonlinear one it is a lower bound of the global constant.

    Parameters
    ----------
    f : callable
        Maps ``(1, *shape)`` to ``(1, *out_shape)`` (a denoiser, a network layer, an iteration map).
    samples : Tensor ``(N, *shape)``
        Points at which the Jacobian is evaluated (each passed with a batch dimension of 1).
    n_iter, tol : int, float
        Iteration cap and relative change of the estimate at which to stop.
    seed : int
        Seed of the start vectors.
    """
    if samples.ndim < 2:
        raise ShapeError(f"samples must be (N, *shape), got {tuple(samples.shape)}")
    gen = torch.Generator().manual_seed(seed)
    best = 0.0
    for x in samples:
        x = x.unsqueeze(0).detach()
        v = torch.randn(x.shape, generator=gen, dtype=x.dtype).to(x.device)
        v = v / v.norm()
        sigma = 0.0
        for _ in range(n_iter):
            w = _vjp(f, x, _jvp(f, x, v))
            norm = float(w.norm())
            if not torch.isfinite(w).all():
                raise ConvergenceError("Jacobian power iteration produced non-finite values")
            if norm == 0.0:
                break
            v = w / norm
            new = norm**0.5
            if abs(new - sigma) <= tol * new:
                sigma = new
                break
            sigma = new
        best = max(best, sigma)
    return best


@dataclass
class FirmnessReport:
    """Result of :func:`check_firm_nonexpansive`.

    Attributes
    ----------
    margin : float
        ``min_i (⟨D(a_i) − D(b_i), a_i − b_i⟩ − ‖D(a_i) − D(b_i)‖²) / ‖a_i − b_i‖²``; ``≥ 0`` for a
        firmly nonexpansive ``D``.
    lipschitz_ratio : float
        ``max_i ‖D(a_i) − D(b_i)‖ / ‖a_i − b_i‖`` (≤ 1 for a nonexpansive ``D``).
    firmly_nonexpansive : bool
        ``margin ≥ −tol``.
    """

    margin: float
    lipschitz_ratio: float
    firmly_nonexpansive: bool


@torch.no_grad()
def check_firm_nonexpansive(
    D: Callable[[torch.Tensor], torch.Tensor],
    samples: torch.Tensor,
    *,
    noise_std: float = 0.1,
    tol: float = 1e-6,
    seed: int = 0,
) -> FirmnessReport:
    """Test ``‖D(a) − D(b)‖² ≤ ⟨D(a) − D(b), a − b⟩`` on sample pairs.

    Pairs are each sample with a noisy copy of itself (``noise_std``) and with another sample
    (a seeded permutation), so both nearby and distant pairs are checked.

    Parameters
    ----------
    D : callable on ``(N, *shape)`` batches
    samples : Tensor ``(N, *shape)`` with ``N ≥ 2``
    noise_std : float
        Perturbation level of the nearby pairs (in the units of ``samples``).
    tol : float
        Allowed negative margin (rounding).
    seed : int
    """
    if samples.ndim < 2 or samples.shape[0] < 2:
        raise ShapeError(f"samples must be (N, *shape) with N ≥ 2, got {tuple(samples.shape)}")
    gen = torch.Generator().manual_seed(seed)
    noise = torch.randn(samples.shape, generator=gen, dtype=samples.dtype).to(samples.device)
    perm = torch.randperm(samples.shape[0], generator=gen)
    perm = torch.where(perm == torch.arange(len(perm)), (perm + 1) % len(perm), perm)
    a = torch.cat([samples, samples])
    b = torch.cat([samples + noise_std * noise, samples[perm]])
    da, db = D(a) - D(b), a - b
    inner = (da * db).flatten(1).sum(1)
    sq, dist = da.flatten(1).pow(2).sum(1), db.flatten(1).pow(2).sum(1)
    margin = float(((inner - sq) / dist).min())
    ratio = float((sq / dist).sqrt().max())
    return FirmnessReport(margin=margin, lipschitz_ratio=ratio, firmly_nonexpansive=margin >= -tol)
