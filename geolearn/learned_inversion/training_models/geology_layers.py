"""Layer sequences of the geological model generator: which velocity contrast each paleo-depth has.

A sequence is a table of layer tops (paleo-depth, m, increasing) and layer contrasts (m/s,
relative to the compaction trend). Thicknesses are gamma-distributed around a mean; contrasts
are correlated from one layer to the next (an AR(1) series), as sedimentary cycles are. A
thin-bed package replaces part of the table by beds alternating around the local contrast.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["layer_table", "lookup", "sediment_contrast", "with_thin_beds"]


def layer_table(
    rng: np.random.Generator, lo: float, hi: float, mean_thickness: float, sigma: float, min_thickness: float
) -> tuple[np.ndarray, np.ndarray]:
    """Layer tops (m, increasing, the first at or above ``lo``) and contrasts (m/s) covering ``[lo, hi]``.

    Parameters
    ----------
    lo, hi : float
        Paleo-depth interval to cover, m.
    mean_thickness, min_thickness : float
        Mean of the gamma-distributed thicknesses and the thinnest layer, m.
    sigma : float
        Standard deviation of the contrasts, m/s.
    """
    tops = [lo - rng.uniform(0, mean_thickness)]
    while tops[-1] <= hi:
        tops.append(tops[-1] + max(float(rng.gamma(2.0, mean_thickness / 2.0)), min_thickness))
    rho = rng.uniform(0.0, 0.7)  # layer-to-layer correlation of the contrasts
    contrast = np.empty(len(tops))
    contrast[0] = sigma * rng.standard_normal()
    for k in range(1, len(tops)):
        contrast[k] = rho * contrast[k - 1] + math.sqrt(1 - rho**2) * sigma * rng.standard_normal()
    return np.asarray(tops), contrast


def lookup(tops: np.ndarray, values: np.ndarray, paleo_depth: np.ndarray) -> np.ndarray:
    """Value of the layer holding each paleo-depth (the first layer above the table's first top)."""
    return values[np.clip(np.searchsorted(tops, paleo_depth, side="right") - 1, 0, None)]


def with_thin_beds(
    rng: np.random.Generator,
    tops: np.ndarray,
    contrast: np.ndarray,
    start: float,
    beds: np.ndarray,
    step: float,
) -> tuple[np.ndarray, np.ndarray]:
    """The table with ``[start, start + Σ beds)`` replaced by beds alternating ``± step / 2`` (m/s)."""
    end = start + beds.sum()
    base = float(lookup(tops, contrast, np.array([start]))[0])
    below = float(lookup(tops, contrast, np.array([end]))[0])
    bed_tops = start + np.concatenate([[0.0], np.cumsum(beds[:-1])])
    signs = np.where(np.arange(beds.size) % 2 == 0, 1.0, -1.0) * rng.choice([-1.0, 1.0])
    above, under = tops < start, tops > end
    new_tops = np.concatenate([tops[above], bed_tops, [end], tops[under]])
    new_contrast = np.concatenate([contrast[above], base + signs * step / 2, [below], contrast[under]])
    return new_tops, new_contrast


def sediment_contrast(
    rng: np.random.Generator,
    paleo: np.ndarray,
    below: np.ndarray,
    *,
    thickness_m: tuple[float, float],
    contrast: tuple[float, float],
    thin_bed_m: tuple[float, float] | None,
    thin_bed_contrast: tuple[float, float],
    dz: float,
) -> tuple[np.ndarray, np.ndarray, tuple[float, ...]]:
    """Layer contrast of every rock point, the thin-bed mask and the thin beds' thicknesses.

    Parameters
    ----------
    paleo : ndarray
        Paleo-depth of every rock point, m.
    below : ndarray of bool, same shape
        Points of the old sequence (below an unconformity); it gets its own table, 100–400 m/s
        faster (buried deeper before the erosion).
    thickness_m, contrast : (float, float)
        Ranges of the mean layer thickness (m) and of the contrasts' standard deviation (m/s).
    thin_bed_m : (float, float) or None
        Range of the thin beds' thicknesses (m); ``None`` for no thin-bed package.
    thin_bed_contrast : (float, float)
        Range of the velocity difference between alternating thin beds, m/s.
    dz : float
        Vertical grid spacing, m: the thinnest ordinary layer.

    Returns
    -------
    contrast : ndarray, same shape as ``paleo``, m/s
    thin_mask : ndarray of bool, same shape
    thicknesses : tuple of float
        Thin-bed thicknesses, m (empty without a package).
    """
    out = np.zeros(paleo.shape)
    sequences = [(sel, old) for sel, old in ((~below, False), (below, True)) if sel.any()]
    package = int(rng.integers(len(sequences)))  # the sequence that holds the thin beds
    mask = np.zeros(paleo.shape, dtype=bool)
    beds = np.zeros(0)
    for k, (sel, old) in enumerate(sequences):
        pts = paleo[sel]
        mean, sigma = float(rng.uniform(*thickness_m)), float(rng.uniform(*contrast))
        tops, values = layer_table(rng, float(pts.min()), float(pts.max()), mean, sigma, dz)
        if old:
            values = values + rng.uniform(100.0, 400.0)
        if thin_bed_m is not None and k == package:
            beds = rng.uniform(*thin_bed_m, int(rng.integers(6, 15)))
            start = float(np.quantile(pts, rng.uniform(0.2, 0.7)))
            tops, values = with_thin_beds(
                rng, tops, values, start, beds, float(rng.uniform(*thin_bed_contrast))
            )
            mask = sel & (paleo >= start) & (paleo < start + beds.sum())
        out[sel] = lookup(tops, values, paleo[sel])
    return out, mask, tuple(float(b) for b in beds)
