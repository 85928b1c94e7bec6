"""Source-wavelet estimation by frequency-domain least squares (Pratt 1999).

With the model fixed, records are linear in the wavelet: ``d(f) = G(f) w(f)`` per trace.
Modelling once with the current wavelet ``w`` gives ``d_syn = G w``; the least-squares
correction per frequency over all traces is

``w_new(f) = w(f) Σ conj(d_syn) d_obs / (Σ |d_syn|² + ε max Σ |d_syn|²)``,

``ε`` a water level that leaves frequencies without energy in the synthetics unchanged-ish.
"""

from __future__ import annotations

import numpy as np

from geolearn.errors import ConfigError
from geolearn.imaging.modeling import model_records
from geolearn.imaging.problem import ShotProblem
from geolearn.parallel import ShotExecutor

__all__ = ["estimate_wavelet"]


def estimate_wavelet(
    problem: ShotProblem,
    velocity: np.ndarray,
    observed: np.ndarray,
    ex: ShotExecutor,
    *,
    water_level: float = 1e-3,
    progress: bool = False,
) -> np.ndarray:
    """One wavelet shared by all shots that best explains ``observed`` in ``velocity``.

    Parameters
    ----------
    problem : ShotProblem
        Its (first shot's) wavelet is the starting guess ``w``.
    velocity : ndarray, shape (nx, nz)
        Model, m/s.
    observed : ndarray, shape (n_shots, max_receivers, nt)
    ex : ShotExecutor
    water_level : float
        ``ε`` above (relative stabilisation of the spectral division).

    Returns
    -------
    ndarray, shape (nt,)
        The estimated wavelet, float64. Costs one forward solve per shot.
    """
    if not water_level > 0:
        raise ConfigError(f"water_level must be > 0, got {water_level}")
    synthetic = model_records(problem, velocity, ex, progress=progress)
    n = 2 * problem.nt  # zero padding keeps the correction from wrapping around in time
    syn = np.fft.rfft(synthetic, n=n, axis=-1)
    obs = np.fft.rfft(observed, n=n, axis=-1)
    num = np.sum(np.conj(syn) * obs, axis=(0, 1))
    den = np.sum(np.abs(syn) ** 2, axis=(0, 1))
    w = np.fft.rfft(problem.wavelets[0], n=n)
    corrected = w * num / (den + water_level * den.max())
    return np.fft.irfft(corrected, n=n)[: problem.nt]
