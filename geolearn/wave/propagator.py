"""Symbolic acoustic propagators and the cache of generated Devito operators.

The symbolic problem (grid, fields, update equations) is kept apart from the generated
code: :func:`get_kernel` builds a Devito ``Operator`` once per :class:`KernelKey` and every
later call with new velocities, wavelets or coordinates reuses it. Devito operators are
size-generic (sizes are runtime arguments), so the key holds no receiver count or number
of time steps: data-carrying functions are created per call on the cached grid and passed
to ``Operator.apply`` by name.

Discretisation (all operators share it, which is what makes the adjoints exact). With
``m = 1/vp²`` (Devito units: km/s, ms, m), damping ``eta`` and the centred Laplacian ``L``,

``u[n+1] = a (dt² L u[n] + 2 m u[n] - b u[n-1]) + dt²/(m V) Πᵀ s[n]``,
``a = 1/(m + eta dt/2)``, ``b = m - eta dt/2``, ``V`` the cell volume,

for ``n = 1 .. nt-1`` with ``u[0] = u[1] = 0``, and records ``d[n] = Π u[n]``. The
adjoint runs the same recurrence backwards on ``q = a w`` (``w`` the adjoint state):
``q[n] = a (dt² L q[n+1] + 2 m q[n+1] - b q[n+2]) + Πᵀ r[n] / m``. Since ``L`` is symmetric
and ``eta = 0`` wherever sources and receivers sit, this is the exact transpose of the
forward map, so dot tests hold to rounding error.

A free surface is a Dirichlet row (``p = 0`` at depth index ``so/2``) with ``so/2`` ghost
rows above it holding the antisymmetric mirror of the rows below (the image method). The
mirrored Laplacian stays symmetric, so the adjoints stay exact.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

logger = logging.getLogger("geolearn.wave.propagator")

__all__ = ["KernelKey", "build_count", "clear_cache", "get_kernel"]

_KINDS = ("forward", "born", "adjoint", "interp")
_BUILDS = 0
# Keyed by (KernelKey, spacing): the spacing is substituted into the generated code.
_CACHE: dict[tuple[KernelKey, tuple[float, ...]], Kernel] = {}


@dataclass(frozen=True)
class KernelKey:
    """What determines a generated operator.

    Attributes
    ----------
    kind : {"forward", "born", "adjoint", "interp"}
        ``forward``: nonlinear modelling; ``born``: linearised modelling; ``adjoint``:
        backward propagation with source-wavelet and (optionally) model gradients;
        ``interp``: bare interpolation to / injection from off-grid points.
    shape : tuple of int
        Shape of the padded computational grid.
    space_order : int
        Even finite-difference order of the Laplacian (2 to 16).
    dtype : str
        ``"float32"`` or ``"float64"``.
    free_surface_index : int
        Depth index of the free surface in the padded grid, or ``-1`` for none.
    gradient : {"none", "snapshots", "buffer"}
        For ``forward``: whether ``D²u`` snapshots are saved; for ``adjoint``: where the
        model gradient reads ``D²u`` from (saved snapshots, or the 3-slot forward buffer
        kept current by checkpointing). Ignored by ``born`` and ``interp``.
    factor : int
        Snapshot subsampling factor (1 saves every step).
    """

    kind: str
    shape: tuple[int, ...]
    space_order: int
    dtype: str
    free_surface_index: int = -1
    gradient: str = "none"
    factor: int = 1


@dataclass
class Kernel:
    """A generated operator with the symbolic objects it was built from."""

    key: KernelKey
    op: Any
    grid: Any
    fields: dict[str, Any]
    workspace: dict[str, Any] = field(default_factory=dict)


def build_count() -> int:
    """Number of Devito operators generated and compiled in this process so far.

    A second modelling call with new velocities, wavelets or coordinates of the same sizes
    leaves this number unchanged.
    """
    return _BUILDS


def clear_cache() -> None:
    """Drop all cached operators and their workspaces (the build counter keeps counting)."""
    _CACHE.clear()


def get_kernel(key: KernelKey, spacing: tuple[float, ...]) -> Kernel:
    """Return the cached operator for ``key``, generating and compiling it on first use.

    Parameters
    ----------
    key : KernelKey
        Operator description.
    spacing : tuple of float
        Grid spacing in metres. It is substituted into the generated stencils (as Devito's
        ``subs=grid.spacing_map`` does), so a new spacing builds a new operator; models of the
        same padded shape but different spacing must never share one.
    """
    global _BUILDS
    cache_key = (key, tuple(float(h) for h in spacing))
    kernel = _CACHE.get(cache_key)
    if kernel is None:
        if key.kind not in _KINDS:
            raise ValueError(f"unknown operator kind {key.kind!r}; valid: {_KINDS}")
        start = time.perf_counter()
        kernel = _build(key, cache_key[1])
        _CACHE[cache_key] = kernel
        _BUILDS += 1
        logger.debug("built %s operator in %.2f s (%s)", key.kind, time.perf_counter() - start, key)
    return kernel


# ---------------------------------------------------------------------------- building
def _build(key: KernelKey, spacing: tuple[float, ...]) -> Kernel:
    import devito as dv

    dtype = np.dtype(key.dtype).type
    extent = tuple(h * (n - 1) for h, n in zip(spacing, key.shape))
    grid = dv.Grid(shape=key.shape, extent=extent, dtype=dtype)
    so = key.space_order
    m = dv.Function(name="m", grid=grid, space_order=so)
    damp = dv.Function(name="damp", grid=grid, space_order=0)
    dt = grid.stepping_dim.spacing
    a = 1 / (m + damp * dt / 2)
    b = m - damp * dt / 2
    fields: dict[str, Any] = {"m": m, "damp": damp}

    if key.kind == "interp":
        f = dv.Function(name="f", grid=grid, space_order=so)
        g = dv.Function(name="g", grid=grid, space_order=so)
        pin = dv.SparseFunction(name="pin", grid=grid, npoint=1)
        pout = dv.SparseFunction(name="pout", grid=grid, npoint=1)
        eqs = [pout.interpolate(expr=f), pin.inject(field=g, expr=pin)]
        fields.update(f=f, g=g, pin=pin, pout=pout)
        return Kernel(key, dv.Operator(eqs, name="geolearn_interp"), grid, fields)

    def stencil_forward(field: Any) -> Any:
        return a * (dt**2 * field.laplace + 2 * m * field - b * field.backward)

    t = grid.stepping_dim
    src = dv.SparseTimeFunction(name="src", grid=grid, npoint=1, nt=2)
    rec = dv.SparseTimeFunction(name="rec", grid=grid, npoint=1, nt=2)
    vol = dv.Constant(name="vol", dtype=dtype)
    fields.update(src=src, rec=rec, vol=vol)
    eqs: list[Any] = []

    if key.kind in ("forward", "born"):
        u = dv.TimeFunction(name="u", grid=grid, time_order=2, space_order=so)
        fields["u"] = u
        eqs.append(dv.Eq(u.forward, stencil_forward(u)))
        eqs += src.inject(field=u.forward, expr=src * dt**2 / (m * vol))
        eqs += _free_surface(u, t + 1, grid, key)
        d2u = u.forward - 2 * u + u.backward
        if key.kind == "forward":
            eqs += rec.interpolate(expr=u)
            if key.gradient == "snapshots":
                snap = _snapshot_field(grid, key, dv)
                fields["snap"] = snap
                eqs.append(dv.Eq(snap, d2u))
        else:
            du = dv.TimeFunction(name="du", grid=grid, time_order=2, space_order=so)
            dm = dv.Function(name="dm", grid=grid, space_order=0)
            fields.update(du=du, dm=dm)
            eqs.append(dv.Eq(du.forward, stencil_forward(du) - a * dm * d2u))
            eqs += _free_surface(du, t + 1, grid, key)
            eqs += rec.interpolate(expr=du)
    else:  # adjoint
        v = dv.TimeFunction(name="v", grid=grid, time_order=2, space_order=so)
        v1 = v.forward
        v2 = v.subs(t, t + 2)
        fields["v"] = v
        eqs.append(dv.Eq(v, a * (dt**2 * v1.laplace + 2 * m * v1 - b * v2)))
        eqs += rec.inject(field=v, expr=rec / m)
        eqs += _free_surface(v, t, grid, key)
        eqs += src.interpolate(expr=v1)
        if key.gradient != "none":
            grad = dv.Function(name="grad", grid=grid, space_order=0)
            fields["grad"] = grad
            if key.gradient == "snapshots":
                snap = _snapshot_field(grid, key, dv)
                fields["snap"] = snap
                eqs.append(dv.Inc(grad, -key.factor * v1 * snap))
            else:  # the forward buffer holds u[n+1], u[n], u[n-1] (checkpointing)
                u = dv.TimeFunction(name="u", grid=grid, time_order=2, space_order=so)
                fields["u"] = u
                eqs.append(dv.Inc(grad, -v1 * (u.forward - 2 * u + u.backward)))

    op = dv.Operator(eqs, subs=grid.spacing_map, name=f"geolearn_{key.kind}")
    return Kernel(key, op, grid, fields)


def _snapshot_field(grid: Any, key: KernelKey, dv: Any) -> Any:
    """Saved ``D²u`` snapshots, every ``factor``-th time step (size set per call)."""
    if key.factor == 1:
        return dv.TimeFunction(name="snap", grid=grid, time_order=0, space_order=0, save=2)
    tsub = dv.ConditionalDimension(name="tsub", parent=grid.time_dim, factor=key.factor)
    return dv.TimeFunction(name="snap", grid=grid, time_order=0, space_order=0, save=2, time_dim=tsub)


def _free_surface(field: Any, tidx: Any, grid: Any, key: KernelKey) -> list[Any]:
    """Dirichlet surface row and antisymmetric ghost rows above it (image method)."""
    import devito as dv

    k0 = key.free_surface_index
    if k0 < 0:
        return []
    lateral = grid.dimensions[:-1]
    eqs = [dv.Eq(field[(tidx, *lateral, k0)], 0)]
    eqs += [
        dv.Eq(field[(tidx, *lateral, k0 - i)], -field[(tidx, *lateral, k0 + i)]) for i in range(1, k0 + 1)
    ]
    return eqs
