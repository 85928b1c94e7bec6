"""Sparsifying transforms for LSRTM: the orthonormal 2D discrete cosine transform as a LinearOperator."""

from __future__ import annotations

import numpy as np
import torch

from geolearn.errors import ShapeError
from geolearn.operators import LinearOperator

__all__ = ["DCT2", "dct_matrix"]


def dct_matrix(n: int) -> np.ndarray:
    """Orthonormal DCT-II matrix ``C`` (``n x n``, ``C Cᵀ = I``): row ``k`` is cosine ``k``."""
    k = np.arange(n)[:, None]
    j = np.arange(n)[None, :]
    c = np.cos(np.pi * (2 * j + 1) * k / (2 * n)) * np.sqrt(2.0 / n)
    c[0] /= np.sqrt(2.0)
    return c


class DCT2(LinearOperator):
    """Inverse (synthesis) orthonormal 2D DCT: coefficients ``(nx, nz)`` to an image ``(nx, nz)``.

    ``forward(z) = Cxᵀ z Cz``; the adjoint is the analysis transform ``Cx x Czᵀ`` and, the
    transform being orthonormal, also the inverse. Layered images are sparse in it (a flat
    reflector is a few vertical cosines with the lateral DC term).

    Parameters
    ----------
    shape : (int, int)
        Image shape ``(nx, nz)``.
    dtype : torch.dtype, optional
    """

    def __init__(self, shape: tuple[int, int], *, dtype: torch.dtype | None = None) -> None:
        if len(shape) != 2 or min(shape) < 1:
            raise ShapeError(f"DCT2 needs a 2D shape (nx, nz) with positive sizes, got {shape}")
        super().__init__(tuple(shape), tuple(shape), dtype=dtype)
        self.cx = torch.as_tensor(dct_matrix(shape[0]), dtype=self.dtype)
        self.cz = torch.as_tensor(dct_matrix(shape[1]), dtype=self.dtype)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cx.T @ x @ self.cz

    def _adjoint(self, y: torch.Tensor) -> torch.Tensor:
        return self.cx @ y @ self.cz.T
