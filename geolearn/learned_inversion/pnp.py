"""Plug-and-play and deep-equilibrium LSRTM: a trained denoiser in place of the proximal step.

Both run with the Born operator given at call time: :func:`pnp_fista_lsrtm` is a function of
``(J, y)``, and :func:`deq_lsrtm` builds a :class:`~geolearn.learned.DEQ` applied as
``deq(y, J)``. Their steps are ``γ ≤ 1/L`` with ``L ≥ ‖J‖²`` of the call's operator
(:func:`~geolearn.learned_inversion.lsrtm.born_lipschitz_bound`), which with a firmly nonexpansive denoiser
(:func:`train_lsrtm_denoiser`, ``mode="firm"``) makes every iteration averaged on any ``J``.
"""

from __future__ import annotations

import torch
from torch import nn

from geolearn.errors import ConfigError
from geolearn.learned import DEQ, DnCNN, LipschitzEstimator, PnPISTA, TrainingHistory, train_denoiser
from geolearn.learned_inversion.lsrtm import BORN_LIPSCHITZ
from geolearn.operators import LinearOperator

__all__ = [
    "ScaledDenoiser",
    "deq_lsrtm",
    "pnp_fista_lsrtm",
    "train_lsrtm_denoiser",
]


class ScaledDenoiser(nn.Module):
    """Apply an image denoiser in normalised units: ``D(x) = s · D₀(x / s)`` (same Lipschitz bound)."""

    def __init__(self, denoiser: nn.Module, scale: float) -> None:
        super().__init__()
        if not scale > 0:
            raise ConfigError(f"scale must be positive (image units), got {scale}")
        self.denoiser = denoiser
        self.register_buffer("scale", torch.tensor(float(scale)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.scale.to(x.dtype)
        return self.denoiser(x / s) * s


def pnp_fista_lsrtm(
    J: LinearOperator,
    y: torch.Tensor,
    denoiser: nn.Module,
    n_iter: int,
    *,
    lipschitz: float,
    step: float | None = None,
) -> torch.Tensor:
    """Plug-and-play FISTA: ``x_{k+1} = D(z_k − γ Jᵀ(J z_k − y))`` with Nesterov momentum on ``z``.

    Parameters
    ----------
    J : LinearOperator
    y : Tensor ``(B, n_shots, n_rec, nt)``
    denoiser : nn.Module
        ``(B, nx, nz) -> (B, nx, nz)``, e.g. ``ScaledDenoiser(DnCNN(mode="firm"), scale)``.
    n_iter : int
        Iterations; costs ``2 n_iter − 1`` applications from ``x₀ = 0``.
    lipschitz : float
        ``L ≥ ‖J‖²``.
    step : float, optional
        ``γ``; default ``1/L``.
    """
    if n_iter < 1:
        raise ConfigError(f"n_iter must be >= 1, got {n_iter}")
    gamma = 1.0 / lipschitz if step is None else float(step)
    if not 0 < gamma * lipschitz <= 1.0 + 1e-9:
        raise ConfigError(f"step must lie in (0, 1/L] = (0, {1 / lipschitz:.4g}], got {gamma:.4g}")
    x = y.new_zeros((y.shape[0], *J.domain_shape))
    z, t = x, 1.0
    with torch.no_grad():
        for _ in range(n_iter):
            x_new = denoiser(z - gamma * J.adjoint(J(z) - y))
            t_new = 0.5 * (1 + (1 + 4 * t * t) ** 0.5)
            z = x_new + ((t - 1) / t_new) * (x_new - x)
            x, t = x_new, t_new
    return x


def deq_lsrtm(
    denoiser: nn.Module,
    *,
    lipschitz_estimator: LipschitzEstimator = BORN_LIPSCHITZ,
    max_iter: int = 30,
    tol: float = 1e-4,
    backward_max_iter: int = 30,
    backward_tol: float = 1e-6,
    solver: str = "anderson",
    dtype: torch.dtype = torch.float32,
) -> DEQ:
    """Deep-equilibrium learned LSRTM: the fixed point of ``x = D(x − γ Jᵀ(J x − y))``, as ``deq(y, J)``.

    Built on :class:`~geolearn.learned.PnPISTA` with one layer and a learned step ``γ = t/L ≤ 1/L``,
    ``L`` of the call's ``J`` (``deq(y, J, lipschitz=L)``, or estimated by ``lipschitz_estimator``
    and remembered per operator). With a firmly nonexpansive denoiser (``DnCNN(mode="firm")``) the
    map is averaged and the iteration converges on any ``J``. Gradients are implicit (one adjoint
    fixed-point solve), so training memory does not grow with the number of iterations.

    Returns
    -------
    DEQ
        ``deq(y, J) -> (B, nx, nz)``.
    """
    return DEQ(
        PnPISTA(1, denoiser, lipschitz_estimator=lipschitz_estimator, dtype=dtype),
        solver=solver,
        tol=tol,
        max_iter=max_iter,
        backward_tol=backward_tol,
        backward_max_iter=backward_max_iter,
    )


def train_lsrtm_denoiser(
    images: torch.Tensor,
    *,
    scale: float,
    noise_std: float | tuple[float, float] = (0.05, 0.3),
    features: int = 16,
    depth: int = 4,
    mode: str = "firm",
    n_steps: int = 200,
    patch_size: int | None = None,
    seed: int = 0,
    progress: bool = True,
) -> tuple[ScaledDenoiser, TrainingHistory]:
    """Train a :class:`~geolearn.learned.DnCNN` on generator images ``(N, nx, nz)`` (m/s) for PnP/DEQ.

    Images are divided by ``scale`` for training (noise levels are in those normalised units);
    the returned :class:`ScaledDenoiser` works in m/s. ``mode="firm"`` keeps it firmly
    nonexpansive (needed for DEQ convergence). No wave-equation solve is involved.
    """
    dn = DnCNN(1, features, depth, mode=mode, seed=seed).to(images.dtype)
    patch = patch_size or min(images.shape[1:])
    hist = train_denoiser(
        dn,
        images / scale,
        noise_std=noise_std,
        patch_size=patch,
        batch_size=8,
        n_steps=n_steps,
        lr=2e-3,
        seed=seed,
        progress=progress,
    )
    return ScaledDenoiser(dn, scale).to(images.dtype), hist
