"""Spectral norm of a LinearOperator by power iteration on ``AᵀA``."""

from __future__ import annotations

import logging
import math

import torch

from geolearn.operators.base import LinearOperator

__all__ = ["operator_norm"]

logger = logging.getLogger("geolearn.operators.norm")


def operator_norm(A: LinearOperator, *, tol: float = 1e-6, max_iter: int = 200, seed: int = 0) -> float:
    """Estimate ``‖A‖₂`` (largest singular value) by power iteration on ``AᵀA``.

    Parameters
    ----------
    A : LinearOperator
        Any operator; only ``A`` and ``Aᵀ`` are applied (two applications per iteration).
    tol : float, default 1e-6
        Stop when the estimate of ``‖A‖₂²`` changes by less than ``tol`` relative to itself.
    max_iter : int, default 200
        Iteration cap; reaching it logs a warning and returns the current estimate.
    seed : int, default 0
        Seed of the random (Gaussian) starting vector.

    Returns
    -------
    float
        The estimate of ``‖A‖₂``. Power iteration approaches it from below; the relative error
        of the returned value is about ``tol / 2`` once the estimate has settled.
    """
    if not tol > 0:
        raise ValueError(f"tol must be positive, got {tol}")
    if int(max_iter) < 1:
        raise ValueError(f"max_iter must be a positive integer, got {max_iter}")
    gen = torch.Generator().manual_seed(int(seed))
    x = torch.randn(A.domain_shape, generator=gen, dtype=torch.float64).to(A.dtype).to(A.device)
    x = x / torch.linalg.vector_norm(x)
    estimate = 0.0
    with torch.no_grad():
        for k in range(1, int(max_iter) + 1):
            z = A.adjoint(A.apply(x))
            # Rayleigh quotient xᵀAᵀAx for the unit vector x.
            new = float(torch.sum(x * z))
            nz = float(torch.linalg.vector_norm(z))
            if nz == 0.0:
                return 0.0
            if not math.isfinite(nz):
                raise ValueError(
                    f"operator_norm: ‖AᵀAx‖ became {nz}; the operator produces non-finite values"
                )
            x = z / nz
            if abs(new - estimate) <= tol * abs(new):
                logger.debug("operator_norm converged in %d iterations", k)
                return math.sqrt(max(new, 0.0))
            estimate = new
    logger.warning(
        "operator_norm did not reach tol=%g in %d iterations; returning the estimate", tol, max_iter
    )
    return math.sqrt(max(estimate, 0.0))
