"""Trace editing: find dead and noisy traces of a shot gather.

Dead means every sample is zero (the same test :func:`geolearn.io.read_survey` reports with, from
:func:`geolearn.io.trace_evidence.dead_traces`). Noisy means an RMS amplitude far above the gather's typical one:
more than ``noisy`` times the median RMS of the live traces (a median, so a few bad traces do not
raise the bar they are judged by).
"""

from __future__ import annotations

import numpy as np

from geolearn.errors import ConfigError
from geolearn.io.trace_evidence import dead_traces
from geolearn.processing._checks import gather

__all__ = ["EDIT_ACTIONS", "edit_traces", "noisy_traces"]

#: What happens to an edited trace: dropped from the gather, or kept with zero samples.
EDIT_ACTIONS = ("drop", "zero")


def noisy_traces(data: np.ndarray, threshold: float = 5.0) -> np.ndarray:
    """Live traces whose RMS exceeds ``threshold`` times the median RMS of the live traces.

    Parameters
    ----------
    data : numpy.ndarray, shape (n_receivers, nt)
    threshold : float
        Ratio (> 1) to the median live-trace RMS.

    Returns
    -------
    numpy.ndarray of bool, shape (n_receivers,)
    """
    x = gather(data)
    if isinstance(threshold, bool) or not np.isfinite(threshold) or threshold <= 1:
        raise ConfigError(f"noisy threshold={threshold!r} must be a ratio > 1 to the median trace RMS")
    rms = np.sqrt(np.mean(x**2, axis=-1))
    live = rms > 0
    if not live.any():
        return np.zeros(len(x), dtype=bool)
    return live & (rms > threshold * np.median(rms[live]))


def edit_traces(
    data: np.ndarray, *, noisy: float | None = 5.0, action: str = "drop"
) -> tuple[np.ndarray, np.ndarray]:
    """Remove (or zero) dead traces and, unless ``noisy`` is None, noisy ones.

    Parameters
    ----------
    data : numpy.ndarray, shape (n_receivers, nt)
    noisy : float or None
        Threshold of :func:`noisy_traces`; None keeps every live trace.
    action : {'drop', 'zero'}
        'drop' returns only the kept traces (select the geometry with the mask); 'zero' keeps the
        shape and zeroes the edited traces.

    Returns
    -------
    data : numpy.ndarray of float64, shape (n_kept, nt) or (n_receivers, nt)
    keep : numpy.ndarray of bool, shape (n_receivers,)
        True for traces that were neither dead nor noisy.
    """
    x = gather(data)
    if action not in EDIT_ACTIONS:
        raise ConfigError(f"edit action={action!r} must be one of {EDIT_ACTIONS}")
    bad = dead_traces(x)
    if noisy is not None:
        bad |= noisy_traces(x, noisy)
    keep = ~bad
    if action == "drop":
        return x[keep], keep
    return np.where(keep[:, None], x, 0.0), keep
