"""Nonlinear modelling F as a torch operator, and the FWI objective with its gradient.

Units at this interface are SI: velocity in m/s, time in s, coordinates in m. Records are
``(n_shots, max_receivers, nt)`` with zero traces padding shots that have fewer receivers
(see :class:`~geolearn.wave.records.ShotRecords`).

Memory modes for gradients (``memory=``):

``"full"`` (default)
    The wavefield of every time step is stored: exact adjoint-state gradient.
``"snapshots"``
    ``∂²u`` every ``snapshot_factor``-th step is stored and the imaging sum is subsampled
    (times the factor): approximate. The default factor, :func:`nyquist_factor`, samples the
    wavelet's band at its Nyquist rate; errors measured in ``docs/wave.md``.
``"checkpoint"``
    ``n_checkpoints`` saved states, every segment of the time axis recomputed once
    (:mod:`geolearn.wave.checkpoint`): equal to ``"full"`` to rounding (bit for bit in the
    float64 tests).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from geolearn.errors import ConfigError, ShapeError
from geolearn.wave.checkpoint import gradient_checkpointed
from geolearn.wave.execution import PerformanceLog
from geolearn.wave.geometry import Geometry
from geolearn.wave.model import Model
from geolearn.wave.records import ShotRecords
from geolearn.wave.solver import MEMORY_MODES, ShotSolver
from geolearn.wave.wavelet import max_frequency

logger = logging.getLogger("geolearn.wave.modeling")

__all__ = ["WaveModeling", "fwi_objective", "nyquist_factor"]


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


#: Spectral level (fraction of the peak) that bounds the band for :func:`nyquist_factor`.
NYQUIST_LEVEL = 0.01


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


def _memory_args(memory: str, snapshot_factor: int | None, geometry: Geometry) -> int | None:
    if memory not in MEMORY_MODES:
        raise ConfigError(f"memory must be one of {MEMORY_MODES}, got {memory!r}")
    if memory == "full":
        return 1
    if memory == "snapshots":
        if snapshot_factor is None:
            return nyquist_factor(geometry)
        if isinstance(snapshot_factor, bool) or not isinstance(snapshot_factor, int) or snapshot_factor < 1:
            raise ConfigError(
                f"snapshot_factor must be an integer >= 1 (time steps), got {snapshot_factor!r}"
            )
        return snapshot_factor
    return None


def _shots(geometry: Geometry, progress: bool, what: str) -> Any:
    return tqdm(
        range(geometry.n_shots), desc=what, disable=not progress or geometry.n_shots == 1, leave=False
    )


class _Modeling(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any, module: WaveModeling, velocity: torch.Tensor, wavelets: torch.Tensor
    ) -> torch.Tensor:
        model, geometry = module.model, module.geometry
        solver, vp = make_solver(model, geometry.dt, velocity, module.performance)
        need_grad = ctx.needs_input_grad[1] or ctx.needs_input_grad[2]
        save = module._save if need_grad else None
        w = wavelets.detach().cpu().numpy().astype(solver.dtype)
        out = np.zeros((geometry.n_shots, geometry.max_receivers, geometry.nt), dtype=solver.dtype)
        snaps = []
        for i in _shots(geometry, module.progress, "modelling"):
            src, rec = shot_coords(model, geometry, i)
            out[i, : rec.shape[0]], snap = solver.forward(src, w[i], rec, save=save)
            snaps.append(snap)
        ctx.state = (module, solver, vp, w, snaps)
        return torch.as_tensor(out).to(device=velocity.device)

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[None, torch.Tensor | None, torch.Tensor | None]:
        module, solver, vp, w, snaps = ctx.state
        model, geometry = module.model, module.geometry
        g = grad_out.detach().cpu().numpy().astype(solver.dtype)
        grad_m = np.zeros(model.padded_shape)
        grad_w = np.zeros(w.shape)
        for i in _shots(geometry, module.progress, "adjoint"):
            src, rec = shot_coords(model, geometry, i)
            res = g[i, : rec.shape[0]]
            if module.memory == "checkpoint":
                _, gm, grad_w[i] = gradient_checkpointed(
                    solver, src, w[i], rec, lambda _, r=res: r, module.n_checkpoints
                )
            else:
                gm, grad_w[i] = solver.adjoint(src, rec, res, snaps[i])
            grad_m += gm
        ctx.state = None
        gv = torch.as_tensor(model.crop(grad_m) * dm_dv(vp), dtype=grad_out.dtype, device=grad_out.device)
        gw = torch.as_tensor(grad_w, dtype=grad_out.dtype, device=grad_out.device)
        return None, gv if ctx.needs_input_grad[1] else None, gw if ctx.needs_input_grad[2] else None


class WaveModeling(torch.nn.Module):
    """Nonlinear acoustic modelling ``F``: velocity (and wavelets) to shot records.

    ``F(v)`` runs one Devito forward propagation per shot. Its backward is the adjoint-state
    gradient (one adjoint propagation per shot) w.r.t. the velocity and the wavelets, so
    ``F`` can sit inside any torch loss.

    Parameters
    ----------
    model : Model
        Grid, absorbing layer, space order, free surface, dtype. ``model.vp`` is the default
        velocity.
    geometry : Geometry
        Sources, receivers, time axis and default wavelets.
    memory : {"full", "snapshots", "checkpoint"}
        How the backward gets the forward wavefield (see the module docstring).
    snapshot_factor : int, optional
        Subsampling factor for ``memory="snapshots"`` (default :func:`nyquist_factor`).
    n_checkpoints : int, optional
        Saved states for ``memory="checkpoint"`` (default ``round(sqrt(nt / 3))``).
    progress : bool
        Show a tqdm bar over shots.

    Attributes
    ----------
    performance : PerformanceLog
        Every propagation this module ran (time, threads, GPts/s).

    Examples
    --------
    >>> F = WaveModeling(model, geometry)                     # doctest: +SKIP
    >>> d = F(v)            # (n_shots, max_receivers, nt)    # doctest: +SKIP
    >>> loss = 0.5 * (d - d_obs).pow(2).sum(); loss.backward()  # doctest: +SKIP
    """

    def __init__(
        self,
        model: Model,
        geometry: Geometry,
        *,
        memory: str = "full",
        snapshot_factor: int | None = None,
        n_checkpoints: int | None = None,
        progress: bool = False,
    ) -> None:
        super().__init__()
        self.model, self.geometry = model, geometry
        self._save = _memory_args(memory, snapshot_factor, geometry)
        self.memory, self.n_checkpoints, self.progress = memory, n_checkpoints, progress
        self.performance = PerformanceLog()

    def forward(
        self, velocity: torch.Tensor | None = None, wavelets: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Model shot records.

        Parameters
        ----------
        velocity : torch.Tensor, optional
            ``model.shape`` in m/s (default ``model.vp``); any device, the model's dtype.
        wavelets : torch.Tensor, optional
            ``geometry.wavelets.shape`` (default ``geometry.wavelets``): ``(n_shots, nt)``, or
            ``(n_shots, npoint, nt)`` for supershots.

        Returns
        -------
        torch.Tensor
            ``(n_shots, max_receivers, nt)`` on ``velocity``'s device, padded with zero traces.
        """
        velocity = self.model.vp if velocity is None else velocity
        wavelets = self.geometry.wavelets if wavelets is None else wavelets
        if wavelets.shape != self.geometry.wavelets.shape:
            raise ShapeError(
                f"wavelets have shape {tuple(wavelets.shape)}; expected {tuple(self.geometry.wavelets.shape)}"
            )
        if velocity.dtype != self.model.dtype or wavelets.dtype != self.model.dtype:
            raise TypeError(f"velocity and wavelets must have the model dtype {self.model.dtype}")
        return _Modeling.apply(self, velocity, wavelets)

    def records(self, velocity: torch.Tensor | None = None) -> ShotRecords:
        """Like :meth:`forward` but as a :class:`ShotRecords` without padded traces."""
        return ShotRecords.from_padded(self.forward(velocity), self.geometry.n_receivers)


