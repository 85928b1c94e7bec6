"""Per-shot execution of the cached Devito operators on NumPy arrays (Devito units inside).

Everything here works in the padded grid with squared slowness ``m`` in (s/km)², time in
ms and coordinates in metres relative to the padded grid's corner. :mod:`geolearn.wave.modeling`
converts from and to SI units and torch tensors.

The stored forward wavefield (:class:`Snapshots`) comes in two kinds:

- ``factor == 1`` (exact): ``u[n]`` at every step ``n = 0 .. nt``, written inside the forward
  stencil loop; the adjoint and the Born kernels form ``∂²u[n] = u[n+1] - 2u[n] + u[n-1]``
  from three consecutive entries, the same arithmetic as a forward that stored ``∂²u``,
  without the forward's second pass over the wavefield;
- ``factor == k > 1`` (approximate): ``∂²u`` every k-th step, and the imaging sum is
  subsampled (times k).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from geolearn.wave.config import devito
from geolearn.wave.execution import PerformanceLog, apply
from geolearn.wave.propagator import Kernel, KernelKey, get_kernel

logger = logging.getLogger("geolearn.wave.solver")

__all__ = ["MEMORY_MODES", "ShotSolver", "Snapshots", "wavefields"]

MEMORY_MODES = ("full", "snapshots", "checkpoint")


@dataclass
class Snapshots:
    """The stored forward wavefield of one shot (padded grid, Devito ``TimeFunction``).

    Attributes
    ----------
    data : devito.TimeFunction
        ``factor == 1``: ``u[n]`` for ``n = 0 .. nt`` (``u[0] = u[1] = 0``);
        ``factor == k``: ``∂²u[n]`` at ``n = k, 2k, ...`` (entry ``n // k``).
    factor : int
        Time subsampling factor.
    nt : int
        Time samples of the propagation that stored it.
    """

    data: Any
    factor: int
    nt: int

    @property
    def nbytes(self) -> int:
        """Memory held, in bytes."""
        return int(self.data.data.nbytes)

    def second_differences(self, chunk: int = 32) -> Iterator[np.ndarray]:
        """Blocks of ``∂²u = u[n+1] - 2u[n] + u[n-1]`` over the stored steps, ``(steps, *grid)``."""
        field = self.data.data
        if self.factor > 1:
            for i in range(0, field.shape[0], chunk):
                yield np.asarray(field[i : i + chunk])
            return
        for n in range(1, self.nt, chunk):
            stop = min(n + chunk, self.nt)
            yield (
                np.asarray(field[n + 1 : stop + 1]) - 2 * np.asarray(field[n:stop]) + field[n - 1 : stop - 1]
            )


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
    performance : PerformanceLog, optional
        Where every propagation's numbers are recorded.
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
        performance: PerformanceLog | None = None,
    ) -> None:
        self.shape, self.spacing, self.space_order = shape, spacing, space_order
        self.dtype = np.dtype(dtype)
        self.fs = free_surface_index
        self.m, self.damp = m, damp
        self.vol = cell_volume
        self.dt = dt_ms
        self.performance = performance
        self.grid_points = int(np.prod(shape))

    # ------------------------------------------------------------------ kernels and data
    def kernel(self, kind: str, gradient: str = "none", factor: int = 1) -> Kernel:
        key = KernelKey(kind, self.shape, self.space_order, self.dtype.name, self.fs, gradient, factor)
        return get_kernel(key, self.spacing)

    def common(self, kernel: Kernel) -> dict[str, Any]:
        """The model arguments of every propagation (squared slowness, damping, dt, cell volume)."""
        f = kernel.fields
        f["m"].data[:] = self.m
        f["damp"].data[:] = self.damp
        args = {"m": f["m"], "damp": f["damp"], "dt": self.dtype.type(self.dt)}
        if any(p.name == "vol" for p in kernel.op.parameters):  # kernels that inject a source
            args["vol"] = self.dtype.type(self.vol)
        return args

    def sparse(
        self, kernel: Kernel, name: str, coords: np.ndarray, nt: int, data: np.ndarray | None = None
    ) -> Any:
        """Point data ``(npoint, nt)`` at ``coords``: a per-size workspace object refilled per call.

        ``data`` may have fewer than ``nt`` samples (the rest are zero): kernels that read an
        exact wavefield store (``nt + 1`` entries) need every time-indexed argument that long.
        Creating Devito symbols costs milliseconds; reusing them keeps the wrapper's overhead
        over the raw operator small.
        """
        key = ("sparse", name, coords.shape[0], nt)
        sf = kernel.workspace.get(key)
        if sf is None:
            sf = devito().SparseTimeFunction(name=name, grid=kernel.grid, npoint=coords.shape[0], nt=nt)
            kernel.workspace[key] = sf
        sf.coordinates.data[:] = coords
        sf.data[:] = 0
        if data is not None:
            sf.data[: data.shape[-1]] = data.T
        return sf

    def time_field(self, kernel: Kernel, name: str) -> Any:
        """A zeroed 3-slot wavefield (workspace reused across calls)."""
        f = kernel.workspace.get(("time", name))
        if f is None:
            f = devito().TimeFunction(name=name, grid=kernel.grid, time_order=2, space_order=self.space_order)
            kernel.workspace[("time", name)] = f
        else:
            f.data_with_halo[:] = 0
        return f

    def store(self, kernel: Kernel, nt: int, factor: int, reuse: bool, workspace: str = "store") -> Snapshots:
        """A wavefield store for ``nt`` samples (see :class:`Snapshots`); with ``reuse`` the one
        kept on the cached forward kernel under the name ``workspace``.

        Allocating (and page-faulting) a fresh multi-GB buffer per shot costs more than the
        propagation itself, so one-shot-at-a-time callers reuse one. Every entry the adjoint
        reads is written by the forward first (entry 0 of an exact store, ``u[0]``, is zeroed).
        """
        n_slots = nt + 1 if factor == 1 else (nt - 1) // factor + 1
        cached = kernel.workspace.get(workspace)
        if reuse and cached is not None and cached.data.shape[0] == n_slots:
            snaps = Snapshots(cached.data, factor, nt)
        else:
            template = kernel.fields["snap"]
            snaps = Snapshots(
                devito().TimeFunction(
                    name="snap", grid=kernel.grid, time_order=0, space_order=0, save=n_slots,
                    time_dim=template.time_dim,
                ),
                factor, nt,
            )  # fmt: skip
            if reuse:
                kernel.workspace[workspace] = snaps
        if factor == 1:
            snaps.data.data[0] = 0  # u[0]; the forward writes u[1 .. nt]
        return snaps

    def _run(self, kernel: Kernel, nt: int, **arguments: Any) -> None:
        """One sweep over the record's time axis (steps ``1 .. nt - 1``)."""
        apply(kernel.op, self.grid_points, self.performance, wavefields(kernel), nt - 1, 1, nt - 1,
              **self.common(kernel), **arguments)  # fmt: skip

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
        src : ndarray, shape (npoint, ndim)
            One source point, or the points of a supershot (simultaneous sources).
        wavelet : ndarray, shape (nt,) or (npoint, nt)
            The signature of each source point.
        rec : ndarray, shape (n_rec, ndim)
        save : int, optional
            Store the wavefield for a later gradient: 1 exact, ``k > 1`` every k-th ``∂²u``.
        reuse : bool
            Store into the kernel's workspace buffer (valid until the next ``reuse`` call)
            instead of a fresh allocation.

        Returns
        -------
        records : ndarray, shape (n_rec, nt)
        snapshots : Snapshots or None
        """
        nt = wavelet.shape[-1]
        k = self.kernel("forward", _store_kind(save), save or 1)
        samples = _samples(nt, save)
        s = self.sparse(k, "src", src, samples, np.reshape(wavelet, (-1, nt)))
        r = self.sparse(k, "rec", rec, samples)
        u = self.time_field(k, "u")
        snaps = self.store(k, nt, save, reuse) if save else None
        extra = {"snap": snaps.data} if snaps is not None else {}
        self._run(k, nt, src=s, rec=r, u=u, **extra)
        if snaps is not None and snaps.factor == 1:
            snaps.data.data[nt] = u.data[nt % 3]  # the last step, computed after the last store
        return np.array(r.data[:nt].T), snaps

    def born(
        self,
        src: np.ndarray,
        wavelet: np.ndarray,
        rec: np.ndarray,
        dm: np.ndarray,
        background: Snapshots | None = None,
    ) -> np.ndarray:
        """Born modelling of one shot for a padded squared-slowness perturbation ``dm``.

        With ``background`` (an exact store of this shot's forward wavefield) the background
        is read instead of propagated: one wavefield per step instead of two.
        """
        nt = wavelet.shape[-1]
        if background is not None and background.factor != 1:
            raise ValueError("Born modelling needs an exact (factor 1) background store")
        k = self.kernel("born", "wavefield" if background is not None else "none")
        k.fields["dm"].data[:] = dm
        r = self.sparse(k, "rec", rec, _samples(nt, background and 1))
        args: dict[str, Any] = {"rec": r, "dm": k.fields["dm"], "du": self.time_field(k, "du")}
        if background is not None:
            args["snap"] = background.data
        else:
            signature = np.reshape(wavelet, (-1, nt))
            args.update(src=self.sparse(k, "src", src, nt, signature), u=self.time_field(k, "u"))
        self._run(k, nt, **args)
        return np.array(r.data[:nt].T)

    def adjoint(
        self, src: np.ndarray, rec: np.ndarray, residual: np.ndarray, snaps: Snapshots | None = None
    ) -> tuple[np.ndarray | None, np.ndarray]:
        """Backward propagation of receiver data ``residual`` (n_rec, nt).

        Returns
        -------
        grad_m : ndarray or None
            Gradient of ``<residual, records>`` w.r.t. padded ``m`` (only with ``snaps``).
        grad_wavelet : ndarray, shape (nt,) for one source point, (npoint, nt) for several
            Gradient of ``<residual, records>`` w.r.t. the source wavelet(s).
        """
        nt = residual.shape[-1]
        save = snaps.factor if snaps else None
        k = self.kernel("adjoint", _store_kind(save), save or 1)
        s = self.sparse(k, "src", src, _samples(nt, save))
        r = self.sparse(k, "rec", rec, _samples(nt, save), residual)
        args: dict[str, Any] = {"src": s, "rec": r, "v": self.time_field(k, "v")}
        grad = None
        if snaps is not None:
            grad = k.fields["grad"]
            grad.data[:] = 0
            args.update(grad=grad, snap=snaps.data)
        self._run(k, nt, **args)
        gw = np.array(s.data[:nt].T) * (self.dt**2 / self.vol)
        return (np.array(grad.data) if grad is not None else None), (gw[0] if gw.shape[0] == 1 else gw)

    def interpolate(self, coords: np.ndarray, field: np.ndarray) -> np.ndarray:
        """Values of a padded-grid field at off-grid points (multilinear interpolation)."""
        return self._interp(coords, field=field)[0]

    def inject(self, coords: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Adjoint of :meth:`interpolate`: spread point values onto the padded grid."""
        return self._interp(coords, values=values)[1]

    def _interp(
        self, coords: np.ndarray, field: np.ndarray | None = None, values: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        dv = devito()
        k = self.kernel("interp")
        npt = coords.shape[0]
        pin = dv.SparseFunction(name="pin", grid=k.grid, npoint=npt, coordinates=coords.astype(self.dtype))
        pout = dv.SparseFunction(name="pout", grid=k.grid, npoint=npt, coordinates=coords.astype(self.dtype))
        pin.data[:] = 0 if values is None else values
        f, g = k.fields["f"], k.fields["g"]
        f.data[:] = 0 if field is None else field
        g.data[:] = 0
        threads = {p.name: 1 for p in k.op.parameters if p.name.startswith("nthreads")}
        k.op.apply(f=f, g=g, pin=pin, pout=pout, **threads)
        return np.array(pout.data), np.array(g.data)


def wavefields(kernel: Kernel) -> int:
    """Wave equations ``kernel`` advances per time step, for the cost ledger (:mod:`geolearn.ledger`).

    A forward or an adjoint advances one; a Born kernel two when it propagates its background
    with the scattered field (``gradient="none"``) and one when it reads a kept store; the
    interpolation kernel none.
    """
    kind, kept = kernel.key.kind, kernel.key.gradient != "none"
    return {"forward": 1, "adjoint": 1, "born": 1 if kept else 2, "interp": 0}[kind]


def _samples(nt: int, save: int | None) -> int:
    """Length of time-indexed arguments next to a store (an exact store has ``nt + 1`` entries)."""
    return nt + 1 if save == 1 else nt


def _store_kind(save: int | None) -> str:
    """Kernel variant for a store with subsampling ``save`` (None: no store)."""
    if not save:
        return "none"
    return "wavefield" if save == 1 else "snapshots"
