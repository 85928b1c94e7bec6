"""Source-wavelet estimation by frequency-domain least squares on the modelled early arrivals.

With the model fixed, records are linear in the wavelet: ``d(f) = G(f) w(f)`` per trace. Modelling
once with a probe wavelet ``w`` gives ``s = G w``; the wavelet that best explains the observed
``o`` in the least-squares sense, frequency by frequency over all traces, is the variable-projection
solution (Pratt 1999; Rickett 2013)

``w_new(f) = w(f) Σ conj(s) o / (Σ |s|² + ε max Σ |s|²)``,

``ε`` a water level for frequencies the probe does not excite. With ``scale_only`` the probe
keeps its shape and only its amplitude is fitted, ``α = <s, o> / <s, s>``: a measured signature in
other units than the data. A velocity model predicts the early
arrivals (direct wave, sea-bed reflection, refractions) far better than anything later, so with
``window`` both ``s`` and ``o`` are first multiplied by a tapered window that starts at the first
arrival predicted by the model (picked on the modelled Green's function) and lasts ``window``
seconds. Traces that recorded nothing (dead, or padding of shorter shots) are left out of both sums.

:func:`estimate_wavelet` is the one engine: the FWI loop calls it per frequency band, the RTM/LSRTM
workflows (through :func:`fit_wavelet`) and the CLI (``--wavelet estimate`` or a file) before
migrating.
"""

from __future__ import annotations

import logging

import numpy as np
from scipy.signal import hilbert

from geolearn.errors import ConfigError, ShapeError
from geolearn.imaging.modeling import model_records
from geolearn.imaging.problem import ShotProblem
from geolearn.parallel import ShotExecutor

__all__ = ["WAVELET_FITS", "early_arrival_window", "estimate_wavelet", "fit_wavelet"]

logger = logging.getLogger("geolearn.imaging.wavelet")

#: What :func:`fit_wavelet` may fit: nothing, the amplitude of the given wavelet, or its whole spectrum.
WAVELET_FITS = ("none", "amplitude", "spectrum")
_PICK_LEVEL = 0.1  # envelope fraction of a trace's peak that marks the first arrival


def _first_pick(traces: np.ndarray, level: float = _PICK_LEVEL) -> np.ndarray:
    """Index of the first sample whose envelope reaches ``level`` times the trace's peak envelope."""
    env = np.abs(hilbert(traces, axis=-1))
    return np.argmax(env >= level * env.max(axis=-1, keepdims=True), axis=-1)


def early_arrival_window(
    synthetic: np.ndarray, probe: np.ndarray, dt: float, length: float, *, taper: float | None = None
) -> np.ndarray:
    """Weights ``(n_shots, n_receivers, nt)`` that keep the modelled first arrival and ``length`` s after it.

    The first arrival of each trace is picked on the modelled records (envelope reaching a tenth of
    the trace's peak) less the probe wavelet's own pick, which gives the arrival time of the Green's
    function. The window is 1 from that time to ``length`` s after it, with cosine tapers of
    ``taper`` s on both sides (default a fifth of ``length``), so that an observed wavelet that starts
    earlier than the probe's is not cut.

    Parameters
    ----------
    synthetic : numpy.ndarray, shape (n_shots, n_receivers, nt)
        Records modelled with ``probe``.
    probe : numpy.ndarray, shape (nt,)
    dt, length : float
        Sample interval and window length, seconds.
    """
    if not length > 0:
        raise ConfigError(f"the early-arrival window must be > 0 s long, got {length}")
    taper = 0.2 * length if taper is None else taper
    arrival = (_first_pick(synthetic) - _first_pick(probe[None])[0]) * dt
    t = dt * np.arange(synthetic.shape[-1])
    rel = t - arrival[..., None]  # time after the predicted arrival
    up = np.clip((rel + taper) / taper, 0.0, 1.0)
    down = np.clip((length + taper - rel) / taper, 0.0, 1.0)
    return (0.5 - 0.5 * np.cos(np.pi * up)) * (0.5 - 0.5 * np.cos(np.pi * down))


