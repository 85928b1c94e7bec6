"""Absorbing-boundary damping profiles on the padded grid.

Two profiles enter the damped wave equation ``m u_tt - Δu + eta u_t = s`` (Devito units:
km/s, ms, m):

``"damp"``
    Devito's classic profile, ``eta = c (p - sin(2πp)/(2π)) / h`` with
    ``c = 1.5 ln(1000) / nbl`` and ``p`` the normalised depth into the layer. It does not
    depend on the velocity.
``"poly"``
    A PML-like polynomial attenuation rate scaled by the local slowness:
    ``eta = m d0 (j/nbl)³`` with ``d0 = 4 vmax ln(1/R) / (2 L)`` (the classic PML
    coefficient for a cubic profile, ``R = 1e-3``, ``L`` the layer width). Because the rate
    (not ``eta``) is set, absorption is uniform across slow and fast velocities.

The measured residual reflections of both are in ``docs/wave.md``. Damping is zero inside
the physical model, which the exact adjoints rely on.
"""

from __future__ import annotations

import numpy as np

__all__ = ["BOUNDARIES", "damping"]

BOUNDARIES = ("damp", "poly")
_POLY_ORDER = 3
_POLY_R = 1e-3


def _layer_depth(n_pad: int, left: int, right: int) -> np.ndarray:
    """Per-index depth into the absorbing layer, in grid points (0 inside the model)."""
    idx = np.arange(n_pad)
    depth = np.zeros(n_pad)
    depth[:left] = left - idx[:left]
    depth[n_pad - right :] = idx[n_pad - right :] - (n_pad - right - 1)
    return depth


def damping(
    kind: str,
    m_pad: np.ndarray,
    pads: tuple[tuple[int, int], ...],
    spacing: tuple[float, ...],
    nbl: int,
) -> np.ndarray:
    """Damping coefficient ``eta`` on the padded grid (Devito units, same shape as ``m_pad``).

    Parameters
    ----------
    kind : {"damp", "poly"}
        Profile (see the module docstring).
    m_pad : ndarray
        Padded squared slowness in (s/km)², shape of the padded grid.
    pads : tuple of (int, int)
        Absorbing points before/after the model along each axis; a side with fewer than
        ``nbl`` points (the free-surface top) gets no damping.
    spacing : tuple of float
        Grid spacing in metres.
    nbl : int
        Absorbing-layer width in grid points.
    """
    if kind not in BOUNDARIES:
        raise ValueError(f"boundary must be one of {BOUNDARIES}, got {kind!r}")
    eta = np.zeros(m_pad.shape, dtype=np.float64)
    if nbl == 0:
        return eta.astype(m_pad.dtype)
    vmax = float(np.max(1.0 / np.sqrt(m_pad)))
    for axis, ((left, right), h) in enumerate(zip(pads, spacing)):
        left = left if left == nbl else 0
        right = right if right == nbl else 0
        depth = _layer_depth(m_pad.shape[axis], left, right)
        if kind == "damp":
            pos = np.where(depth > 0, (depth + 1) / nbl, 0.0)
            coeff = 1.5 * np.log(1000.0) / nbl
            profile = coeff * (pos - np.sin(2 * np.pi * pos) / (2 * np.pi)) / h
        else:
            width = nbl * h
            d0 = (_POLY_ORDER + 1) * vmax * np.log(1.0 / _POLY_R) / (2 * width)
            profile = d0 * (depth / nbl) ** _POLY_ORDER
        shape = [1] * m_pad.ndim
        shape[axis] = -1
        eta = eta + profile.reshape(shape)
    if kind == "poly":
        eta = eta * m_pad
    return eta.astype(m_pad.dtype)
