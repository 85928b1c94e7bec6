"""Convergence figures: objective or error against iteration (or cost) for several methods."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from geolearn.atomic import atomic_path

__all__ = ["plot_convergence", "save_figure"]


def plot_convergence(
    curves: Mapping[str, Sequence[float]],
    *,
    xlabel: str = "iteration",
    ylabel: str = "objective",
    logy: bool = True,
    x: Mapping[str, Sequence[float]] | None = None,
    title: str | None = None,
    ax: plt.Axes | None = None,
) -> plt.Figure:
    """Plot one curve per method.

    Parameters
    ----------
    curves : mapping of str to sequence of float
        Method label to values per iteration (e.g. objective or relative model error).
    xlabel, ylabel : str
        Axis labels.
    logy : bool
        Logarithmic y axis (for positive values such as objective gaps).
    x : mapping of str to sequence of float, optional
        Abscissae per method (e.g. cumulative number of wave-equation solves); iteration
        index 1, 2, ... when omitted.
    title : str, optional
        Figure title.
    ax : matplotlib Axes, optional
        Axes to draw into; a new figure is created when omitted.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 4), constrained_layout=True)
    else:
        fig = ax.figure
    for label, values in curves.items():
        values = np.asarray(values, dtype=float)
        xs = np.asarray(x[label], dtype=float) if x is not None else np.arange(1, values.size + 1)
        ax.plot(xs, values, label=label, lw=1.5)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    return fig


def save_figure(fig: plt.Figure, path: str | Path, *, dpi: int = 120) -> Path:
    """Save ``fig`` atomically and close it (also when saving fails).

    Parameters
    ----------
    fig : matplotlib Figure
    path : str or Path
        Destination; its suffix picks the format (``.png``, ``.pdf``, ``.svg``, ...). Missing
        parent directories are created. Written through :func:`geolearn.atomic.atomic_path`
        (temporary file, fsync, rename): a reader never sees a half-written figure, and a
        failed save leaves neither a temporary file nor a changed ``path``.
    dpi : int
        Resolution of raster formats.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with atomic_path(path) as tmp:
            # The temporary name ends in .tmp: name the format, or matplotlib would guess from it.
            fig.savefig(tmp, dpi=dpi, format=path.suffix.lstrip(".") or "png")
    finally:
        plt.close(fig)
    return path
