"""From the SI problem to the solver's inputs: velocity, shot coordinates, gradient memory settings.

Every wave operator (:class:`~geolearn.wave.ShotPropagator`, :class:`~geolearn.wave.WaveModeling`,
:class:`~geolearn.wave.BornOperator`...) turns a velocity (m/s) into a
:class:`~geolearn.wave.solver.ShotSolver` over the padded grid, a shot of a
:class:`~geolearn.wave.Geometry` into padded-frame coordinates, and a memory mode into the
snapshot interval of the forward store, through the functions here; and maps gradients in
squared slowness back to velocity with :func:`dm_dv`.
"""

from __future__ import annotations

import numpy as np
import torch

from geolearn.errors import ConfigError
from geolearn.wave.execution import PerformanceLog
from geolearn.wave.geometry import Geometry
from geolearn.wave.model import Model
from geolearn.wave.solver import MEMORY_MODES, ShotSolver
from geolearn.wave.wavelet import max_frequency

__all__ = ["NYQUIST_LEVEL", "dm_dv", "make_solver", "memory_settings", "nyquist_factor", "shot_coords"]

#: Spectral level (fraction of the peak) that bounds the band for :func:`nyquist_factor`.
NYQUIST_LEVEL = 0.01


def make_solver(
    model: Model,
    dt: float | None,
    velocity: torch.Tensor | np.ndarray,
    performance: PerformanceLog | None = None,
) -> tuple[ShotSolver, np.ndarray]:
    """Validate ``velocity`` (m/s) against the model and the time step ``dt`` (s).

    ``dt=None`` is for time-free use (interpolation only). Returns a solver (recording its
    propagations in ``performance``) and vp (float64).
    """
    vp = model.validate(velocity)
    if dt is not None:
        model.check_dt(dt, float(vp.max()))
    m_pad, damp = model.padded_slowness(vp)
    npdtype = np.float32 if model.dtype == torch.float32 else np.float64
    solver = ShotSolver(
        model.padded_shape, model.spacing, model.space_order, npdtype, model.free_surface_index,
        m_pad, damp, model.cell_volume, (dt or 0.0) * 1000.0, performance,
    )  # fmt: skip
    return solver, vp


def shot_coords(model: Model, geometry: Geometry, shot: int) -> tuple[np.ndarray, np.ndarray]:
    """Source ``(npoint, ndim)`` and receiver ``(n, ndim)`` coordinates of ``shot`` in the padded frame.

    ``npoint`` is 1, or the number of simultaneous sources of a supershot
    (:func:`~geolearn.wave.encode`, whose ``src_positions`` are ``(n_shots, npoint, ndim)``).
    """
    return (
        model.to_grid(np.reshape(geometry.src_positions[shot], (-1, model.ndim))),
        model.to_grid(geometry.rec_positions[shot]),
    )


def dm_dv(vp: np.ndarray) -> np.ndarray:
    """Derivative of Devito's squared slowness (s/km)² w.r.t. velocity (m/s): ``-2e6 / v³``."""
    return -2e6 / vp**3


def nyquist_factor(geometry: Geometry) -> int:
    """Snapshot subsampling factor that samples the wavelets' band at its Nyquist rate.

    ``k = floor(1 / (2 fmax dt))`` with ``fmax`` the highest frequency (Hz) where the
    wavelets' amplitude spectrum exceeds :data:`NYQUIST_LEVEL` of its peak and ``dt`` the
    modelling step (s). The imaging sum is the mean of a product of two wavefields of that
    band, a signal band-limited to ``2 fmax``, which a rectangle rule at ``1 / (k dt) >= 2 fmax``
    integrates without aliasing. (At the 5 % level of :attr:`Geometry.fmax` the benchmark
    model's gradient was 1.2 % off; at 1 %, 0.4 %: ``docs/wave.md``.)
    """
    fmax = max_frequency(geometry.wavelets.numpy(), geometry.dt, level=NYQUIST_LEVEL)
    return max(1, int(1.0 / (2.0 * fmax * geometry.dt)))


def memory_settings(
    memory: str, snapshot_factor: int | None, n_checkpoints: int | None, geometry: Geometry
) -> int | None:
    """Check a gradient's memory settings and return the forward store's snapshot interval.

    Parameters
    ----------
    memory : {"full", "snapshots", "checkpoint"}
        See :mod:`geolearn.wave.modeling`.
    snapshot_factor : int, optional
        Time steps between snapshots for ``"snapshots"`` (default :func:`nyquist_factor`);
        ignored otherwise.
    n_checkpoints : int, optional
        Saved states for ``"checkpoint"`` (default
        :func:`~geolearn.wave.checkpoint.default_checkpoints`); ignored otherwise.
    geometry : Geometry
        Supplies the wavelets and time step of the default snapshot factor.

    Returns
    -------
    int or None
        1 for ``"full"``, the snapshot factor for ``"snapshots"``, None for ``"checkpoint"``
        (its forward stores no wavefield).

    Raises
    ------
    ConfigError
        An unknown mode, a snapshot factor or a checkpoint count that is not a positive integer.
    """
    if memory not in MEMORY_MODES:
        raise ConfigError(f"memory must be one of {MEMORY_MODES}, got {memory!r}")
    if memory == "full":
        return 1
    if memory == "checkpoint":
        if n_checkpoints is not None and not _positive_int(n_checkpoints):
            raise ConfigError(f"n_checkpoints must be a positive integer, got {n_checkpoints!r}")
        return None
    if snapshot_factor is None:
        return nyquist_factor(geometry)
    if not _positive_int(snapshot_factor):
        raise ConfigError(f"snapshot_factor must be an integer >= 1 (time steps), got {snapshot_factor!r}")
    return snapshot_factor


def _positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1
