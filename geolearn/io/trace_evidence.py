"""What the samples say about each trace: dead, non-finite, reversed polarity.

These checks look at one shot gather at a time, so a survey is scanned with one pass over its
traces (:func:`scan_shots`); :mod:`geolearn.processing` uses the same detectors on arrays.

A reversed-polarity trace is recognised by its neighbours: along a shot gather, arrivals move by at
most a few samples from one receiver to the next, so a trace's cross-correlation with each of its
nearest live neighbours (within a lag of ``max_lag`` seconds per receiver) peaks at a large
*positive* value. A trace whose coherent neighbours' peaks are mostly negative was recorded with
its polarity reversed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from geolearn.errors import ConfigError, ShapeError

__all__ = ["dead_traces", "nonfinite_traces", "reversed_traces", "scan_shots"]

_MIN_SAMPLES = 32
_VOTING_COHERENCE = 0.3


def _gather(data: np.ndarray) -> np.ndarray:
    data = np.asarray(data)
    if data.ndim != 2:
        raise ShapeError(f"a shot gather must be (n_receivers, nt); got shape {data.shape}")
    return data


def dead_traces(data: np.ndarray) -> np.ndarray:
    """Traces whose samples are all zero, shape (n_receivers,) of bool, for a gather (n_receivers, nt)."""
    return ~np.any(_gather(data) != 0, axis=1)


def nonfinite_traces(data: np.ndarray) -> np.ndarray:
    """Traces holding a NaN or an infinity, shape (n_receivers,) of bool."""
    return ~np.all(np.isfinite(_gather(data)), axis=1)


def _peak_correlations(data: np.ndarray, k: int, max_lag: int) -> np.ndarray:
    """Signed peak of the normalised cross-correlation between traces i and i + k, shape (n - k,)."""
    n, nt = data.shape
    spectra = np.fft.rfft(data, n=2 * nt, axis=1)
    corr = np.fft.irfft(spectra[:-k] * np.conj(spectra[k:]), n=2 * nt, axis=1)
    lags = np.r_[0 : max_lag + 1, 2 * nt - max_lag : 2 * nt]
    window = corr[:, lags]
    norms = np.linalg.norm(data, axis=1)
    scale = norms[:-k] * norms[k:]
    peak = window[np.arange(n - k), np.argmax(np.abs(window), axis=1)]
    return np.divide(peak, scale, out=np.zeros(n - k), where=scale > 0)


def reversed_traces(
    data: np.ndarray,
    dt: float,
    *,
    max_lag: float = 0.02,
    neighbours: int = 2,
    min_coherence: float = 0.6,
) -> np.ndarray:
    """Traces of a shot gather that are anti-correlated with their neighbours (reversed polarity).

    Each pair of live traces up to ``neighbours`` receivers apart whose peak correlation is coherent
    (``|c| >= 0.3``) casts a vote: the sign of ``c``. A trace with at least two such votes
    whose mean is -0.5 or lower is taken as reversed, the most negative first, and the votes it casts
    change sign before the next is chosen (every flip raises the gather's total agreement, so this
    ends). Lone reversed traces and adjacent pairs are found; longer reversed runs are not (their
    members agree with each other).

    Parameters
    ----------
    data : numpy.ndarray, shape (n_receivers, nt)
        One shot gather, receivers in acquisition order, time last.
    dt : float
        Sample interval, seconds.
    max_lag : float
        Largest moveout (seconds) between neighbouring receivers; ``k`` receivers apart the search
        extends to ``k * max_lag``, never beyond an eighth of the trace. 0.02 s covers
        water-velocity arrivals 25 m apart.
    neighbours : int
        How many receivers on each side are compared.
    min_coherence : float
        Mean absolute peak correlation (0..1) a trace needs with its adjacent live traces to be
        judged at all: a reversed trace is as alike its neighbours as any, only with the opposite
        sign. Pairs vote when their absolute peak reaches 0.3 (noise stays near 0.1); traces shorter
        than 32 samples are not judged.

    Returns
    -------
    numpy.ndarray of bool, shape (n_receivers,)
    """
    data = np.nan_to_num(np.asarray(_gather(data), dtype=np.float64))
    if not dt > 0 or not max_lag >= 0 or neighbours < 1:
        raise ConfigError(f"need dt > 0, max_lag >= 0 and neighbours >= 1; got {dt}, {max_lag}, {neighbours}")
    n, nt = data.shape
    flipped = np.zeros(n, dtype=bool)
    if nt < _MIN_SAMPLES:  # too short for a correlation to mean anything
        return flipped
    live = ~dead_traces(data)
    pairs = []  # (i, j, sign of the coherent peak correlation)
    adjacent = np.zeros(n)  # mean |peak| with the nearest live neighbours
    for k in range(1, min(neighbours, n - 1) + 1):
        peaks = _peak_correlations(data, k, min(int(np.ceil(k * max_lag / dt)), nt // 8))
        keep = live[:-k] & live[k:] & (np.abs(peaks) >= _VOTING_COHERENCE)
        i = np.flatnonzero(keep)
        pairs.append(np.column_stack([i, i + k, np.sign(peaks[keep])]))
        if k == 1:
            pair_live = live[:-1] & live[1:]
            strength = np.abs(peaks) * pair_live
            sides = np.r_[pair_live, False].astype(int) + np.r_[False, pair_live]
            adjacent = np.divide(
                np.r_[strength, 0] + np.r_[0, strength], sides, out=adjacent, where=sides > 0
            )
    i, j, vote = np.vstack(pairs).T if pairs else np.zeros((3, 0))
    i, j = i.astype(int), j.astype(int)
    count = np.bincount(i, minlength=n) + np.bincount(j, minlength=n)
    count[adjacent < min_coherence] = 0  # too unlike its neighbours to judge
    while True:
        agree = vote * np.where(flipped[i] == flipped[j], 1.0, -1.0)
        total = np.bincount(i, agree, minlength=n) + np.bincount(j, agree, minlength=n)
        mean = np.divide(total, count, out=np.zeros(n), where=count >= 2)
        worst = int(np.argmin(mean))
        if mean[worst] > -0.5:
            return flipped
        flipped[worst] = ~flipped[worst]


def scan_shots(
    file: Any, shot_traces: Sequence[np.ndarray], *, progress: bool = False
) -> dict[str, np.ndarray]:
    """Decode every shot once and classify its traces.

    Parameters
    ----------
    file : geolearn.io.SegyFile
    shot_traces : sequence of numpy.ndarray of int
        File trace indices of each shot, receivers in acquisition order.
    progress : bool
        Show a tqdm bar over shots.

    Returns
    -------
    dict of str to numpy.ndarray of bool, shape (n_traces,)
        ``"dead"`` (all samples zero), ``"nonfinite"`` (a NaN or infinity), ``"reversed"``
        (anti-correlated with its shot neighbours), indexed by file trace.
    """
    masks = {name: np.zeros(file.n_traces, dtype=bool) for name in ("dead", "nonfinite", "reversed")}
    for idx in tqdm(shot_traces, desc="scanning samples", unit="shot", disable=not progress):
        data = file.traces(idx, np.float64)
        masks["nonfinite"][idx] = nonfinite_traces(data)
        data[masks["nonfinite"][idx]] = 0.0
        masks["dead"][idx] = dead_traces(data)
        masks["reversed"][idx] = reversed_traces(data, file.dt)
    return masks
