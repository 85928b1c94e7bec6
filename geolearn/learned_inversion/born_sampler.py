"""Training batches drawn per step: a pool model, one of its backgrounds, a new experiment.

:class:`BornSampler` is the ``sample`` of :meth:`geolearn.learned.Trainer.fit` for networks that
take their physics at call time (``net(y, J)``): every step builds the Born operator of a new
experiment (a supershot or a shot subset of :class:`~geolearn.wave.SourceEncoding`) at a drawn
model's background and models that step's records with it. A step's backward runs before the
next draw, so every gradient uses its own step's operator; the previous operator's kept
background wavefields are freed when the next one is drawn.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from geolearn.errors import ConfigError, ShapeError
from geolearn.wave import BornOperator

__all__ = ["BornSampler", "add_relative_noise"]

#: Builds a step's operator from the drawn background ``(nx, nz)`` m/s and the Trainer's generator.
OperatorFactory = Callable[[torch.Tensor, torch.Generator], BornOperator]


def add_relative_noise(y: torch.Tensor, level: float, gen: torch.Generator) -> torch.Tensor:
    """``y + n`` with Gaussian ``n`` (drawn from ``gen``) scaled to ``‖n‖ = level · ‖y‖``."""
    n = torch.randn(y.shape, generator=gen, dtype=y.dtype)
    return y + level * y.norm() / n.norm() * n


class BornSampler:
    """Training batches ``(y, x, J)`` for :class:`~geolearn.learned.Trainer`, one per step.

    Each call draws, from the trainer's generator (so a resumed run draws the same), a pool
    model ``i``, one of its backgrounds ``v0`` (when the pool holds several per model), the
    operator ``J = operator(v0, gen)`` (which draws the step's experiment) and Gaussian noise:
    ``x = v_i − v0`` (m/s), ``y = J x + n`` with ``‖n‖ = noise · ‖J x‖``.

    Parameters
    ----------
    velocities : tensor ``(N, nx, nz)``
        Training truths, m/s.
    backgrounds : tensor ``(N, nx, nz)`` or ``(N, L, nx, nz)``
        Their migration backgrounds, m/s: one per model, or ``L`` of which each step draws one.
    operator : callable ``(v0, gen) -> BornOperator``
        The step's operator at background ``v0`` (e.g. on ``encoding.draw()``'s geometry, the
        encoding drawing with ``gen``).
    noise : float
        Relative noise level of the records, ``0 <= noise < 1``.
    dtype : torch.dtype
        Of the pool as the operators see it (their model's dtype).

    Attributes
    ----------
    current : BornOperator or None
        The last step's operator (kept until the next draw or :meth:`close`).
    applications, propagations : int
        J/Jᵀ applications and propagations of the operators replaced so far (:meth:`close`
        adds the current one's).
    """

    def __init__(
        self,
        velocities: torch.Tensor,
        backgrounds: torch.Tensor,
        operator: OperatorFactory,
        noise: float,
        *,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        v, v0 = torch.as_tensor(velocities, dtype=dtype), torch.as_tensor(backgrounds, dtype=dtype)
        if v.ndim != 3 or v0.ndim not in (3, 4) or v0.shape[0] != v.shape[0] or v0.shape[-2:] != v.shape[1:]:
            raise ShapeError(f"need velocities (N, nx, nz) and backgrounds (N, nx, nz) or (N, L, nx, nz); got "
                             f"{tuple(v.shape)} and {tuple(v0.shape)}")  # fmt: skip
        if not 0 <= noise < 1:
            raise ConfigError(f"noise must be in [0, 1) (relative to the records' norm), got {noise}")
        self.velocities = v
        self.backgrounds = v0 if v0.ndim == 4 else v0[:, None]
        self.operator, self.noise = operator, noise
        self.current: BornOperator | None = None
        self.applications = self.propagations = 0

    def __call__(
        self, batch_size: int, gen: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor, BornOperator]:
        self.close()
        n, lengths = self.backgrounds.shape[:2]
        i = int(torch.randint(n, (1,), generator=gen))
        k = int(torch.randint(lengths, (1,), generator=gen)) if lengths > 1 else 0
        v0 = self.backgrounds[i, k]
        J = self.current = self.operator(v0, gen)
        x = (self.velocities[i] - v0)[None]
        with torch.no_grad():
            y = J(x)
        return add_relative_noise(y, self.noise, gen), x, J

    def close(self) -> None:
        """Count the current operator's applications and propagations; free its kept backgrounds."""
        J, self.current = self.current, None
        if J is not None:
            self.applications += sum(J.applications.values())
            self.propagations += len(J.performance)
            J.background.clear()
