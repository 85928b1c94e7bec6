"""Per-shot execution of the cached Devito operators on NumPy arrays (Devito units inside).

Everything here works in the padded grid with squared slowness ``m`` in (s/km)², time in
ms and coordinates in metres relative to the padded grid's corner. :mod:`geolearn.wave.modeling`
converts from and to SI units and torch tensors.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from geolearn.errors import ConfigError
from geolearn.wave.propagator import KernelKey, get_kernel

logger = logging.getLogger("geolearn.wave.solver")

__all__ = ["MEMORY_MODES", "ShotSolver", "Snapshots"]

MEMORY_MODES = ("full", "snapshots", "checkpoint")


@dataclass
class Snapshots:
    """Saved ``D²u = u[n+1] - 2u[n] + u[n-1]`` for the gradient (padded grid)."""

    data: Any
    factor: int


class ShotSolver:
    """Runs single-shot forward, Born and adjoint propagations for one padded model.

    Parameters
    ----------
    shape, spacing : tuple
        Padded grid shape and spacing in metres.
    space_order : int
        Finite-difference order.
    dtype : numpy dtype
        float32 or float64.
    free_surface_index : int
        Depth index of the free surface in the padded grid (-1: none).
    m, damp : ndarray
        Padded squared slowness (s/km)² and damping.
    cell_volume : float
        Cell area/volume (m², m³); point sources are divided by it.
    dt_ms : float
        Time step in milliseconds.
    """

    def __init__(
        self,
        shape: tuple[int, ...],
        spacing: tuple[float, ...],
        space_order: int,
        dtype: Any,
        free_surface_index: int,
        m: np.ndarray,
        damp: np.ndarray,
        cell_volume: float,
        dt_ms: float,
    ) -> None:
        self.shape, self.spacing, self.space_order = shape, spacing, space_order
        self.dtype = np.dtype(dtype)
        self.fs = free_surface_index
        self.m, self.damp = m, damp
        self.vol = cell_volume
        self.dt = dt_ms

    # ------------------------------------------------------------------ kernels and data
    def kernel(self, kind: str, gradient: str = "none", factor: int = 1) -> Any:
        key = KernelKey(kind, self.shape, self.space_order, self.dtype.name, self.fs, gradient, factor)
        return get_kernel(key, self.spacing)

    def _common(self, kernel: Any) -> dict[str, Any]:
        f = kernel.fields
        f["m"].data[:] = self.m
        f["damp"].data[:] = self.damp
        return {
            "m": f["m"],
            "damp": f["damp"],
            "vol": self.dtype.type(self.vol),
            "dt": self.dtype.type(self.dt),
        }

    def _sparse(
        self, kernel: Any, name: str, coords: np.ndarray, nt: int, data: np.ndarray | None = None
    ) -> Any:
        """Point data ``(npoint, nt)`` at ``coords``: a per-size workspace object refilled per call.

        Creating Devito symbols costs milliseconds; reusing them keeps the wrapper's overhead
        over the raw operator small.
        """
        import devito as dv

        key = ("sparse", name, coords.shape[0], nt)
        sf = kernel.workspace.get(key)
        if sf is None:
            sf = dv.SparseTimeFunction(name=name, grid=kernel.grid, npoint=coords.shape[0], nt=nt)
            kernel.workspace[key] = sf
        sf.coordinates.data[:] = coords
        sf.data[:] = 0 if data is None else data.T
        return sf

    def _time_field(self, kernel: Any, name: str) -> Any:
        """A zeroed 3-slot wavefield (workspace reused across calls)."""
        import devito as dv

        f = kernel.workspace.get(("time", name))
        if f is None:
            f = dv.TimeFunction(name=name, grid=kernel.grid, time_order=2, space_order=self.space_order)
            kernel.workspace[("time", name)] = f
        else:
            f.data_with_halo[:] = 0
        return f

    def _snapshots(self, kernel: Any, nt: int, factor: int, reuse: bool) -> Any:
        """The ``D²u`` snapshot buffer; with ``reuse`` a workspace kept on the cached kernel.

        Allocating (and page-faulting) a fresh multi-GB buffer per shot costs more than the
        propagation itself, so single-shot-at-a-time callers reuse one. Every entry the
        adjoint reads is overwritten by the forward first, so no clearing is needed.
        """
        import devito as dv

        n_snap = nt if factor == 1 else (nt - 1) // factor + 1
        if reuse and kernel.workspace.get("snap", (None, -1))[1] == n_snap:
            return kernel.workspace["snap"][0]
        if factor == 1:
            snap = dv.TimeFunction(name="snap", grid=kernel.grid, time_order=0, space_order=0, save=n_snap)
        else:
            tsub = kernel.fields["snap"].time_dim
            snap = dv.TimeFunction(
                name="snap", grid=kernel.grid, time_order=0, space_order=0, save=n_snap, time_dim=tsub
            )
        if reuse:
            kernel.workspace["snap"] = (snap, n_snap)
        return snap

    # ------------------------------------------------------------------ propagations
    def forward(
        self,
        src: np.ndarray,
        wavelet: np.ndarray,
        rec: np.ndarray,
        save: int | None = None,
        reuse: bool = False,
    ) -> tuple[np.ndarray, Snapshots | None]:
        """Nonlinear modelling of one shot.

        Parameters
        ----------
        src : ndarray, shape (1, ndim)
        wavelet : ndarray, shape (nt,)
        rec : ndarray, shape (n_rec, ndim)
        save : int, optional
            Save ``D²u`` every ``save`` steps for a later gradient.
        reuse : bool
            Save into the kernel's workspace buffer (valid until the next ``reuse`` call)
            instead of a fresh allocation.

        Returns
        -------
        records : ndarray, shape (n_rec, nt)
        snapshots : Snapshots or None
        """
        nt = wavelet.shape[-1]
        k = self.kernel("forward", "snapshots" if save else "none", save or 1)
        args = self._common(k)
        s = self._sparse(k, "src", src, nt, wavelet[None, :])
        r = self._sparse(k, "rec", rec, nt)
        args.update(src=s, rec=r, u=self._time_field(k, "u"), time_m=1, time_M=nt - 1)
        snaps = None
        if save:
            snaps = Snapshots(self._snapshots(k, nt, save, reuse), save)
            args["snap"] = snaps.data
        k.op.apply(**args)
        return np.array(r.data.T), snaps

    def born(self, src: np.ndarray, wavelet: np.ndarray, rec: np.ndarray, dm: np.ndarray) -> np.ndarray:
        """Born modelling of one shot for a padded squared-slowness perturbation ``dm``."""
        nt = wavelet.shape[-1]
        k = self.kernel("born")
        args = self._common(k)
        k.fields["dm"].data[:] = dm
        s = self._sparse(k, "src", src, nt, wavelet[None, :])
        r = self._sparse(k, "rec", rec, nt)
        args.update(
            src=s, rec=r, dm=k.fields["dm"], u=self._time_field(k, "u"), du=self._time_field(k, "du"),
            time_m=1, time_M=nt - 1,
        )  # fmt: skip
        k.op.apply(**args)
        return np.array(r.data.T)

    def adjoint(
        self, src: np.ndarray, rec: np.ndarray, residual: np.ndarray, snaps: Snapshots | None = None
    ) -> tuple[np.ndarray | None, np.ndarray]:
        """Backward propagation of receiver data ``residual`` (n_rec, nt).

        Returns
        -------
        grad_m : ndarray or None
            Gradient of ``<residual, records>`` w.r.t. padded ``m`` (only with ``snaps``).
        grad_wavelet : ndarray, shape (nt,)
            Gradient of ``<residual, records>`` w.r.t. the source wavelet.
        """
        nt = residual.shape[-1]
        k = self.kernel("adjoint", "snapshots" if snaps else "none", snaps.factor if snaps else 1)
        args = self._common(k)
        del args["vol"]  # the adjoint weights need no cell volume
        s = self._sparse(k, "src", src, nt)
        r = self._sparse(k, "rec", rec, nt, residual)
        args.update(src=s, rec=r, v=self._time_field(k, "v"), time_m=1, time_M=nt - 1)
        grad = None
        if snaps is not None:
            grad = k.fields["grad"]
            grad.data[:] = 0
            args.update(grad=grad, snap=snaps.data)
        k.op.apply(**args)
        gw = np.array(s.data[:, 0]) * (self.dt**2 / self.vol)
        return (np.array(grad.data) if grad is not None else None), gw

    def gradient_checkpointed(
        self,
        src: np.ndarray,
        wavelet: np.ndarray,
        rec: np.ndarray,
        residual_fn: Any,
        n_checkpoints: int | None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Forward, residual and adjoint with optimal (Revolve) checkpointing via pyrevolve.

        ``residual_fn(records) -> residual`` is called between the sweeps. Returns the
        records, the padded model gradient and the wavelet gradient. Memory: ``n_checkpoints``
        pairs of wavefields (default ``ceil(sqrt(nt))``) instead of ``nt`` snapshots.
        """
        from devito.checkpointing import CheckpointOperator, DevitoCheckpoint
        from pyrevolve import Revolver

        nt = wavelet.shape[-1]
        n_cp = n_checkpoints or max(2, math.ceil(math.sqrt(nt)))
        if n_cp < 1:
            raise ConfigError(f"n_checkpoints must be >= 1, got {n_checkpoints}")
        kf = self.kernel("forward")
        kb = self.kernel("adjoint", "buffer")
        u = self._time_field(kf, "u")
        s = self._sparse(kf, "src", src, nt, wavelet[None, :])
        r = self._sparse(kf, "rec", rec, nt)
        fwd_args = self._common(kf)
        fwd_args.update(src=s, rec=r, u=u, time_m=1, time_M=nt - 1)
        fwd = CheckpointOperator(kf.op, **fwd_args)
        sg = self._sparse(kb, "src", src, nt)
        ra = self._sparse(kb, "rec", rec, nt)
        grad = kb.fields["grad"]
        grad.data[:] = 0
        rev_args = self._common(kb)
        del rev_args["vol"]
        rev_args.update(src=sg, rec=ra, u=u, v=self._time_field(kb, "v"), grad=grad, time_m=1, time_M=nt - 1)
        rev = CheckpointOperator(kb.op, **rev_args)
        revolver = Revolver(DevitoCheckpoint([u]), fwd, rev, min(n_cp, nt - 1), nt - 1)
        revolver.apply_forward()
        records = np.array(r.data.T)
        ra.data[:] = np.asarray(residual_fn(records)).T
        revolver.apply_reverse()
        gw = np.array(sg.data[:, 0]) * (self.dt**2 / self.vol)
        return records, np.array(grad.data), gw

    def interpolate(self, coords: np.ndarray, field: np.ndarray) -> np.ndarray:
        """Values of a padded-grid field at off-grid points (multilinear interpolation)."""
        return self._interp(coords, field=field)[0]

    def inject(self, coords: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Adjoint of :meth:`interpolate`: spread point values onto the padded grid."""
        return self._interp(coords, values=values)[1]

    def _interp(
        self, coords: np.ndarray, field: np.ndarray | None = None, values: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        import devito as dv

        k = self.kernel("interp")
        npt = coords.shape[0]
        pin = dv.SparseFunction(name="pin", grid=k.grid, npoint=npt, coordinates=coords.astype(self.dtype))
        pout = dv.SparseFunction(name="pout", grid=k.grid, npoint=npt, coordinates=coords.astype(self.dtype))
        pin.data[:] = 0 if values is None else values
        f, g = k.fields["f"], k.fields["g"]
        f.data[:] = 0 if field is None else field
        g.data[:] = 0
        k.op.apply(f=f, g=g, pin=pin, pout=pout)
        return np.array(pout.data), np.array(g.data)
