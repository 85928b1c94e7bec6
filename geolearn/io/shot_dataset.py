"""A :class:`torch.utils.data.Dataset` view of a survey's shots (for data loaders)."""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import Dataset

__all__ = ["ShotDataset"]


class ShotDataset(Dataset):
    """Shots of a :class:`~geolearn.io.Survey` as a :class:`torch.utils.data.Dataset`.

    ``dataset[i]`` is a dict with ``"data"`` (tensor (n_receivers, nt)), ``"source"`` (tensor (3,)),
    ``"receivers"`` (tensor (n_receivers, 3)) — positions x, y, elevation in metres, elevation positive
    up — ``"t0"``, ``"dt"`` (seconds) and ``"shot_id"``. Shots with different receiver counts cannot be
    stacked by the default collate; use ``batch_size=1`` or a custom ``collate_fn`` then.
    """

    def __init__(self, survey: Any, dtype: Any = None) -> None:
        self.survey = survey
        self.dtype = dtype if dtype is not None else torch.float32

    def __len__(self) -> int:
        return len(self.survey)

    def __getitem__(self, i: int) -> dict[str, Any]:
        shot = self.survey[i]
        return {
            "data": torch.as_tensor(shot.data).to(self.dtype),
            "source": torch.as_tensor(shot.source).to(self.dtype),
            "receivers": torch.as_tensor(shot.receivers).to(self.dtype),
            "t0": shot.t0,
            "dt": shot.dt,
            "shot_id": shot.shot_id,
        }
