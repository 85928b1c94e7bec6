"""Acquisition maps: where the sources and receivers of a survey are."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

from geolearn.errors import ShapeError

__all__ = ["plot_acquisition"]


def plot_acquisition(
    survey: Any = None,
    *,
    sources: np.ndarray | None = None,
    receivers: Sequence[np.ndarray] | None = None,
    shots: Sequence[int] | None = None,
    title: str | None = None,
    ax: plt.Axes | None = None,
) -> plt.Figure:
    """Map sources (stars) and receivers (dots) of a survey.

    A 3D survey (y varies) is drawn in map view (x, y). A 2D line is drawn as a stacking chart:
    x against shot number, one row per shot, which shows each shot's spread.

    Parameters
    ----------
    survey : object with ``source_positions`` (n_shots, >=2) and ``receiver_positions(i)`` (n_rec, >=2), optional
        E.g. :class:`geolearn.io.Survey`; positions in metres.
    sources : numpy.ndarray, shape (n_shots, >=2), optional
        Used instead of ``survey``: x, y(, ...) per shot.
    receivers : sequence of numpy.ndarray, shape (n_rec_i, >=2), optional
        One array per shot, used with ``sources``.
    shots : sequence of int, optional
        Shots to draw (all by default).
    title : str, optional
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    if survey is not None:
        sources = np.asarray(survey.source_positions, dtype=np.float64)
        receivers = [survey.receiver_positions(i) for i in range(len(sources))]
    if sources is None or receivers is None:
        raise ShapeError("give a survey, or both sources (n_shots, >=2) and receivers (one array per shot)")
    sources = np.asarray(sources, dtype=np.float64)
    receivers = [np.asarray(r, dtype=np.float64) for r in receivers]
    if sources.ndim != 2 or sources.shape[1] < 2 or len(receivers) != len(sources):
        raise ShapeError(
            f"sources must be (n_shots, >=2) with one receiver array per shot; got {sources.shape} and {len(receivers)}"
        )
    shots = list(range(len(sources))) if shots is None else list(shots)
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 4.5), constrained_layout=True)
    else:
        fig = ax.figure
    all_y = np.concatenate([sources[shots, 1], *[receivers[i][:, 1] for i in shots]])
    map_view = np.ptp(all_y) > 0
    for n, i in enumerate(shots):
        r = receivers[i]
        row_r = r[:, 1] if map_view else np.full(len(r), i)
        row_s = sources[i, 1] if map_view else i
        ax.scatter(r[:, 0], row_r, s=4, c="tab:blue", label="receivers" if n == 0 else None)
        ax.scatter(sources[i, 0], row_s, s=80, marker="*", c="tab:red", label="sources" if n == 0 else None)
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)" if map_view else "shot index")
    if not map_view:
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.invert_yaxis()
    ax.set_title(title or ("acquisition map" if map_view else "acquisition (stacking chart)"))
    ax.legend(loc="best")
    ax.grid(True, alpha=0.3)
    return fig
