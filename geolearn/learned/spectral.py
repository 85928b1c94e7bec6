"""Spectral normalisation of 2-D convolutions by their true operator norm.

The operator norm of a convolution is *not* the spectral norm of its kernel reshaped to a
matrix (that can under- or over-estimate it by a factor of the kernel size). Here it is
computed by power iteration on ``KᵀK`` where ``K`` is the convolution itself (zero padding,
stride 1, on the spatial size of the input) and ``Kᵀ`` the transposed convolution. Plain power
iteration converges slowly because a convolution's singular values crowd near the top, so
converged estimates use its Krylov acceleration (restarted Lanczos on the same products
``KᵀK u``); training steps take one warm-started power step, as in Miyato et al. (2018).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as nnf
from torch import nn

from geolearn.errors import ConfigError, ConvergenceError, ShapeError

__all__ = ["SpectralConv2d", "conv_operator_norm"]


def _normal(weight: torch.Tensor, u: torch.Tensor, padding: int) -> torch.Tensor:
    return nnf.conv_transpose2d(nnf.conv2d(u, weight, padding=padding), weight, padding=padding)


def _power_iterate(weight: torch.Tensor, u: torch.Tensor, padding: int, n_iter: int) -> torch.Tensor:
    """``n_iter`` power steps on ``KᵀK`` from unit vector ``u``; returns the new unit vector."""
    for _ in range(n_iter):
        v = _normal(weight, u, padding)
        norm = float(v.norm())
        if not math.isfinite(norm):
            raise ConvergenceError("power iteration on a convolution produced non-finite values")
        if norm == 0.0:
            break
        u = v / norm
    return u


def _lanczos_converge(
    weight: torch.Tensor, u: torch.Tensor, padding: int, tol: float, max_rounds: int, n_krylov: int = 48
) -> tuple[torch.Tensor, float]:
    """Top singular pair of the convolution by restarted Lanczos on ``KᵀK`` (full reorthogonalisation).

    Each round builds an ``n_krylov``-dimensional Krylov space from the current vector and restarts
    from the top Ritz vector; stops when ``σ`` changes by at most ``tol`` relative.
    """
    n_krylov = min(n_krylov, u.numel())
    sigma = 0.0
    for _ in range(max_rounds):
        Q = [u / u.norm()]
        alphas: list[float] = []
        betas: list[float] = []
        for j in range(n_krylov):
            w = _normal(weight, Q[-1], padding)
            alphas.append(float((w * Q[-1]).sum()))
            for q in Q:  # twice-is-enough reorthogonalisation keeps the Ritz values exact
                w = w - (w * q).sum() * q
            for q in Q:
                w = w - (w * q).sum() * q
            beta = float(w.norm())
            if not math.isfinite(beta):
                raise ConvergenceError("Lanczos iteration on a convolution produced non-finite values")
            if j == n_krylov - 1 or beta <= 1e-13 * max(abs(alphas[-1]), 1e-300):
                break
            betas.append(beta)
            Q.append(w / beta)
        T = torch.diag(torch.tensor(alphas, dtype=torch.float64))
        if betas:
            off = torch.tensor(betas, dtype=torch.float64)
            T = T + torch.diag(off, 1) + torch.diag(off, -1)
        evals, evecs = torch.linalg.eigh(T)
        coef = evecs[:, -1].to(u.dtype)
        u = sum(c * q for c, q in zip(coef, Q))
        u = u / u.norm()
        new_sigma = math.sqrt(max(float(evals[-1]), 0.0))
        if abs(new_sigma - sigma) <= tol * new_sigma:
            return u, new_sigma
        sigma = new_sigma
    return u, sigma


def conv_operator_norm(
    weight: torch.Tensor,
    spatial_shape: tuple[int, int],
    *,
    tol: float = 1e-10,
    max_iter: int = 50,
    seed: int = 0,
) -> float:
    """Operator 2-norm of ``x ↦ conv2d(x, weight, padding=k//2)`` on inputs ``(C_in, H, W)``.

    Parameters
    ----------
    weight : Tensor ``(C_out, C_in, k, k)`` with odd ``k``.
    spatial_shape : (H, W)
        Spatial size of the input images.
    tol : float
        Relative change of the estimate at which iteration stops.
    max_iter : int
        Cap on Lanczos restarts.
    seed : int
        Seed of the random start vector.
    """
    if weight.ndim != 4 or weight.shape[-1] != weight.shape[-2] or weight.shape[-1] % 2 == 0:
        raise ShapeError(f"weight must be (C_out, C_in, k, k) with odd k, got {tuple(weight.shape)}")
    gen = torch.Generator().manual_seed(seed)
    u = torch.randn((1, weight.shape[1], *spatial_shape), generator=gen, dtype=weight.dtype)
    with torch.no_grad():
        _, sigma = _lanczos_converge(weight.detach(), u / u.norm(), weight.shape[-1] // 2, tol, max_iter)
    return sigma


class SpectralConv2d(nn.Module):
    """``conv2d(x, W/max(1, σ(W)/bound))``: a convolution whose operator norm is ≤ ``bound``.

    ``σ(W)`` is the operator norm on the spatial size of the current input, from a power
    iteration through the convolution and its transpose, warm-started from the previous call.
    In training mode each call runs ``n_power_iterations`` steps (gradients flow through
    ``σ = ‖K v‖`` with ``v`` fixed, as in Miyato et al.); in eval mode, and whenever the input
    size changes, it iterates until the estimate changes by less than ``tol``.

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size : int
        Odd kernel size; zero padding keeps the spatial size.
    bias : bool
    bound : float
        Target operator norm (1 for a nonexpansive linear part).
    n_power_iterations : int
        Power iterations per training call.
    tol, max_iter : float, int
        Convergence control of the converged estimate (relative change, Lanczos restarts).
    seed : int
        Seed for weight initialisation and the power-iteration start vector.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        *,
        bias: bool = True,
        bound: float = 1.0,
        n_power_iterations: int = 1,
        tol: float = 1e-10,
        max_iter: int = 50,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if kernel_size % 2 == 0 or kernel_size < 1:
            raise ConfigError(f"kernel_size must be a positive odd integer, got {kernel_size}")
        if not bound > 0:
            raise ConfigError(f"bound must be positive, got {bound}")
        gen = torch.Generator().manual_seed(seed)
        fan_in = in_channels * kernel_size**2
        weight = torch.randn((out_channels, in_channels, kernel_size, kernel_size), generator=gen)
        self.weight = nn.Parameter(weight * math.sqrt(2.0 / fan_in))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.padding = kernel_size // 2
        self.bound, self.n_power_iterations = float(bound), int(n_power_iterations)
        self.tol, self.max_iter, self.seed = float(tol), int(max_iter), int(seed)
        self.register_buffer("u", torch.empty(0))
        self._converged_for: tuple | None = None
        self._vectors: dict[tuple[int, int], tuple[torch.Tensor, tuple | None]] = {}

    def sigma(self, spatial_shape: tuple[int, int]) -> torch.Tensor:
        """Operator norm of the raw convolution on ``spatial_shape``, differentiable in ``weight``."""
        w = self.weight
        if tuple(self.u.shape[-2:]) != tuple(spatial_shape) and tuple(spatial_shape) in self._vectors:
            self.u, self._converged_for = self._vectors[tuple(spatial_shape)]
        fresh = tuple(self.u.shape[-2:]) != tuple(spatial_shape) or self.u.dtype != w.dtype
        # In eval mode a converged vector stays valid until the weight changes in place or is replaced.
        key = (tuple(spatial_shape), w.dtype, w._version, w.data_ptr())
        with torch.no_grad():
            if fresh:
                gen = torch.Generator().manual_seed(self.seed)
                u = torch.randn((1, w.shape[1], *spatial_shape), generator=gen, dtype=w.dtype)
                self.u = (u / u.norm()).to(w.device)
            if fresh or (not self.training and key != self._converged_for):
                self.u, _ = _lanczos_converge(w.detach(), self.u, self.padding, self.tol, self.max_iter)
                self._converged_for = key
            elif self.training:
                self.u = _power_iterate(w.detach(), self.u, self.padding, self.n_power_iterations)
                self._converged_for = None
            self._vectors[tuple(spatial_shape)] = (self.u, self._converged_for)
        return nnf.conv2d(self.u, w, padding=self.padding).norm()

    def normalized_weight(self, spatial_shape: tuple[int, int]) -> torch.Tensor:
        """``W·bound/max(σ, bound)``: the weight actually applied."""
        sigma = self.sigma(spatial_shape)
        return self.weight * (self.bound / torch.clamp(sigma, min=self.bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` of shape ``(B, C_in, H, W)`` to ``(B, C_out, H, W)``."""
        if x.ndim != 4 or x.shape[1] != self.weight.shape[1]:
            raise ShapeError(f"expected input (B, {self.weight.shape[1]}, H, W), got {tuple(x.shape)}")
        w = self.normalized_weight(tuple(x.shape[-2:]))
        return nnf.conv2d(x, w, self.bias, padding=self.padding)
