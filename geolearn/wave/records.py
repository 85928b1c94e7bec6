"""Shot records with a possibly different receiver count per shot."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch

from geolearn.errors import ShapeError

__all__ = ["ShotRecords"]


class ShotRecords:
    """A list of shot gathers, shot ``i`` of shape ``(n_receivers[i], nt)`` (time last).

    Operators that need one fixed-shape tensor use :meth:`padded`: receivers are padded
    with zero traces up to the largest count, giving ``(n_shots, max_receivers, nt)``. The
    adjoint of zero-padding is restriction (dropping the padded traces), which is what
    :meth:`from_padded` does, so dot tests through padded tensors stay exact.

    Parameters
    ----------
    gathers : sequence of torch.Tensor
        One ``(n_receivers_i, nt)`` tensor per shot; all share ``nt``, dtype and device.
    """

    def __init__(self, gathers: Sequence[torch.Tensor]) -> None:
        gathers = list(gathers)
        if not gathers:
            raise ShapeError("ShotRecords needs at least one gather")
        nt = gathers[0].shape[-1]
        for i, g in enumerate(gathers):
            if g.ndim != 2 or g.shape[-1] != nt:
                raise ShapeError(f"gather {i} has shape {tuple(g.shape)}; expected (n_receivers, {nt})")
        self.gathers = gathers

    @property
    def nt(self) -> int:
        return int(self.gathers[0].shape[-1])

    @property
    def n_receivers(self) -> list[int]:
        return [int(g.shape[0]) for g in self.gathers]

    def __len__(self) -> int:
        return len(self.gathers)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.gathers[i]

    def __iter__(self) -> Iterator[torch.Tensor]:
        return iter(self.gathers)

    def padded(self) -> torch.Tensor:
        """Zero-padded tensor ``(n_shots, max_receivers, nt)``."""
        out = self.gathers[0].new_zeros(len(self), max(self.n_receivers), self.nt)
        for i, g in enumerate(self.gathers):
            out[i, : g.shape[0]] = g
        return out

    @classmethod
    def from_padded(cls, data: torch.Tensor, n_receivers: Sequence[int]) -> ShotRecords:
        """Restrict a padded ``(n_shots, max_receivers, nt)`` tensor to the real receivers."""
        if data.ndim != 3 or data.shape[0] != len(n_receivers) or data.shape[1] < max(n_receivers):
            raise ShapeError(
                f"padded records have shape {tuple(data.shape)}; expected ({len(n_receivers)}, "
                f">= {max(n_receivers)}, nt)"
            )
        return cls([data[i, :n] for i, n in enumerate(n_receivers)])

    def to(self, *args: object, **kwargs: object) -> ShotRecords:
        """Move/convert every gather (same arguments as :meth:`torch.Tensor.to`)."""
        return ShotRecords([g.to(*args, **kwargs) for g in self.gathers])

    def __repr__(self) -> str:
        return f"ShotRecords(n_shots={len(self)}, n_receivers={self.n_receivers}, nt={self.nt})"
