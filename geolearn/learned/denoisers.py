"""A small DnCNN-style image denoiser that is (firmly) nonexpansive by construction.

``DnCNN`` stacks ``depth`` 3×3 convolutions with ReLUs between them. With
``mode="firm"`` or ``"nonexpansive"`` every convolution is a :class:`SpectralConv2d` of
operator norm ≤ 1, so the network ``N`` is 1-Lipschitz, and the denoiser is the averaged map

    D(x) = (1 − α) x + α N(x),   α = α_max·sigmoid(a),

with ``α_max = 1/2`` (``"firm"``: D is firmly nonexpansive) or ``α_max = 1`` (``"nonexpansive"``).
``mode="free"`` is the classic residual DnCNN ``D(x) = x − R(x)`` with unconstrained
convolutions (best denoising, no guarantee). :func:`train_denoiser` trains any of them from
scratch on the user's own images with Gaussian noise.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import torch
from torch import nn

from geolearn.errors import ConfigError, ShapeError
from geolearn.learned.constraints import bounded, bounded_inverse
from geolearn.learned.spectral import SpectralConv2d
from geolearn.learned.training import Trainer, TrainingHistory

__all__ = ["DnCNN", "train_denoiser"]

_MODES = {"firm": 0.5, "nonexpansive": 1.0, "free": None}


class DnCNN(nn.Module):
    """DnCNN-style denoiser for images ``(B, H, W)`` or ``(B, C, H, W)``.

    Parameters
    ----------
    channels : int
        Image channels ``C`` (1 for seismic images and reflectivity).
    features : int
        Hidden feature maps.
    depth : int
        Number of convolutions (≥ 2).
    mode : {"firm", "nonexpansive", "free"}
        Lipschitz guarantee (module docstring).
    alpha_init : float
        Initial averaging weight as a fraction of ``α_max``.
    seed : int
        Seed of the weight initialisation.
    """

    def __init__(
        self,
        channels: int = 1,
        features: int = 32,
        depth: int = 5,
        *,
        mode: str = "firm",
        alpha_init: float = 0.5,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if mode not in _MODES:
            raise ConfigError(f"mode must be one of {sorted(_MODES)}, got {mode!r}")
        if depth < 2:
            raise ConfigError(f"depth must be at least 2, got {depth}")
        self.mode, self.channels = mode, int(channels)
        sizes = [channels] + [features] * (depth - 1) + [channels]
        layers: list[nn.Module] = []
        for i, (cin, cout) in enumerate(itertools.pairwise(sizes)):
            if mode == "free":
                conv = nn.Conv2d(cin, cout, 3, padding=1, bias=i < depth - 1)
                with torch.no_grad():
                    gen = torch.Generator().manual_seed(seed + i)
                    conv.weight.copy_(
                        torch.randn(conv.weight.shape, generator=gen) * (2.0 / (9 * cin)) ** 0.5
                    )
                    if i == depth - 1:
                        conv.weight.mul_(0.1)  # start close to the identity denoiser
            else:
                conv = SpectralConv2d(cin, cout, 3, bias=i < depth - 1, seed=seed + i)
            layers.append(conv)
            if i < depth - 1:
                layers.append(nn.ReLU())
        self.body = nn.Sequential(*layers)
        if mode != "free":
            self.alpha_max = _MODES[mode]
            self.raw_alpha = nn.Parameter(bounded_inverse(torch.tensor(alpha_init), 1.0))

    @property
    def alpha(self) -> torch.Tensor:
        """Averaging weight ``α ∈ (0, α_max]`` (constrained modes only)."""
        return bounded(self.raw_alpha, self.alpha_max)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Denoise ``x``: ``(B, H, W)`` (single channel) or ``(B, C, H, W)``; same shape out."""
        squeeze = x.ndim == 3 and self.channels == 1
        if squeeze:
            x = x.unsqueeze(1)
        if x.ndim != 4 or x.shape[1] != self.channels:
            raise ShapeError(
                f"DnCNN expects (B, {self.channels}, H, W) or (B, H, W) images, got {tuple(x.shape)}"
            )
        body = self.body(x)
        out = x - body if self.mode == "free" else x + self.alpha * (body - x)
        return out.squeeze(1) if squeeze else out


def train_denoiser(
    denoiser: nn.Module,
    images: torch.Tensor,
    *,
    noise_std: float | tuple[float, float] = 0.1,
    patch_size: int = 32,
    batch_size: int = 16,
    n_steps: int = 500,
    lr: float = 1e-3,
    seed: int = 0,
    progress: bool = True,
    val_images: torch.Tensor | None = None,
) -> TrainingHistory:
    """Train ``denoiser`` from scratch on random patches of ``images`` with Gaussian noise.

    Parameters
    ----------
    denoiser : nn.Module
        Maps ``(B, H, W)`` to ``(B, H, W)`` (e.g. :class:`DnCNN` with one channel).
    images : Tensor ``(N, H, W)``
        Clean training images (any units; noise levels are in the same units).
    noise_std : float or (float, float)
        Noise standard deviation, or a range sampled uniformly per patch (blind denoising).
    patch_size, batch_size, n_steps, lr : training set-up
    seed : int
        Seed for patch positions and noise.
    progress : bool
        Show a tqdm bar.
    val_images : Tensor ``(M, h, w)``, optional
        Clean validation images; noise is drawn once (seeded) and NMSE tracked in dB.

    Returns
    -------
    TrainingHistory
    """
    if images.ndim != 3 or min(images.shape[1:]) < patch_size:
        raise ShapeError(
            f"images must be (N, H, W) with H, W ≥ patch_size={patch_size}, got {tuple(images.shape)}"
        )
    lo, hi = (noise_std, noise_std) if isinstance(noise_std, (int, float)) else noise_std
    if not 0 <= lo <= hi:
        raise ConfigError(f"noise_std must be ≥ 0 (or a range lo ≤ hi), got {noise_std}")

    def sample(n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.randint(images.shape[0], (n,), generator=gen)
        i0 = torch.randint(images.shape[1] - patch_size + 1, (n,), generator=gen)
        j0 = torch.randint(images.shape[2] - patch_size + 1, (n,), generator=gen)
        clean = torch.stack(
            [images[a, i : i + patch_size, j : j + patch_size] for a, i, j in zip(idx, i0, j0)]
        )
        sigma = lo + (hi - lo) * torch.rand((n, 1, 1), generator=gen, dtype=images.dtype)
        return clean + sigma * torch.randn(clean.shape, generator=gen, dtype=images.dtype), clean

    val = None
    if val_images is not None:
        gen = torch.Generator().manual_seed(seed + 1)
        sigma = 0.5 * (lo + hi)
        val = (
            val_images + sigma * torch.randn(val_images.shape, generator=gen, dtype=val_images.dtype),
            val_images,
        )
    sampler: Callable[[int, torch.Generator], tuple[torch.Tensor, torch.Tensor]] = sample
    trainer = Trainer(denoiser, lr=lr, batch_size=batch_size, progress=progress, seed=seed, schedule="cosine")
    return trainer.fit(sampler, val, n_steps=n_steps)
