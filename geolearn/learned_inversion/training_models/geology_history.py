"""The structural history of one geological model: which events happened, in which order.

A :class:`History` restores present coordinates (m, ``z`` below the sea floor) to depositional
ones: the *young* events (salt drag, faults younger than the erosion, the young tilt and folds)
act on every point; points below the unconformity's erosion surface then go back through the
*old* events too (older faults, a steeper tilt and stronger folds), which is what makes the
erosion surface cut across their layers (an angular unconformity).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from geolearn.learned_inversion.training_models.geology_structures import (
    Fault,
    SaltBody,
    Unconformity,
    draw_fault,
    draw_fold,
    draw_salt,
    draw_unconformity,
)

__all__ = ["History", "draw_history"]


class _Event(Protocol):
    def restore(self, x: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...


@dataclass(frozen=True)
class History:
    """Structural events of one model, each sequence newest first.

    Attributes
    ----------
    young : tuple
        Events every point went through (objects with ``restore(x, z)``).
    unconformity : Unconformity or None
        The erosion surface separating the young and the old sequence.
    old : tuple
        Events only the points below the unconformity went through.
    faults : tuple of Fault
        All faults, newest first (young ones, then old ones).
    salt : SaltBody or None
    """

    young: tuple[_Event, ...]
    unconformity: Unconformity | None
    old: tuple[_Event, ...]
    faults: tuple[Fault, ...]
    salt: SaltBody | None

    def restore(self, x: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Depositional x (m), paleo-depth (m) and the below-unconformity mask of points ``(x, z)``."""
        for event in self.young:
            x, z = event.restore(x, z)
        if self.unconformity is None:
            return x, z, np.zeros(z.shape, dtype=bool)
        below = z >= self.unconformity.surface(x)
        x_old, z_old = x, z
        for event in self.old:
            x_old, z_old = event.restore(x_old, z_old)
        return np.where(below, x_old, x), np.where(below, z_old, z), below


def draw_history(
    rng: np.random.Generator,
    x: np.ndarray,
    height: float,
    dz: float,
    kinds: Sequence[str],
    *,
    max_dip_deg: float,
    fault_count: tuple[int, int],
    throw_m: tuple[float, float],
    salt_velocity: tuple[float, float],
) -> History:
    """Draw the events of one model from ``rng``.

    Parameters
    ----------
    x : ndarray, shape (nx,)
        Column positions, m.
    height : float
        Thickness of the rock section below the sea floor, m.
    dz : float
        Vertical grid spacing, m (the smallest salt-top roughness).
    kinds : sequence of str
        Structure kinds of this model (see :data:`geolearn.learned_inversion.training_models.geology.GEOLOGY_KINDS`).
    max_dip_deg, fault_count, throw_m, salt_velocity
        See :class:`geolearn.learned_inversion.training_models.geology.GeologyOptions`.
    """
    width = float(x[-1] - x[0])
    folded = "folds" in kinds
    unconformity = draw_unconformity(rng, width, height) if "unconformity" in kinds else None
    if unconformity is None:
        young_fold = draw_fold(rng, width, height, max_dip_deg=max_dip_deg, folded=folded)
        old: list[_Event] = []
    else:
        # Young layers dip gently; the old ones were tilted by 8° or more before the erosion, so
        # the erosion surface cuts across them at that angle.
        young_fold = draw_fold(rng, width, height, max_dip_deg=max_dip_deg / 3, folded=folded)
        steep = max(max_dip_deg, 12.0)
        old = [draw_fold(rng, width, height, max_dip_deg=steep, folded=folded, min_dip_deg=8.0)]
    young_faults: list[Fault] = []
    old_faults: list[Fault] = []
    if "faults" in kinds:
        for _ in range(int(rng.integers(fault_count[0], fault_count[1] + 1))):
            fault = draw_fault(rng, width, height, throw_m)
            # With an unconformity, half the faults are older than the erosion and stop at it.
            (old_faults if unconformity is not None and rng.uniform() < 0.5 else young_faults).append(fault)
    salt = draw_salt(rng, x - x[0], height, salt_velocity, dz) if "salt" in kinds else None
    young: list[_Event] = ([salt] if salt is not None else []) + young_faults + [young_fold]
    return History(tuple(young), unconformity, (*old_faults, *old), (*young_faults, *old_faults), salt)
