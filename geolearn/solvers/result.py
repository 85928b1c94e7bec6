"""Result and per-iteration history returned by the iterative solvers."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

__all__ = ["History", "SolverResult"]


@dataclass
class History:
    """Per-iteration records (one entry per iteration, summed or maximised over a batch).

    Attributes
    ----------
    objective, data, regularisation : list of float
        ``J``, ``½‖Ax − y‖²`` and ``λR`` at the iterate after each iteration, summed over problems.
    residual : list of float
        Fixed-point residual ``‖z − prox(z − γ∇f(z))‖`` (largest over problems) at the point
        the iteration linearised (``x_k`` for ISTA, the extrapolated point for FISTA). For CG it
        is the relative residual of the normal equations.
    relative_change : list of float
        ``‖x_{k+1} − x_k‖ / ‖x_{k+1}‖`` (largest over problems).
    time : list of float
        Seconds since the solver started.
    """

    objective: list[float] = field(default_factory=list)
    data: list[float] = field(default_factory=list)
    regularisation: list[float] = field(default_factory=list)
    residual: list[float] = field(default_factory=list)
    relative_change: list[float] = field(default_factory=list)
    time: list[float] = field(default_factory=list)

    def append(self, **values: float) -> None:
        for key, value in values.items():
            getattr(self, key).append(float(value))

    def last(self) -> dict[str, float]:
        """The latest entry of every record as a dict (for callbacks and logs)."""
        return {k: v[-1] for k, v in vars(self).items() if v}

    def __len__(self) -> int:
        return len(self.time)


@dataclass
class SolverResult:
    """What :func:`~geolearn.solvers.ista`, :func:`~geolearn.solvers.fista` and
    :func:`~geolearn.solvers.tikhonov_cg` return.

    Attributes
    ----------
    x : torch.Tensor
        Solution, ``(*batch, *A.domain_shape)``, detached.
    n_iter : int
        Iterations performed.
    converged : bool
        Whether the stopping test held for every problem before ``max_iter``.
    history : History
        Per-iteration records.
    step : float
        Step size used (``nan`` for CG).
    lipschitz : float
        ``L = ‖A‖₂²`` used for the step checks (``nan`` when not needed).
    """

    x: torch.Tensor
    n_iter: int
    converged: bool
    history: History
    step: float = float("nan")
    lipschitz: float = float("nan")
