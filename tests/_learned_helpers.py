"""Shared fixtures-free helpers for the learned-scheme tests (small problems, float64)."""

from __future__ import annotations

import pytest
import torch

from geolearn.learned.sparse import make_sparse_coding
from geolearn.operators import LinearOperator


class ImageToRecords(LinearOperator):
    """A Born-shaped test operator: image ``(nx, nz)`` to records ``(n_shots, n_rec, nt)``."""

    def __init__(self, domain=(6, 5), range_=(2, 3, 7), seed: int = 0, dtype=torch.float64):
        super().__init__(domain, range_, dtype=dtype)
        gen = torch.Generator().manual_seed(seed)
        m, n = self.shape
        self.matrix = torch.randn((m, n), generator=gen, dtype=dtype) / m**0.5

    def _forward(self, x):
        return (x.reshape(x.shape[0], -1) @ self.matrix.T).reshape(x.shape[0], *self.range_shape)

    def _adjoint(self, y):
        return (y.reshape(y.shape[0], -1) @ self.matrix).reshape(y.shape[0], *self.domain_shape)


def small_problem(m: int = 30, n: int = 60, seed: int = 0, p: float = 0.1, snr_db: float | None = 40.0):
    """A float64 sparse-coding problem, its exact ``L = ‖A‖₂²`` and 16 samples."""
    prob = make_sparse_coding(m, n, p=p, snr_db=snr_db, seed=seed, dtype=torch.float64)
    L = float(torch.linalg.matrix_norm(prob.A.matrix, ord=2)) ** 2
    y, x = prob.sample(16, seed + 1)
    return prob, L, y, x


@pytest.fixture(autouse=True, scope="module")
def single_thread():
    """Run each learned-scheme test module on one intra-op thread, then restore the setting.

    Their tensors are tiny; on a shared 2-core machine OpenMP threads spin against other
    processes and make small ops 10-100x slower.
    """
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
