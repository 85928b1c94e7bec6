"""Seeded synthetic sparse-coding data: the standard LISTA benchmark problem."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from geolearn.errors import ConfigError, ShapeError
from geolearn.operators import MatrixOperator

__all__ = ["SparseCodingProblem", "make_sparse_coding", "oracle_least_squares"]


@dataclass
class SparseCodingProblem:
    """``y = A x + n`` with Gaussian ``A`` (unit-norm columns), Bernoulli–Gaussian ``x``.

    Attributes
    ----------
    A : MatrixOperator
        ``m × n`` sensing operator.
    p : float
        Probability that an entry of ``x`` is nonzero; nonzeros are standard normal.
    snr_db : float or None
        Signal-to-noise ratio ``10 log10(‖Ax‖²/‖n‖²)`` per sample (``None``: noiseless).
    """

    A: MatrixOperator
    p: float
    snr_db: float | None

    def sample(self, n_samples: int, generator: torch.Generator | int) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw ``(y, x)``: ``y`` ``(n_samples, m)``, ``x`` ``(n_samples, n)`` in ``A.dtype``.

        ``generator`` is a :class:`torch.Generator` or an integer seed.
        """
        gen = (
            generator if isinstance(generator, torch.Generator) else torch.Generator().manual_seed(generator)
        )
        if n_samples < 1:
            raise ConfigError(f"n_samples must be positive, got {n_samples}")
        m, n = self.A.shape
        dt = self.A.dtype
        support = torch.rand((n_samples, n), generator=gen, dtype=dt) < self.p
        x = torch.randn((n_samples, n), generator=gen, dtype=dt) * support
        clean = self.A.apply(x)
        if self.snr_db is None:
            return clean, x
        noise = torch.randn((n_samples, m), generator=gen, dtype=dt)
        scale = clean.norm(dim=1, keepdim=True) / noise.norm(dim=1, keepdim=True).clamp_min(1e-30)
        return clean + noise * scale * 10 ** (-self.snr_db / 20), x


def make_sparse_coding(
    m: int = 250,
    n: int = 500,
    *,
    p: float = 0.1,
    snr_db: float | None = 40.0,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
) -> SparseCodingProblem:
    """The LISTA sparse-recovery problem (Gregor & LeCun; Chen et al. 2018).

    Parameters
    ----------
    m, n : int
        Measurements and unknowns (``A`` is ``m × n``).
    p : float
        Bernoulli probability of a nonzero, in ``(0, 1]``.
    snr_db : float or None
        Measurement SNR in dB per sample; ``None`` for noiseless data.
    seed : int
        Seed of ``A``.
    dtype : torch.dtype
    """
    if m < 1 or n < 1:
        raise ConfigError(f"m and n must be positive, got m={m}, n={n}")
    if not 0 < p <= 1:
        raise ConfigError(f"p must lie in (0, 1], got {p}")
    gen = torch.Generator().manual_seed(seed)
    M = torch.randn((m, n), generator=gen, dtype=torch.float64)
    M = M / M.norm(dim=0, keepdim=True)
    return SparseCodingProblem(MatrixOperator(M.to(dtype)), float(p), snr_db)


def oracle_least_squares(A: torch.Tensor, y: torch.Tensor, x_true: torch.Tensor) -> torch.Tensor:
    """Least-squares estimate restricted to the true support of each sample (the NMSE floor).

    Parameters
    ----------
    A : Tensor ``(m, n)``; y : Tensor ``(B, m)``; x_true : Tensor ``(B, n)``.
    """
    if y.ndim != 2 or x_true.shape != (y.shape[0], A.shape[1]) or y.shape[1] != A.shape[0]:
        raise ShapeError(
            f"expected A (m, n), y (B, m), x_true (B, n); got {tuple(A.shape)}, {tuple(y.shape)}, {tuple(x_true.shape)}"
        )
    out = torch.zeros_like(x_true)
    for b in range(y.shape[0]):
        idx = torch.nonzero(x_true[b]).squeeze(1)
        if idx.numel():
            sol = torch.linalg.lstsq(A[:, idx].double(), y[b].double().unsqueeze(1)).solution
            out[b, idx] = sol.squeeze(1).to(out.dtype)
    return out
