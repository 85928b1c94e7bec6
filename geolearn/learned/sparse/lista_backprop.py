"""Hand-derived backpropagation through LISTA (the sensitivity recursion), without autograd.

For untied LISTA ``z_k = W_k x_{k−1} + U_k y``, ``x_k = S_{θ_k}(z_k)``, ``x_0 = 0``, and the
loss ``ℒ = ½ Σ_b ‖x_K − x*‖²``, the sensitivities ``δ_k = ∂ℒ/∂z_k`` obey

    δ_K = (x_K − x*) ⊙ S′(z_K),      δ_{k−1} = (W_kᵀ δ_k) ⊙ S′(z_{k−1}),

with ``S′(z) = 1[|z| > θ]``, and the parameter gradients are

    ∂ℒ/∂W_k = δ_k x_{k−1}ᵀ,   ∂ℒ/∂U_k = δ_k yᵀ,   ∂ℒ/∂θ_k = −δ_kᵀ sign(z_k)

(summed over the batch). This module is the reference that the autograd path is tested against
and a template for hand-written adjoints of learned schemes.
"""

from __future__ import annotations

import torch

from geolearn.errors import ShapeError
from geolearn.solvers import soft_threshold

__all__ = ["lista_backprop"]


def lista_backprop(
    W: torch.Tensor, U: torch.Tensor, thresholds: torch.Tensor, y: torch.Tensor, x_target: torch.Tensor
) -> dict[str, torch.Tensor]:
    """Loss and gradients of untied LISTA by the sensitivity recursion.

    Parameters
    ----------
    W : Tensor ``(K, n, n)``
    U : Tensor ``(K, n, m)``
    thresholds : Tensor ``(K,)``
        Scalar threshold per layer.
    y : Tensor ``(B, m)``
        Data.
    x_target : Tensor ``(B, n)``
        Targets ``x*``.

    Returns
    -------
    dict with ``"loss"`` (scalar ``½Σ‖x_K − x*‖²``), ``"W"``, ``"U"``, ``"thresholds"``
    (gradients, same shapes as the inputs) and ``"x"`` (the output ``x_K``, ``(B, n)``).
    """
    K, n, _ = W.shape
    if U.shape[:2] != (K, n) or thresholds.shape != (K,):
        raise ShapeError(
            f"expected W (K, n, n), U (K, n, m), thresholds (K,); got {tuple(W.shape)}, "
            f"{tuple(U.shape)}, {tuple(thresholds.shape)}"
        )
    if y.ndim != 2 or y.shape[1] != U.shape[2] or x_target.shape != (y.shape[0], n):
        raise ShapeError(
            f"expected y (B, {U.shape[2]}) and x_target (B, {n}); got {tuple(y.shape)}, {tuple(x_target.shape)}"
        )
    xs, zs = [torch.zeros_like(x_target)], []
    for k in range(K):
        zs.append(xs[-1] @ W[k].T + y @ U[k].T)
        xs.append(soft_threshold(zs[-1], thresholds[k]))
    err = xs[-1] - x_target
    grad_W, grad_U, grad_theta = torch.zeros_like(W), torch.zeros_like(U), torch.zeros_like(thresholds)
    delta = err * (zs[-1].abs() > thresholds[-1])
    for k in range(K - 1, -1, -1):
        grad_W[k] = delta.T @ xs[k]
        grad_U[k] = delta.T @ y
        grad_theta[k] = -(delta * torch.sign(zs[k])).sum()
        if k > 0:
            delta = (delta @ W[k]) * (zs[k - 1].abs() > thresholds[k - 1])
    return {
        "loss": 0.5 * (err**2).sum(),
        "W": grad_W,
        "U": grad_U,
        "thresholds": grad_theta,
        "x": xs[-1],
    }
