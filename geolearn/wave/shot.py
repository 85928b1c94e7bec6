"""One shot at a fixed velocity, NumPy in and NumPy out: the per-shot engine of the wave layer.

:class:`ShotPropagator` validates a velocity once against the model and the time step, and
then runs the per-shot wave-equation computations, in the velocity parametrisation (m/s) and
on the model grid ``(nx, nz)`` / ``(nx, ny, nz)``:

- :meth:`~ShotPropagator.forward`: records ``(n_receivers, nt)``, optionally saving the forward
  wavefield (``∂²u`` snapshots) for a later adjoint;
- :meth:`~ShotPropagator.born`: Born records ``J(v) δv`` of a velocity perturbation;
- :meth:`~ShotPropagator.adjoint`: ``Jᵀ r`` from the saved forward wavefield (migration);
- :meth:`~ShotPropagator.gradient`: the adjoint-state gradient of a misfit (or of ``⟨r, F(v)⟩``)
  w.r.t. velocity and wavelet, in any memory mode (see :mod:`geolearn.wave.modeling`);
- :meth:`~ShotPropagator.illumination`: the source illumination from the saved wavefield.

It is the one per-shot loop body of the wave layer: :func:`~geolearn.wave.fwi_objective` and
:class:`~geolearn.wave.WaveModeling` run it over :meth:`ShotPropagator.all_shots` (one validated
velocity, one solver), the Dask-parallel workflows build one per shot inside each worker.

Cost in wave-equation solves: ``forward`` 1, ``born`` 2 (background and scattered fields in
one sweep; 1 when given the exact snapshots of a ``forward(save=1)``), ``adjoint`` 1 (plus the
``forward(save=...)`` that produced its snapshots), ``gradient`` 2 (1 when given snapshots; 3
with ``memory="checkpoint"``), ``illumination`` 0.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from geolearn.errors import ConfigError, GeometryError, ShapeError
from geolearn.wave.checkpoint import gradient_checkpointed
from geolearn.wave.execution import PerformanceLog
from geolearn.wave.geometry import Geometry
from geolearn.wave.model import Model
from geolearn.wave.solver import ShotSolver, Snapshots
from geolearn.wave.solver_inputs import dm_dv, make_solver, memory_settings, shot_coords

__all__ = ["Misfit", "ShotGradient", "ShotPropagator"]

#: A misfit of one shot's records: ``records (n_receivers, nt) -> (value, adjoint source)``, the
#: adjoint source ``∂value/∂records`` of the records' shape (e.g. ``d - d_obs`` for ``½‖d - d_obs‖²``).
Misfit = Callable[[np.ndarray], tuple[float, np.ndarray]]


@dataclass
class ShotGradient:
    """What :meth:`ShotPropagator.gradient` returns for one shot.

    Attributes
    ----------
    value : float or None
        The misfit's value; None for a fixed adjoint source.
    records : ndarray or None
        ``(n_receivers, nt)``, the forward records the misfit was evaluated on; None when the
        forward was not run (given snapshots).
    gradient : ndarray
        ``model.shape``, float64: ``∂value/∂v`` in (misfit units) per m/s (for a fixed adjoint
        source ``r``, ``∂⟨r, F(v)⟩/∂v``).
    wavelet_gradient : ndarray
        ``(nt,)``, or ``(npoint, nt)`` for a supershot: the same derivative w.r.t. the wavelet.
    snapshots : Snapshots or None
        The forward wavefield the gradient imaged with (for :meth:`ShotPropagator.illumination`);
        None with ``memory="checkpoint"``, which keeps no whole-record store.
    """

    value: float | None
    records: np.ndarray | None
    gradient: np.ndarray
    wavelet_gradient: np.ndarray
    snapshots: Snapshots | None


class ShotPropagator:
    """Forward, Born, adjoint and illumination of one shot at a fixed velocity.

    Parameters
    ----------
    model : Model
        Grid and propagation settings (absorbing layer, space order, free surface, dtype).
    geometry : Geometry
        Acquisition over ``model``; supplies the time step, the shot's source and receivers
        and, by default, its wavelet.
    velocity : ndarray or torch.Tensor
        Velocity in m/s, ``model.shape``.
    shot : int
        Index of the shot in ``geometry``, ``0 <= shot < geometry.n_shots``.
    wavelet : ndarray, optional
        Source wavelet ``(nt,)``, or ``(npoint, nt)`` for a supershot of
        :func:`~geolearn.wave.encode` (default ``geometry.wavelets[shot]``).
    performance : PerformanceLog, optional
        Where the propagations are recorded (default a new log of this propagator's own), e.g.
        an operator's log shared by all its shots.

    Attributes
    ----------
    vp : ndarray
        The validated velocity, ``model.shape``, float64, m/s.
    dtype : numpy.dtype
        Precision of the propagations (the model's: float32 or float64); records come back in it.
    n_receivers, nt : int
        Receivers of this shot and samples per trace: records are ``(n_receivers, nt)``.
    performance : PerformanceLog
        Every propagation this propagator ran (time, threads, GPts/s).

    Raises
    ------
    GeometryError
        ``shot`` out of range.
    ModelError
        ``velocity`` of the wrong shape, or with a non-finite or non-positive value.
    StabilityError
        ``geometry.dt`` above the stability limit for ``velocity``'s maximum.
    ShapeError
        ``wavelet`` not of the shape of ``geometry.wavelets[shot]``.

    Examples
    --------
    >>> prop = ShotPropagator(model, geometry, v, shot=0)        # doctest: +SKIP
    >>> d, snaps = prop.forward(save=1)                          # doctest: +SKIP
    >>> image = prop.adjoint(d, snaps)                           # RTM of the shot's own records  # doctest: +SKIP
    >>> g = prop.gradient(lambda d: (0.5 * ((d - d_obs) ** 2).sum(), d - d_obs))  # doctest: +SKIP
    >>> g.value, g.gradient      # ½‖d - d_obs‖² and its gradient, (nx, nz) per m/s  # doctest: +SKIP
    """

    def __init__(
        self,
        model: Model,
        geometry: Geometry,
        velocity: np.ndarray | torch.Tensor,
        shot: int,
        wavelet: np.ndarray | None = None,
        *,
        performance: PerformanceLog | None = None,
    ) -> None:
        if not 0 <= shot < geometry.n_shots:
            raise GeometryError(
                f"shot index {shot} is out of range; the geometry has shots 0..{geometry.n_shots - 1}"
            )
        performance = PerformanceLog() if performance is None else performance
        solver, vp = make_solver(model, geometry.dt, velocity, performance)
        self._bind(model, geometry, solver, vp, shot, wavelet)

    @classmethod
    def all_shots(
        cls,
        model: Model,
        geometry: Geometry,
        velocity: np.ndarray | torch.Tensor,
        *,
        wavelets: np.ndarray | None = None,
        performance: PerformanceLog | None = None,
    ) -> list[ShotPropagator]:
        """One propagator per shot of ``geometry``, sharing one validated velocity and one solver.

        The velocity is validated and padded once for the survey, not once per shot (5.6 ms a
        shot on a 600 x 300 grid); the propagators share ``performance`` (default one new log).

        Parameters
        ----------
        wavelets : ndarray, optional
            ``geometry.wavelets.shape``: ``(n_shots, nt)`` or ``(n_shots, npoint, nt)``
            (default ``geometry.wavelets``).

        Returns
        -------
        list of ShotPropagator
            Entry ``i`` is shot ``i``.
        """
        performance = PerformanceLog() if performance is None else performance
        solver, vp = make_solver(model, geometry.dt, velocity, performance)
        props = []
        for shot in range(geometry.n_shots):
            prop = cls.__new__(cls)
            prop._bind(model, geometry, solver, vp, shot, None if wavelets is None else wavelets[shot])
            props.append(prop)
        return props

    def _bind(
        self, model: Model, geometry: Geometry, solver: ShotSolver, vp: np.ndarray, shot: int,
        wavelet: np.ndarray | None,
    ) -> None:  # fmt: skip
        self.model, self.geometry, self.shot = model, geometry, int(shot)
        self._solver, self.vp, self.performance = solver, vp, solver.performance
        self._src, self._rec = shot_coords(model, geometry, self.shot)
        self.dtype = solver.dtype
        self.n_receivers, self.nt = int(self._rec.shape[0]), int(geometry.nt)
        w = geometry.wavelets[self.shot].numpy() if wavelet is None else np.asarray(wavelet)
        expected = tuple(geometry.wavelets.shape[1:])
        if w.shape != expected:
            raise ShapeError(f"wavelet has shape {w.shape}; expected {expected} for shot {self.shot}")
        self._wavelet = w.astype(self.dtype)

    def _check_records(self, name: str, records: np.ndarray) -> np.ndarray:
        arr = np.asarray(records)
        if arr.shape != (self.n_receivers, self.nt):
            raise ShapeError(
                f"{name} has shape {arr.shape}; shot {self.shot} records are ({self.n_receivers}, {self.nt})"
            )
        return arr

    def forward(self, save: int | None = None, reuse: bool = False) -> tuple[np.ndarray, Snapshots | None]:
        """Nonlinear modelling (1 solve).

        Parameters
        ----------
        save : int, optional
            Keep the wavefield for :meth:`adjoint`, :meth:`illumination` and :meth:`born`:
            1 stores every step (exact; memory ``nt + 1`` padded-grid arrays); ``k > 1`` stores
            ``∂²u`` every k-th step and subsamples the imaging sum (approximate; ``nt / k``
            arrays; see :func:`~geolearn.wave.nyquist_factor`).
        reuse : bool
            Store into one buffer kept with the compiled operator instead of a new one: for
            one shot at a time (a Dask task), it saves allocating and page-faulting the store
            on every call (the measured first-call cost of a Born operator: 5 to 6 forwards
            instead of 1.1 to 1.4). The snapshots are then valid until the next
            ``forward(save=..., reuse=True)`` on a grid of this shape in this process.

        Returns
        -------
        records : ndarray, shape (n_receivers, nt)
            Pressure at the receivers, in :attr:`dtype`.
        snapshots : Snapshots or None
            The saved wavefield (``None`` without ``save``); opaque, pass it back to this
            propagator.
        """
        if save is not None and (isinstance(save, bool) or not isinstance(save, int) or save < 1):
            raise ConfigError(f"save must be a snapshot interval >= 1 time step, got {save!r}")
        return self._solver.forward(self._src, self._wavelet, self._rec, save=save, reuse=reuse)

    def born(self, perturbation: np.ndarray, snapshots: Snapshots | None = None) -> np.ndarray:
        """Born records ``J(v) δv`` of a velocity perturbation.

        Parameters
        ----------
        perturbation : ndarray, shape model.shape
            ``δv`` in m/s; the linearisation of :meth:`forward` at :attr:`vp`.
        snapshots : Snapshots, optional
            From :meth:`forward` with ``save=1`` on this propagator: the background is read
            from them (1 solve) instead of propagated alongside (2 solves in one sweep).

        Returns
        -------
        ndarray, shape (n_receivers, nt)
            Scattered records, in :attr:`dtype`.
        """
        dv = np.asarray(perturbation, dtype=np.float64)
        if dv.shape != self.model.shape:
            raise ShapeError(f"perturbation has shape {dv.shape}; the model grid is {self.model.shape}")
        if snapshots is not None and (not isinstance(snapshots, Snapshots) or snapshots.factor != 1):
            raise ConfigError("born needs the snapshots of forward(save=1) on this shot (every step)")
        dm = self.model.pad_zero(dv * dm_dv(self.vp)).astype(self.dtype)
        return self._solver.born(self._src, self._wavelet, self._rec, dm, snapshots)

    def adjoint(self, residual: np.ndarray, snapshots: Snapshots) -> np.ndarray:
        """``Jᵀ r``: back-propagate receiver data and image with the saved forward wavefield (1 solve).

        With ``r`` the data to migrate this is the RTM image; with ``r`` the adjoint source
        ``∂φ/∂d`` of a misfit ``φ`` (``d - d_obs`` for ``½‖d - d_obs‖²``) it is ``∂φ/∂v``.

        Parameters
        ----------
        residual : ndarray, shape (n_receivers, nt)
            Receiver data, cast to :attr:`dtype`.
        snapshots : Snapshots
            From :meth:`forward` with ``save`` on this propagator.

        Returns
        -------
        ndarray, shape model.shape
            The image / gradient in the velocity parametrisation (per m/s), float64: the
            squared-slowness imaging condition cropped to the model grid times ``dm/dv``.
        """
        res = self._check_records("residual", residual)
        if not isinstance(snapshots, Snapshots):
            raise ConfigError("adjoint needs the snapshots returned by forward(save=...) on this shot")
        return self._image(res, snapshots)[0]

    def gradient(
        self,
        misfit: Misfit | np.ndarray,
        *,
        memory: str = "full",
        snapshot_factor: int | None = None,
        n_checkpoints: int | None = None,
        snapshots: Snapshots | None = None,
        reuse: bool = False,
    ) -> ShotGradient:
        """Adjoint-state gradient of a misfit of this shot's records w.r.t. velocity and wavelet.

        One forward (storing the wavefield as ``memory`` says), the misfit's adjoint source, one
        adjoint that images with the stored wavefield.

        Parameters
        ----------
        misfit : callable or ndarray
            A :data:`Misfit` ``records -> (value, adjoint source)``, called once on the forward
            records; or a fixed adjoint source ``r`` ``(n_receivers, nt)``, for the gradient of
            ``⟨r, F(v)⟩`` (the vector-Jacobian product of an autograd backward).
        memory : {"full", "snapshots", "checkpoint"}
            How the adjoint gets the forward wavefield (see :mod:`geolearn.wave.modeling`).
        snapshot_factor : int, optional
            Steps between snapshots for ``"snapshots"`` (default :func:`~geolearn.wave.nyquist_factor`).
        n_checkpoints : int, optional
            Saved states for ``"checkpoint"`` (default ``round(sqrt(nt / 2))``).
        snapshots : Snapshots, optional
            The stored wavefield of an earlier :meth:`forward` of this propagator, with the
            interval ``memory`` asks for (1 for ``"full"``): the forward is not run again, so
            ``misfit`` must then be a fixed adjoint source.
        reuse : bool
            Store the forward wavefield in the process's kept buffer (see :meth:`forward`):
            for one shot at a time; the returned snapshots are valid until the next such store.

        Returns
        -------
        ShotGradient
            Value, records, velocity gradient ``model.shape`` (float64, per m/s), wavelet
            gradient and the snapshots.

        Raises
        ------
        ConfigError
            A bad memory setting, snapshots that do not fit ``memory``, or a callable misfit
            with snapshots; all before any solve.
        ShapeError
            A fixed adjoint source (before any solve) or a misfit's adjoint source not of the
            records' shape.
        """
        save = memory_settings(memory, snapshot_factor, n_checkpoints, self.geometry)
        if callable(misfit):
            misfit_fn, fixed = misfit, None
        else:
            misfit_fn, fixed = None, self._check_records("adjoint source", misfit)
        if snapshots is not None:
            if misfit_fn is not None:
                raise ConfigError(
                    "with snapshots the forward is not rerun: pass the adjoint source, not a misfit"
                )
            if save is None:
                raise ConfigError('memory="checkpoint" recomputes the forward wavefield: pass no snapshots')
            if not isinstance(snapshots, Snapshots) or snapshots.factor != save:
                raise ConfigError(
                    f"memory={memory!r} needs the snapshots of forward(save={save}) on this shot"
                )
        values: list[float] = []

        def adjoint_source(records: np.ndarray) -> np.ndarray:
            if misfit_fn is None:
                return fixed
            value, residual = misfit_fn(records)
            values.append(float(value))
            return self._check_records("the misfit's adjoint source", residual)

        s, records = self._solver, None
        if memory == "checkpoint":
            records, grad_m, grad_w = gradient_checkpointed(
                s, self._src, self._wavelet, self._rec, adjoint_source, n_checkpoints
            )
            gradient = self._per_velocity(grad_m)
        else:
            if snapshots is None:
                records, snapshots = s.forward(self._src, self._wavelet, self._rec, save=save, reuse=reuse)
            gradient, grad_w = self._image(adjoint_source(records), snapshots)
        return ShotGradient(values[0] if values else None, records, gradient, grad_w, snapshots)

    def _image(self, source: np.ndarray, snapshots: Snapshots) -> tuple[np.ndarray, np.ndarray]:
        """Velocity gradient (model grid, float64) and wavelet gradient of ``⟨source, F(v)⟩`` (1 solve)."""
        grad_m, grad_w = self._solver.adjoint(self._src, self._rec, source.astype(self.dtype), snapshots)
        return self._per_velocity(grad_m), grad_w

    def _per_velocity(self, grad_m: np.ndarray) -> np.ndarray:
        """A padded-grid gradient w.r.t. squared slowness, cropped and chained to velocity (float64)."""
        return self.model.crop(grad_m) * dm_dv(self.vp)

    def illumination(self, snapshots: Snapshots) -> np.ndarray:
        """Source illumination ``Σ_t (∂²u/∂t²)²`` on the model grid (no solve).

        Summed over the saved steps of the second time difference
        ``u[n+1] - 2u[n] + u[n-1]`` (``dt² ∂²u/∂t²``, so in units of the wavefield squared);
        meant as a relative weight, e.g. to precondition images and gradients.

        Parameters
        ----------
        snapshots : Snapshots
            From :meth:`forward` with ``save``.

        Returns
        -------
        ndarray, shape model.shape
            float64, non-negative.
        """
        if not isinstance(snapshots, Snapshots):
            raise ConfigError("illumination needs the snapshots returned by forward(save=...)")
        total = np.zeros(self.model.padded_shape)
        for block in snapshots.second_differences():
            total += np.einsum("t...,t...->...", block, block, dtype=np.float64)
        return self.model.crop(total)