def estimate_wavelet(
    problem: ShotProblem,
    velocity: np.ndarray,
    observed: np.ndarray,
    ex: ShotExecutor,
    *,
    window: float | None = None,
    water_level: float = 1e-3,
    scale_only: bool = False,
    progress: bool = False,
) -> np.ndarray:
    """One wavelet shared by all shots that best explains ``observed`` in ``velocity``.

    Parameters
    ----------
    problem : ShotProblem
        Its first shot's wavelet is the probe ``w`` (any wavelet whose band covers the data's).
    velocity : ndarray, shape (nx, nz)
        Model, m/s.
    observed : ndarray, shape (n_shots, max_receivers, nt)
        Records on the problem's time axis.
    ex : ShotExecutor
    window : float, optional
        Fit only the early arrivals: ``window`` seconds from the first arrival the model predicts
        (see :func:`early_arrival_window`). ``None`` fits whole traces.
    water_level : float
        ``ε`` above (relative stabilisation of the spectral division), > 0.
    scale_only : bool
        Fit only the amplitude of the probe (a measured wavelet whose shape is trusted).
    progress : bool

    Returns
    -------
    ndarray, shape (nt,)
        The estimated wavelet on the problem's time axis, float64. Models the survey once (one
        forward solve per shot, recorded in the cost ledger).

    Raises
    ------
    ConfigError
        ``water_level`` or ``window`` not positive; no trace with recorded data.
    ShapeError
        ``observed`` not of the problem's record shape.
    """
    if not water_level > 0:
        raise ConfigError(f"water_level must be > 0, got {water_level}")
    if window is not None and not window > 0:
        raise ConfigError(f"window must be > 0 s (or None for whole traces), got {window}")
    observed = np.asarray(observed, dtype=np.float64)
    if observed.shape != problem.record_shape:
        raise ShapeError(
            f"observed records have shape {observed.shape}; the problem's are {problem.record_shape}"
        )
    live = np.any(observed != 0, axis=-1)
    if not live.any():
        raise ConfigError("every observed trace is zero: there is nothing to estimate a wavelet from")
    probe = problem.wavelets[0]
    synthetic = model_records(problem, velocity, ex, progress=progress)
    weights = live[..., None].astype(np.float64)
    if window is not None:
        weights = weights * early_arrival_window(synthetic, probe, problem.dt, window)
    syn, obs = weights * synthetic, weights * observed
    where = f", {window:g} s after the modelled first arrivals" if window else ""
    if scale_only:
        scale = float(np.sum(syn * obs) / np.sum(syn * syn))
        logger.info("wavelet amplitude fitted on %d live traces%s: x %.4g", int(live.sum()), where, scale)
        return scale * probe
    n = 2 * problem.nt  # zero padding keeps the correction from wrapping around in time
    syn, obs = np.fft.rfft(syn, n=n, axis=-1), np.fft.rfft(obs, n=n, axis=-1)
    num = np.sum(np.conj(syn) * obs, axis=(0, 1))
    den = np.sum(np.abs(syn) ** 2, axis=(0, 1))
    corrected = np.fft.rfft(probe, n=n) * num / (den + water_level * den.max())
    logger.info("wavelet estimated from %d live traces%s", int(live.sum()), where)
    return np.fft.irfft(corrected, n=n)[: problem.nt]


def fit_wavelet(
    problem: ShotProblem, velocity: np.ndarray, observed: np.ndarray, ex: ShotExecutor, fit: str, *,
    window: float | None = 0.5, progress: bool = False,
) -> ShotProblem:  # fmt: skip
    """``problem`` with its wavelet fitted to ``observed`` as the workflows' ``wavelet_fit`` asks.

    Parameters
    ----------
    fit : {'none', 'amplitude', 'spectrum'}
        ``'none'``: unchanged; ``'amplitude'``: the problem's wavelet scaled to the data (a measured
        signature); ``'spectrum'``: the full estimate, the problem's wavelet as probe.
    window : float or None
        Early-arrival window of :func:`estimate_wavelet`, seconds.

    Returns
    -------
    ShotProblem
        With the fitted wavelet (the same problem for ``'none'``). A fit models the survey once;
        the solves it performs are in the cost ledger (:mod:`geolearn.ledger`).
    """
    if fit not in WAVELET_FITS:
        raise ConfigError(f"wavelet_fit must be one of {WAVELET_FITS}, got {fit!r}")
    if fit == "none":
        return problem
    wavelet = estimate_wavelet(problem, velocity, observed, ex, window=window, scale_only=fit == "amplitude",
                               progress=progress)  # fmt: skip
    return problem.with_wavelets(wavelet)
