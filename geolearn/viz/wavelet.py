"""Source-wavelet figures: the wavelets in time and their amplitude spectra."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np

from geolearn.errors import ShapeError

__all__ = ["plot_wavelets"]


def plot_wavelets(
    wavelets: Mapping[str, np.ndarray], dt: float, *, t0: float = 0.0, tmax: float | None = None,
    fmax: float | None = None, title: str | None = None,
) -> plt.Figure:  # fmt: skip
    """Wavelets against time (left) and their amplitude spectra in dB of each one's peak (right).

    Parameters
    ----------
    wavelets : mapping of str to array, each shape (nt,)
        Label to samples, all on one time axis.
    dt, t0 : float
        Sample interval and time of the first sample, seconds.
    tmax, fmax : float, optional
        Right ends of the time (s) and frequency (Hz) axes; default the whole axis.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    arrays = {k: np.asarray(v, dtype=np.float64) for k, v in wavelets.items()}
    if not arrays or any(a.ndim != 1 or a.size < 2 for a in arrays.values()):
        raise ShapeError(f"give one or more 1-D wavelets; got shapes {[a.shape for a in arrays.values()]}")
    fig, (ax_t, ax_f) = plt.subplots(1, 2, figsize=(11, 3.6), constrained_layout=True)
    for label, w in arrays.items():
        ax_t.plot(t0 + dt * np.arange(w.size), w, label=label, lw=1.2)
        n = 4 * w.size  # zero padding: a smooth spectrum
        spectrum = np.abs(np.fft.rfft(w, n=n))
        db = 20 * np.log10(np.maximum(spectrum / max(spectrum.max(), 1e-300), 1e-6))
        ax_f.plot(np.fft.rfftfreq(n, dt), db, label=label, lw=1.2)
    ax_t.set(xlabel="time (s)", ylabel="amplitude", title=title or "wavelets")
    ax_f.set(
        xlabel="frequency (Hz)", ylabel="amplitude (dB of peak)", ylim=(-60, 3), title="amplitude spectra"
    )
    if tmax is not None:
        ax_t.set_xlim(t0, tmax)
    if fmax is not None:
        ax_f.set_xlim(0, fmax)
    for ax in (ax_t, ax_f):
        ax.grid(alpha=0.3)
        ax.legend()
    return fig
