"""The demonstration behind ``geolearn demo`` / ``make demo``.

``sparse`` solves a sparse-recovery (LASSO) problem with ISTA and FISTA on a random Gaussian
operator and plots their convergence; it needs nothing but torch and runs in seconds.
``seismic`` (the default) is the survey reconstruction described in the README: a cropped,
resampled Marmousi, a synthetic SEG-Y survey, RTM, LSRTM and a few FWI iterations
(``GEOLEARN_FAST=1`` shrinks it to seconds).
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from geolearn.operators import MatrixOperator
from geolearn.settings import fast_mode
from geolearn.solvers import fista, ista
from geolearn.viz.convergence import plot_convergence, save_figure

__all__ = ["run_demo", "sparse_recovery_demo"]

log = logging.getLogger("geolearn.cli.demo_sparse")


def sparse_recovery_demo(
    output: str | Path,
    *,
    n_measurements: int = 100,
    n_unknowns: int = 250,
    sparsity: float = 0.05,
    lam: float = 0.05,
    max_iter: int = 2000,
    seed: int = 0,
    progress: bool = True,
) -> str:
    """Recover a sparse vector from ``y = A x + noise`` with ISTA and FISTA.

    Parameters
    ----------
    output : str or Path
        Directory; ``sparse_convergence.png`` is written there.
    n_measurements, n_unknowns : int
        Shape of the Gaussian matrix ``A`` (columns scaled to unit norm).
    sparsity : float
        Fraction of non-zero entries in the true ``x``.
    lam : float
        LASSO weight ``λ`` in ``½‖Ax − y‖² + λ‖x‖₁``.
    max_iter : int
        Iteration cap of both solvers.
    seed : int
        Seed of the problem draw.
    progress : bool
        Show progress bars.

    Returns
    -------
    str
        A summary: final objectives, iteration counts and recovery errors.
    """
    output = Path(output)
    gen = torch.Generator().manual_seed(seed)
    A = torch.randn(n_measurements, n_unknowns, generator=gen, dtype=torch.float64)
    A /= A.norm(dim=0, keepdim=True)
    x_true = torch.randn(n_unknowns, generator=gen, dtype=torch.float64)
    x_true *= torch.rand(n_unknowns, generator=gen, dtype=torch.float64) < sparsity
    y = A @ x_true + 0.01 * torch.randn(n_measurements, generator=gen, dtype=torch.float64)
    op = MatrixOperator(A)
    results = {
        name: solver(op, y, lam, max_iter=max_iter, tol=1e-9, stop="residual", progress=progress)
        for name, solver in (("ISTA", ista), ("FISTA", fista))
    }
    best = min(min(r.history.objective) for r in results.values())
    gaps = {name: [max(v - best, 1e-16) for v in r.history.objective] for name, r in results.items()}
    fig = plot_convergence(gaps, ylabel="objective − best objective", title="LASSO: ISTA vs FISTA")
    path = save_figure(fig, output / "sparse_convergence.png")
    lines = ["Sparse recovery (LASSO), ISTA vs FISTA:"]
    for name, r in results.items():
        err = float((r.x - x_true).norm() / x_true.norm())
        to_gap = next((k + 1 for k, g in enumerate(gaps[name]) if g <= 1e-6 * best), r.n_iter)
        lines.append(
            f"  {name:5s}: final objective {r.history.objective[-1]:.8f}; {to_gap} iterations to a "
            f"relative objective gap of 1e-6; relative error to the true x {err:.3f}"
        )
    lines.append(f"  convergence plot: {path}")
    return "\n".join(lines)


def run_demo(output: str | Path, *, kind: str = "seismic", progress: bool = True) -> str:
    """Run the demo named ``kind`` (``"seismic"``, ``"field"`` or ``"sparse"``) into ``output``; return its summary."""
    if kind == "sparse":
        return sparse_recovery_demo(output, progress=progress)
    if kind == "seismic":
        from geolearn.cli.demo_seismic import seismic_demo

        return seismic_demo(output, progress=progress, fast=fast_mode())
    if kind == "field":
        from geolearn.cli.demo_field import field_demo

        return field_demo(output, progress=progress, fast=fast_mode())
    raise ValueError(f"unknown demo kind {kind!r}; valid: 'seismic', 'field', 'sparse'")
