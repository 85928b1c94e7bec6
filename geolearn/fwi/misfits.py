"""FWI data misfits and their adjoint sources.

Each misfit maps synthetic records ``d`` and observed records ``d_obs`` (tensors, traces
along all leading axes, time last: ``(..., nt)``) to a scalar. The adjoint source, the
derivative of the misfit w.r.t. ``d`` that drives the adjoint wave-equation sweep, comes from
``torch.autograd`` (float64); :func:`misfit_and_residual` returns both for NumPy input.

``"l2"``
    ``½ ‖d − d_obs‖²``.
``"ncc"``
    Normalised (zero-lag) cross-correlation per trace, ``Σ_traces 1 − ⟨d, o⟩ / (‖d‖ ‖o‖)``:
    insensitive to amplitude scaling of whole traces (source strength, geometrical spreading
    errors). Traces with no observed energy are ignored.
``"envelope"``
    ``½ ‖E(d) − E(d_obs)‖²`` with the squared envelope ``E(x) = x² + H(x)²`` (``H`` the Hilbert
    transform along time): phase-insensitive and richer in low frequencies, which eases cycle
    skipping; the squared form keeps the misfit smooth where the envelope vanishes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from geolearn.errors import ConfigError, ShapeError

__all__ = [
    "MISFITS",
    "envelope_misfit",
    "hilbert",
    "l2_misfit",
    "misfit",
    "misfit_and_residual",
    "ncc_misfit",
]


def l2_misfit(d: torch.Tensor, d_obs: torch.Tensor) -> torch.Tensor:
    """``½ ‖d − d_obs‖²`` (scalar)."""
    return 0.5 * torch.sum((d - d_obs) ** 2)


def ncc_misfit(d: torch.Tensor, d_obs: torch.Tensor) -> torch.Tensor:
    """``Σ_traces 1 − ⟨d, o⟩ / (‖d‖ ‖o‖)`` over traces with observed energy (scalar)."""
    norm_o = torch.linalg.vector_norm(d_obs, dim=-1)
    live = norm_o > 0
    tiny = torch.finfo(d.dtype).tiny
    norm_d = torch.sqrt(torch.sum(d * d, dim=-1) + tiny)
    corr = torch.sum(d * d_obs, dim=-1) / (norm_d * torch.where(live, norm_o, torch.ones_like(norm_o)))
    return torch.sum(torch.where(live, 1.0 - corr, torch.zeros_like(corr)))


def hilbert(x: torch.Tensor) -> torch.Tensor:
    """Hilbert transform along the last axis (FFT-based, differentiable), same shape as ``x``."""
    n = x.shape[-1]
    spec = torch.fft.fft(x, dim=-1)
    h = torch.zeros(n, dtype=x.dtype, device=x.device)
    # Analytic signal: keep DC (and Nyquist for even n), double positive frequencies, drop negative ones.
    h[0] = 1.0
    if n % 2 == 0:
        h[n // 2] = 1.0
        h[1 : n // 2] = 2.0
    else:
        h[1 : (n + 1) // 2] = 2.0
    return torch.fft.ifft(spec * h, dim=-1).imag


def envelope_misfit(d: torch.Tensor, d_obs: torch.Tensor) -> torch.Tensor:
    """``½ ‖E(d) − E(d_obs)‖²`` with the squared envelope ``E(x) = x² + H(x)²`` (scalar)."""

    def env(x: torch.Tensor) -> torch.Tensor:
        return x * x + hilbert(x) ** 2

    return 0.5 * torch.sum((env(d) - env(d_obs)) ** 2)


#: Misfit name to function ``(d, d_obs) -> scalar tensor``.
MISFITS: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "l2": l2_misfit,
    "ncc": ncc_misfit,
    "envelope": envelope_misfit,
}


def misfit(name: str, d: torch.Tensor, d_obs: torch.Tensor) -> torch.Tensor:
    """Evaluate the misfit ``name`` (see :data:`MISFITS`) on records ``(..., nt)``."""
    if name not in MISFITS:
        raise ConfigError(f"misfit must be one of {sorted(MISFITS)}, got {name!r}")
    if d.shape != d_obs.shape:
        raise ShapeError(
            f"synthetic records {tuple(d.shape)} and observed {tuple(d_obs.shape)} differ in shape"
        )
    return MISFITS[name](d, d_obs)


def misfit_and_residual(name: str, d: np.ndarray, d_obs: np.ndarray) -> tuple[float, np.ndarray]:
    """Misfit value and adjoint source ``∂misfit/∂d`` (float64 autograd) for NumPy records.

    Parameters
    ----------
    name : str
        Misfit name (see :data:`MISFITS`).
    d, d_obs : ndarray, shape (n_receivers, nt)
        Synthetic and observed records.

    Returns
    -------
    value : float
    residual : ndarray, shape of ``d``, float64
    """
    with torch.enable_grad():  # also when called under torch.no_grad()
        dt = torch.tensor(np.asarray(d, dtype=np.float64), requires_grad=True)
        value = misfit(name, dt, torch.as_tensor(np.asarray(d_obs, dtype=np.float64)))
        (grad,) = torch.autograd.grad(value, dt)
    return float(value.detach()), grad.numpy()
