"""Training figures: loss curve and validation NMSE (dB) of a learned scheme."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

__all__ = ["plot_training"]


def _get(history: Any, name: str) -> Sequence[float]:
    return history[name] if isinstance(history, Mapping) else getattr(history, name)


def plot_training(
    history: Any,
    *,
    reference_db: Mapping[str, float] | None = None,
    smooth: int = 1,
    title: str | None = None,
) -> plt.Figure:
    """Two panels: training loss per step (log scale) and validation NMSE in dB.

    Parameters
    ----------
    history : TrainingHistory or mapping
        Anything with ``steps``, ``train_loss``, ``val_steps`` and ``val_nmse_db`` (as attributes
        or keys), e.g. :class:`geolearn.learned.TrainingHistory` or its ``to_dict()``.
    reference_db : mapping of str to float, optional
        Horizontal reference lines on the NMSE panel (e.g. ``{"ISTA, 16 it.": -12.3}``).
    smooth : int
        Moving-average window for the loss curve (1: raw).
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    steps = np.asarray(_get(history, "steps"), dtype=float)
    loss = np.asarray(_get(history, "train_loss"), dtype=float)
    if smooth > 1 and loss.size >= smooth:
        loss = np.convolve(loss, np.ones(smooth) / smooth, mode="valid")
        steps = steps[smooth - 1 :]
    fig, (ax_loss, ax_val) = plt.subplots(1, 2, figsize=(10, 3.6), constrained_layout=True)
    ax_loss.plot(steps, loss, lw=1.2)
    ax_loss.set_yscale("log")
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("training loss (MSE)")
    ax_loss.grid(True, which="both", alpha=0.3)
    ax_val.plot(_get(history, "val_steps"), _get(history, "val_nmse_db"), "o-", ms=3, label="validation")
    for i, (label, value) in enumerate((reference_db or {}).items()):
        ax_val.axhline(value, ls="--", lw=1, color=f"C{i + 1}", label=label)
    ax_val.set_xlabel("step")
    ax_val.set_ylabel("NMSE (dB)")
    ax_val.grid(True, alpha=0.3)
    ax_val.legend()
    if title:
        fig.suptitle(title)
    return fig
