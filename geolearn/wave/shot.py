"""One shot at a fixed velocity, NumPy in and NumPy out: the per-shot API for shot-parallel work.

:class:`ShotPropagator` validates a velocity once against the model and the time step, and
then runs the four per-shot wave-equation computations a workflow needs, in the velocity
parametrisation (m/s) and on the model grid ``(nx, nz)`` / ``(nx, ny, nz)``:

- :meth:`~ShotPropagator.forward`: records ``(n_receivers, nt)``, optionally saving the forward
  wavefield (``∂²u`` snapshots) for a later adjoint;
- :meth:`~ShotPropagator.born`: Born records ``J(v) δv`` of a velocity perturbation;
- :meth:`~ShotPropagator.adjoint`: ``Jᵀ r`` of a residual from the saved forward wavefield:
  the migration image, or the gradient of a misfit when ``r`` is its adjoint source;
- :meth:`~ShotPropagator.illumination`: the source illumination from the saved wavefield.

It is what the Dask-parallel workflows (:mod:`geolearn.imaging.shots`) call inside each
worker; the torch operators (:class:`~geolearn.wave.WaveModeling`,
:class:`~geolearn.wave.BornOperator`, :func:`~geolearn.wave.fwi_objective`) loop over shots
themselves and sum gradients in the padded grid before cropping.

Cost in wave-equation solves: ``forward`` 1, ``born`` 2 (background and scattered fields in
one sweep; 1 when given the exact snapshots of a ``forward(save=1)``), ``adjoint`` 1 (plus the
``forward(save=...)`` that produced its snapshots), ``illumination`` 0.
"""

from __future__ import annotations

import numpy as np
import torch

from geolearn.errors import ConfigError, GeometryError, ShapeError
from geolearn.wave.execution import PerformanceLog
from geolearn.wave.geometry import Geometry
from geolearn.wave.model import Model
from geolearn.wave.modeling import dm_dv, make_solver, shot_coords
from geolearn.wave.solver import Snapshots

__all__ = ["ShotPropagator"]


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
    >>> grad = prop.adjoint(d - d_obs, snaps)   # ∂/∂v of ½‖d - d_obs‖², (nx, nz)  # doctest: +SKIP
    """

    def __init__(
        self,
        model: Model,
        geometry: Geometry,
        velocity: np.ndarray | torch.Tensor,
        shot: int,
        wavelet: np.ndarray | None = None,
    ) -> None:
        if not 0 <= shot < geometry.n_shots:
            raise GeometryError(
                f"shot index {shot} is out of range; the geometry has shots 0..{geometry.n_shots - 1}"
            )
        self.model, self.geometry, self.shot = model, geometry, int(shot)
        self.performance = PerformanceLog()
        self._solver, self.vp = make_solver(model, geometry.dt, velocity, self.performance)
        self._src, self._rec = shot_coords(model, geometry, self.shot)
        self.dtype = self._solver.dtype
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
        grad_m, _ = self._solver.adjoint(self._src, self._rec, res.astype(self.dtype), snapshots)
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
