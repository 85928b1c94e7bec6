"""Figures of velocity models, migrated images and single shot records (depth/time downwards)."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

__all__ = ["plot_image", "plot_model", "plot_shot"]


def _np(a: np.ndarray | torch.Tensor) -> np.ndarray:
    return a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)


def _extent(shape: Sequence[int], spacing: Sequence[float], origin: Sequence[float] | None) -> list[float]:
    ox, oz = (origin[0], origin[-1]) if origin is not None else (0.0, 0.0)
    return [ox, ox + spacing[0] * (shape[0] - 1), oz + spacing[-1] * (shape[-1] - 1), oz]


def plot_model(
    vp: np.ndarray | torch.Tensor,
    spacing: Sequence[float],
    origin: Sequence[float] | None = None,
    *,
    ax: plt.Axes | None = None,
    cmap: str = "jet",
    title: str = "Velocity (m/s)",
    sources: np.ndarray | None = None,
    receivers: np.ndarray | None = None,
) -> plt.Figure:
    """Plot a 2D velocity model ``(nx, nz)`` in m/s, x across and depth downwards, axes in metres.

    ``sources`` / ``receivers`` (``(n, 2)`` metres) are overlaid when given.
    """
    v = _np(vp)
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(8, 4))
    im = ax.imshow(v.T, extent=_extent(v.shape, spacing, origin), cmap=cmap, aspect="auto")
    if receivers is not None:
        ax.plot(receivers[:, 0], receivers[:, -1], "v", color="w", ms=3, label="receivers")
    if sources is not None:
        ax.plot(sources[:, 0], sources[:, -1], "*", color="r", ms=9, label="sources")
    ax.set(xlabel="x (m)", ylabel="depth (m)", title=title)
    fig.colorbar(im, ax=ax, label="m/s")
    return fig


def plot_image(
    image: np.ndarray | torch.Tensor,
    spacing: Sequence[float],
    origin: Sequence[float] | None = None,
    *,
    ax: plt.Axes | None = None,
    clip: float = 0.98,
    title: str = "Image",
) -> plt.Figure:
    """Plot a 2D image ``(nx, nz)`` (e.g. RTM) in grey, symmetric clip at the ``clip`` quantile.

    The image is shown as given: filter it first if wanted, e.g. with
    :func:`geolearn.imaging.laplacian_filter` against RTM's low-wavenumber backscatter.
    """
    img = _np(image).astype(np.float64)
    vmax = float(np.quantile(np.abs(img), clip)) or 1.0
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(8, 4))
    ax.imshow(
        img.T, extent=_extent(img.shape, spacing, origin), cmap="gray", vmin=-vmax, vmax=vmax, aspect="auto"
    )
    ax.set(xlabel="x (m)", ylabel="depth (m)", title=title)
    return fig


def plot_shot(
    record: np.ndarray | torch.Tensor,
    dt: float,
    offsets: np.ndarray | None = None,
    *,
    ax: plt.Axes | None = None,
    clip: float = 0.98,
    title: str = "Shot record",
) -> plt.Figure:
    """Plot one shot record ``(n_receivers, nt)`` (time last), time in seconds downwards.

    ``offsets`` (m) label the horizontal axis; receiver index otherwise.
    """
    d = _np(record)
    nrec, nt = d.shape
    x0, x1 = (float(offsets[0]), float(offsets[-1])) if offsets is not None else (0.0, float(nrec - 1))
    vmax = float(np.quantile(np.abs(d), clip)) or 1.0
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(6, 6))
    ax.imshow(d.T, extent=[x0, x1, dt * (nt - 1), 0.0], cmap="gray", vmin=-vmax, vmax=vmax, aspect="auto")
    ax.set(xlabel="x (m)" if offsets is not None else "receiver", ylabel="time (s)", title=title)
    return fig