def fwi_objective(
    velocity: torch.Tensor | Model,
    geometry: Geometry,
    observed: torch.Tensor | ShotRecords,
    *,
    memory: str = "full",
    snapshot_factor: int | None = None,
    n_checkpoints: int | None = None,
    progress: bool = False,
    performance: PerformanceLog | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """FWI misfit ``½ Σ_shots ‖F(v) - d_obs‖²`` and its gradient w.r.t. velocity.

    One forward and one adjoint propagation per shot (checkpointing adds forward
    recomputation, not adjoint solves).

    Parameters
    ----------
    velocity : torch.Tensor or Model
        ``geometry.model.shape`` in m/s, or a Model (its ``vp`` is used).
    geometry : Geometry
        Acquisition (its ``model`` supplies grid, boundary, space order).
    observed : torch.Tensor or ShotRecords
        ``(n_shots, max_receivers, nt)`` padded, or per-shot gathers.
    memory, snapshot_factor, n_checkpoints, progress
        As in :class:`WaveModeling`.
    performance : PerformanceLog, optional
        Records every propagation (time, threads, GPts/s).

    Returns
    -------
    value : torch.Tensor
        Scalar, the model's dtype.
    gradient : torch.Tensor
        ``model.shape``, in (misfit units) per m/s, on ``velocity``'s device.
    """
    model = geometry.model
    v = velocity.vp if isinstance(velocity, Model) else velocity
    device = v.device if isinstance(v, torch.Tensor) else torch.device("cpu")
    obs = (
        observed
        if isinstance(observed, ShotRecords)
        else ShotRecords.from_padded(observed, geometry.n_receivers)
    )
    if len(obs) != geometry.n_shots or obs.nt != geometry.nt or obs.n_receivers != geometry.n_receivers:
        raise ShapeError(f"observed {obs!r} does not match {geometry!r}")
    save = _memory_args(memory, snapshot_factor, geometry)
    solver, vp = make_solver(model, geometry.dt, v, performance)
    w = geometry.wavelets.numpy().astype(solver.dtype)
    value = 0.0
    grad_m = np.zeros(model.padded_shape)
    for i in _shots(geometry, progress, "FWI gradient"):
        src, rec = shot_coords(model, geometry, i)
        d_obs = obs[i].detach().cpu().numpy().astype(solver.dtype)
        if memory == "checkpoint":
            residual: list[np.ndarray] = []

            def residual_fn(d: np.ndarray, d_obs: np.ndarray = d_obs, out: list = residual) -> np.ndarray:
                out.append(d - d_obs)
                return out[-1]

            _, gm, _ = gradient_checkpointed(solver, src, w[i], rec, residual_fn, n_checkpoints)
            res = residual[0]
        else:
            d, snaps = solver.forward(src, w[i], rec, save=save, reuse=True)
            res = d - d_obs
            gm, _ = solver.adjoint(src, rec, res, snaps)
        value += 0.5 * float(np.sum(res.astype(np.float64) ** 2))
        grad_m += gm
    grad = model.crop(grad_m) * dm_dv(vp)
    return (
        torch.tensor(value, dtype=model.dtype, device=device),
        torch.as_tensor(grad, dtype=model.dtype, device=device),
    )
