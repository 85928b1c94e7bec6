"""Nonlinear modelling F as a torch operator, and the FWI objective with its gradient.

Units at this interface are SI: velocity in m/s, time in s, coordinates in m. Records are
``(n_shots, max_receivers, nt)`` with zero traces padding shots that have fewer receivers
(see :class:`~geolearn.wave.records.ShotRecords`).

Memory modes for gradients (``memory=``):

``"full"`` (default)
    The wavefield of every time step is stored: exact adjoint-state gradient.
``"snapshots"``
    ``∂²u`` every ``snapshot_factor``-th step is stored and the imaging sum is subsampled
    (times the factor): approximate. The default factor, :func:`~geolearn.wave.nyquist_factor`,
    samples the wavelet's band at its Nyquist rate; errors measured in ``docs/wave.md``.
``"checkpoint"``
    ``n_checkpoints`` saved states, every segment of the time axis recomputed once
    (:mod:`geolearn.wave.checkpoint`): equal to ``"full"`` to rounding (bit for bit in the
    float64 tests).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from geolearn.errors import ShapeError
from geolearn.wave.execution import PerformanceLog
from geolearn.wave.geometry import Geometry
from geolearn.wave.model import Model
from geolearn.wave.records import ShotRecords
from geolearn.wave.shot import Misfit, ShotPropagator
from geolearn.wave.solver import Snapshots
from geolearn.wave.solver_inputs import memory_settings

logger = logging.getLogger("geolearn.wave.modeling")

__all__ = ["WaveModeling", "fwi_objective"]


def _shots(geometry: Geometry, progress: bool, what: str) -> Any:
    return tqdm(
        range(geometry.n_shots), desc=what, disable=not progress or geometry.n_shots == 1, leave=False
    )


def _gradient_over_shots(
    props: list[ShotPropagator],
    misfit_of: Callable[[int], Misfit | np.ndarray],
    progress: bool,
    what: str,
    snapshots: list[Snapshots | None] | None = None,
    **memory: Any,
) -> tuple[float, np.ndarray, list[np.ndarray]]:
    """Sum :meth:`ShotPropagator.gradient` over shots: value, velocity gradient, wavelet gradients.

    ``misfit_of(i)`` is shot ``i``'s misfit or fixed adjoint source; ``snapshots[i]`` its stored
    forward wavefield, if any; ``memory`` the memory settings of :meth:`ShotPropagator.gradient`.
    Shot gradients are added in shot order (float64).
    """
    geometry = props[0].geometry
    value, gradient, wavelet_gradients = 0.0, np.zeros(props[0].model.shape), []
    for i in _shots(geometry, progress, what):
        shot = props[i].gradient(
            misfit_of(i), snapshots=None if snapshots is None else snapshots[i], **memory
        )
        value += shot.value or 0.0
        gradient += shot.gradient
        wavelet_gradients.append(shot.wavelet_gradient)
    return value, gradient, wavelet_gradients


class _Modeling(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any, module: WaveModeling, velocity: torch.Tensor, wavelets: torch.Tensor
    ) -> torch.Tensor:
        geometry = module.geometry
        w = wavelets.detach().cpu().numpy()
        props = ShotPropagator.all_shots(
            module.model, geometry, velocity, wavelets=w, performance=module.performance
        )
        need_grad = ctx.needs_input_grad[1] or ctx.needs_input_grad[2]
        save = module.snapshot_interval if need_grad else None
        out = np.zeros((geometry.n_shots, geometry.max_receivers, geometry.nt), dtype=props[0].dtype)
        snaps = []
        for i in _shots(geometry, module.progress, "modelling"):
            out[i, : props[i].n_receivers], snap = props[i].forward(save=save)
            snaps.append(snap)
        ctx.state = (module, props, snaps)
        return torch.as_tensor(out).to(device=velocity.device)

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[None, torch.Tensor | None, torch.Tensor | None]:
        module, props, snaps = ctx.state
        g = grad_out.detach().cpu().numpy().astype(props[0].dtype)
        _, grad_v, grad_w = _gradient_over_shots(
            props, lambda i: g[i, : props[i].n_receivers], module.progress, "adjoint",
            None if module.memory == "checkpoint" else snaps, memory=module.memory,
            snapshot_factor=module.snapshot_interval, n_checkpoints=module.n_checkpoints,
        )  # fmt: skip
        ctx.state = None
        gv = torch.as_tensor(grad_v, dtype=grad_out.dtype, device=grad_out.device)
        gw = torch.as_tensor(np.stack(grad_w), dtype=grad_out.dtype, device=grad_out.device)
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
        Subsampling factor for ``memory="snapshots"`` (default :func:`~geolearn.wave.nyquist_factor`).
    n_checkpoints : int, optional
        Saved states for ``memory="checkpoint"`` (default ``round(sqrt(nt / 2))``).
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
        self.snapshot_interval = memory_settings(memory, snapshot_factor, n_checkpoints, geometry)
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
    recomputation, not adjoint solves): :meth:`ShotPropagator.gradient` over
    :meth:`ShotPropagator.all_shots`, shot by shot.

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
    interval = memory_settings(memory, snapshot_factor, n_checkpoints, geometry)  # checked once
    props = ShotPropagator.all_shots(model, geometry, v, performance=performance)

    def l2_misfit(shot: int) -> Misfit:
        d_obs = obs[shot].detach().cpu().numpy().astype(props[shot].dtype)

        def misfit(d: np.ndarray) -> tuple[float, np.ndarray]:
            residual = d - d_obs
            return 0.5 * float(np.sum(residual.astype(np.float64) ** 2)), residual

        return misfit

    # One shot at a time: the forward store can be the process's kept buffer.
    value, grad, _ = _gradient_over_shots(
        props, l2_misfit, progress, "FWI gradient", memory=memory, snapshot_factor=interval,
        n_checkpoints=n_checkpoints, reuse=True,
    )  # fmt: skip
    return (
        torch.tensor(value, dtype=model.dtype, device=device),
        torch.as_tensor(grad, dtype=model.dtype, device=device),
    )
