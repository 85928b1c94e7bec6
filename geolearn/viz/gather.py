"""Shot-gather figures: samples against time, as an image or as wiggle traces."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

from geolearn.errors import ConfigError, ShapeError

__all__ = ["plot_gather"]


def plot_gather(
    data: np.ndarray,
    *,
    dt: float | None = None,
    t0: float = 0.0,
    time: Sequence[float] | None = None,
    positions: Sequence[float] | None = None,
    mode: str = "image",
    clip: float = 99.0,
    scale: float | None = None,
    title: str | None = None,
    ax: plt.Axes | None = None,
) -> plt.Figure:
    """Plot one gather with time increasing downwards.

    Parameters
    ----------
    data : array-like, shape (n_receivers, nt)
        Samples, time last (a torch tensor is accepted).
    dt, t0 : float, optional
        Sample interval and first-sample time in seconds (ignored when ``time`` is given).
    time : sequence of float, optional
        Sample times in seconds, length nt. Sample index is used when neither ``time`` nor ``dt`` is given.
    positions : sequence of float, optional
        Receiver x positions (metres) or offsets, length n_receivers; trace index when omitted.
        Must be increasing for ``mode="image"``; wiggles accept any order.
    mode : {'image', 'wiggle'}
    clip : float
        Percentile of |data| mapped to full colour scale / one trace spacing of deflection.
    scale : float, optional
        That amplitude given explicitly instead of ``clip`` (the same for several gathers, e.g.
        raw and processed side by side, so that their amplitudes compare).
    title : str, optional
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    data = np.asarray(getattr(data, "detach", lambda: data)(), dtype=np.float64)
    if data.ndim != 2 or 0 in data.shape:
        raise ShapeError(f"a gather must be (n_receivers, nt) with both > 0, got shape {data.shape}")
    if mode not in ("image", "wiggle"):
        raise ConfigError(f"mode must be 'image' or 'wiggle', got {mode!r}")
    n_rec, nt = data.shape
    if time is not None:
        t, tlabel = np.asarray(time, dtype=np.float64), "time (s)"
    elif dt is not None:
        t, tlabel = t0 + dt * np.arange(nt), "time (s)"
    else:
        t, tlabel = np.arange(nt, dtype=np.float64), "sample"
    x = np.arange(n_rec, dtype=np.float64) if positions is None else np.asarray(positions, dtype=np.float64)
    if t.shape != (nt,) or x.shape != (n_rec,):
        raise ShapeError(f"time axis {t.shape} and positions {x.shape} must match data {data.shape}")
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 5), constrained_layout=True)
    else:
        fig = ax.figure
    if scale is None:
        finite = np.abs(data[np.isfinite(data)])
        scale = float(np.percentile(finite, clip)) if finite.size else 1.0
    elif not (np.isfinite(scale) and scale > 0):
        raise ConfigError(f"scale must be a positive amplitude, got {scale!r}")
    scale = scale if scale > 0 else 1.0
    if mode == "image":
        half_dx = 0.5 * (x[-1] - x[0]) / max(n_rec - 1, 1) if n_rec > 1 else 0.5
        half_dt = 0.5 * (t[-1] - t[0]) / max(nt - 1, 1) if nt > 1 else 0.5
        im = ax.imshow(
            data.T,
            aspect="auto",
            cmap="gray",
            vmin=-scale,
            vmax=scale,
            extent=(x[0] - half_dx, x[-1] + half_dx, t[-1] + half_dt, t[0] - half_dt),
            interpolation="nearest",
        )
        fig.colorbar(im, ax=ax, label="amplitude")
    else:
        spacing = np.median(np.abs(np.diff(x))) if n_rec > 1 else 1.0
        spacing = spacing if spacing > 0 else 1.0
        for xi, trace in zip(x, data):
            wiggle = xi + np.clip(trace / scale, -1, 1) * spacing * 0.9
            ax.plot(wiggle, t, color="k", lw=0.5)
            ax.fill_betweenx(t, xi, wiggle, where=wiggle > xi, color="k", lw=0)
        ax.set_ylim(t[-1], t[0])
    ax.set_xlabel("receiver position (m)" if positions is not None else "trace")
    ax.set_ylabel(tlabel)
    if title:
        ax.set_title(title)
    return fig
