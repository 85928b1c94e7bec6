"""Simultaneous-source encoding: supershots of randomly weighted shots, and random shot subsets.

A supershot fires the sources of several shots at once, source ``i`` with its wavelet times a
weight ``w_i``. The wave equation is linear in the source, so over a receiver spread that all
these shots share, the supershot's records are exactly ``Σ_i w_i d_i``, its Born records
``Σ_i w_i J_i δv`` and its migration ``Σ_i w_i J_iᵀ r``: one wave-equation solve where the
shots took one each. :func:`encode` builds that experiment as a :class:`~geolearn.wave.Geometry`
whose shots have several source points (``src_positions`` ``(n_supershots, npoint, ndim)``,
``wavelets`` ``(n_supershots, npoint, nt)``); every wave operator (``WaveModeling``,
``BornOperator``, ``fwi_objective``, ``ShotPropagator``, ``SourceModeling``) takes it as it is,
and counts (``.performance``) one propagation per supershot.

:class:`SourceEncoding` draws the weights for stochastic inversion and training: Rademacher
(±1) or Gaussian weights over all shots or a random subset of them, or a plain random subset
of shots (no common receivers needed), redrawn by :meth:`SourceEncoding.draw` (e.g. every
training step) from a seeded generator. By default the weights are scaled so that
``E[WᵀW] = I``: the encoded misfit ``½‖W (F(v) − d)‖²`` and its gradient are unbiased estimates
of the full ones. The cross-talk between shots (``w_i w_j`` terms, ``i ≠ j``) averages out
over draws, not within one.
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Sequence

import numpy as np
import torch

from geolearn.errors import ConfigError, GeometryError, NonFiniteError, ShapeError
from geolearn.wave.geometry import Geometry
from geolearn.wave.records import ShotRecords
from geolearn.wave.wavelet import max_frequency

logger = logging.getLogger("geolearn.wave.encoding")

__all__ = ["ENCODINGS", "SourceEncoding", "common_receivers", "encode", "encode_records"]

#: Kinds of :class:`SourceEncoding`: random-sign or Gaussian supershots, or random shot subsets.
ENCODINGS = ("rademacher", "gaussian", "subset")


def common_receivers(geometry: Geometry, shots: Sequence[int] | None = None) -> np.ndarray:
    """The receiver positions ``(n_receivers, ndim)`` (m) that ``shots`` (default: all) share.

    Raises
    ------
    GeometryError
        Naming the shots whose receivers differ from the first one's (count or positions):
        such shots cannot be summed into one supershot record.
    """
    shots = list(range(geometry.n_shots)) if shots is None else [int(s) for s in shots]
    first = geometry.rec_positions[shots[0]]
    differ = [s for s in shots[1:] if not np.array_equal(geometry.rec_positions[s], first)]
    if differ:
        listed = ", ".join(map(str, differ[:10])) + (
            f" and {len(differ) - 10} more" if len(differ) > 10 else ""
        )
        raise GeometryError(
            f"simultaneous-source encoding needs one receiver spread shared by the encoded shots; "
            f"shots {listed} record at other positions than shot {shots[0]} "
            f"({first.shape[0]} receivers). Encode only shots sharing receivers, or use kind='subset'"
        )
    return first


def _weight_matrix(weights: np.ndarray | torch.Tensor | Sequence[float], n_shots: int) -> np.ndarray:
    w = weights.detach().cpu().numpy() if isinstance(weights, torch.Tensor) else np.asarray(weights)
    w = np.asarray(w, dtype=np.float64)
    w = w[None] if w.ndim == 1 else w
    if w.ndim != 2 or w.shape[1] != n_shots:
        raise ShapeError(
            f"weights must have shape (n_supershots, {n_shots}) or ({n_shots},); got {np.shape(weights)}"
        )
    if not np.isfinite(w).all():
        raise NonFiniteError(
            f"weights contain non-finite values at {np.argwhere(~np.isfinite(w))[0].tolist()}"
        )
    return w


def encode(geometry: Geometry, weights: np.ndarray | torch.Tensor | Sequence[float]) -> Geometry:
    """The supershot experiment: shot ``i``'s source fires ``weights[k, i] × wavelet_i`` in supershot ``k``.

    Parameters
    ----------
    geometry : Geometry
        The survey; the shots with a non-zero weight must share their receivers.
    weights : array_like or torch.Tensor
        ``(n_supershots, n_shots)``, or ``(n_shots,)`` for one supershot; real, dimensionless.

    Returns
    -------
    Geometry
        ``n_supershots`` shots over the same model and time axis. Each has as source points the
        shots with a non-zero weight in any supershot (``npoint`` of them):
        ``src_positions`` ``(n_supershots, npoint, ndim)`` m, ``wavelets``
        ``(n_supershots, npoint, nt)`` (the weighted wavelets, model dtype) and the common
        receivers. Records modelled on it are ``(n_supershots, n_receivers, nt)`` and equal
        :func:`encode_records` of the single-shot records (to rounding).

    Raises
    ------
    ShapeError, NonFiniteError
        Weights of the wrong shape, or not finite.
    ConfigError
        All weights zero (no source fires).
    GeometryError
        Encoded shots with different receivers (named).
    """
    w = _weight_matrix(weights, geometry.n_shots)
    fired = np.flatnonzero(np.any(w != 0, axis=0))
    if fired.size == 0:
        raise ConfigError("all weights are zero: no source fires in any supershot")
    receivers = common_receivers(geometry, fired)
    n_super = w.shape[0]
    base = geometry.wavelets[fired].double()  # (npoint, nt)
    new = copy.copy(geometry)  # model, time axis and dt are shared
    new.n_shots = n_super
    new.src_positions = np.broadcast_to(
        geometry.src_positions[fired], (n_super, *fired.shape, geometry.model.ndim)
    ).copy()
    new.rec_positions = [receivers] * n_super
    new.wavelets = (torch.as_tensor(w[:, fired, None]) * base[None]).to(geometry.wavelets.dtype)
    new.fmax = max_frequency(base.numpy(), geometry.dt)
    return new


def encode_records(records: torch.Tensor | ShotRecords, weights: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Supershot records ``Σ_i weights[k, i] d_i`` of single-shot records over a common spread.

    Parameters
    ----------
    records : torch.Tensor or ShotRecords
        ``(n_shots, n_receivers, nt)``; per-shot gathers must all have ``n_receivers`` traces.
    weights : array_like or torch.Tensor
        ``(n_supershots, n_shots)`` or ``(n_shots,)``.

    Returns
    -------
    torch.Tensor
        ``(n_supershots, n_receivers, nt)`` in ``records``' dtype and device; differentiable
        w.r.t. ``records``.
    """
    if isinstance(records, ShotRecords):
        if len(set(records.n_receivers)) != 1:
            raise ShapeError(f"encoding needs equal receiver counts per shot; got {records.n_receivers}")
        records = torch.stack(list(records))
    if records.ndim != 3:
        raise ShapeError(f"records must be (n_shots, n_receivers, nt); got {tuple(records.shape)}")
    w = torch.as_tensor(_weight_matrix(weights, records.shape[0]), dtype=records.dtype, device=records.device)
    return torch.einsum("ks,srt->krt", w, records)


def _generator(seed: int | torch.Generator | None) -> torch.Generator:
    if isinstance(seed, torch.Generator):
        return seed
    if seed is None:
        return torch.Generator().manual_seed(int(torch.randint(0, 2**62, (1,))))
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ConfigError(f"seed must be an integer, a torch.Generator or None, got {seed!r}")
    return torch.Generator().manual_seed(int(seed))


class SourceEncoding:
    """Random supershots (or shot subsets) of a survey, redrawn on demand.

    Parameters
    ----------
    geometry : Geometry
        The full survey. For ``"rademacher"`` and ``"gaussian"`` all its shots must share
        their receivers (checked here, before any solve: :func:`common_receivers`).
    kind : {"rademacher", "gaussian", "subset"}
        ``"rademacher"``: weights ±1; ``"gaussian"``: standard normal weights; ``"subset"``:
        ``subset`` shots drawn without replacement and modelled one by one (any receivers).
    n_supershots : int
        Independently weighted supershots per draw (not for ``"subset"``).
    subset : int, optional
        Shots per supershot, drawn at random (without replacement) for each supershot and
        draw; default all shots. Required for ``"subset"``: the number of shots drawn.
    unbiased : bool
        Scale the weights by ``sqrt(n_shots / (n_supershots · shots per supershot))`` so that
        ``E[WᵀW] = I``: the encoded misfit and gradient are unbiased estimates of the full
        ones. False: weights exactly ±1 / N(0, 1) / 1.
    seed : int, torch.Generator or None
        Source of the draws: a seed, a generator (advanced by every draw) or None (seeded
        from torch's global generator, so ``torch.manual_seed`` makes it reproducible).

    Attributes
    ----------
    weights : torch.Tensor
        ``(n_rows, n_shots)`` float64, the current draw: row ``k`` holds supershot ``k``'s
        weights (for ``"subset"``, row ``k`` selects the k-th drawn shot).
    geometry : Geometry
        The current draw's experiment (:func:`encode`, or ``Geometry.subset`` with scaled
        wavelets): build the operators of a training step on it.
    n_draws : int
        Draws so far (the constructor makes the first).

    Examples
    --------
    >>> enc = SourceEncoding(geometry, "rademacher", seed=0)        # doctest: +SKIP
    >>> for step in range(n_steps):                                  # doctest: +SKIP
    ...     geo = enc.draw()                                         # new weights
    ...     J = BornOperator(model, geo, v0)                         # 1 solve per J / Jᵀ
    ...     loss = ((net(enc.encode_data(d_obs), J) - target) ** 2).mean()
    """

    def __init__(
        self,
        geometry: Geometry,
        kind: str = "rademacher",
        *,
        n_supershots: int = 1,
        subset: int | None = None,
        unbiased: bool = True,
        seed: int | torch.Generator | None = None,
    ) -> None:
        n = geometry.n_shots
        if kind not in ENCODINGS:
            raise ConfigError(f"kind must be one of {ENCODINGS}, got {kind!r}")
        if isinstance(n_supershots, bool) or not isinstance(n_supershots, int) or n_supershots < 1:
            raise ConfigError(f"n_supershots must be an integer >= 1, got {n_supershots!r}")
        if kind == "subset" and (subset is None or n_supershots != 1):
            raise ConfigError(
                f"kind='subset' draws `subset` single shots: give subset (1..{n}) and leave n_supershots at 1; "
                f"got subset={subset!r}, n_supershots={n_supershots}"
            )
        if subset is not None and (
            isinstance(subset, bool) or not isinstance(subset, int) or not 1 <= subset <= n
        ):
            raise ConfigError(f"subset must be a number of shots in 1..{n}, got {subset!r}")
        if kind != "subset":
            common_receivers(geometry)
        self.base, self.kind = geometry, kind
        self.n_supershots, self.subset, self.unbiased = n_supershots, subset, unbiased
        self.generator = _generator(seed)
        per_row = subset if subset is not None else n
        rows = 1 if kind == "subset" else n_supershots
        self.scale = math.sqrt(n / (rows * per_row)) if unbiased else 1.0
        self.n_draws = 0
        self.draw()

    def draw(self) -> Geometry:
        """Draw new weights (and shots); returns the new :attr:`geometry`."""
        n, g = self.base.n_shots, self.generator
        if self.kind == "subset":
            shots = torch.randperm(n, generator=g)[: self.subset].sort().values
            w = torch.zeros(self.subset, n, dtype=torch.float64)
            w[torch.arange(self.subset), shots] = self.scale
        else:
            shape = (self.n_supershots, n)
            if self.kind == "rademacher":
                w = torch.randint(0, 2, shape, generator=g).double() * 2 - 1
            else:
                w = torch.randn(shape, generator=g, dtype=torch.float64)
            if self.subset is not None:
                mask = torch.zeros(shape, dtype=torch.float64)
                for row in mask:
                    row[torch.randperm(n, generator=g)[: self.subset]] = 1.0
                w = w * mask
            w = w * self.scale
        self.n_draws += 1
        self._set(w)
        return self.geometry

    def _set(self, weights: torch.Tensor) -> None:
        self.weights = weights
        if self.kind == "subset":
            shots = weights.argmax(dim=1).tolist()
            geo = self.base.subset(shots)
            geo.wavelets = (geo.wavelets.double() * self.scale).to(self.base.wavelets.dtype)
            self.geometry = geo
        else:
            self.geometry = encode(self.base, weights)
        logger.debug("draw %d: %s", self.n_draws, self.geometry)

    @property
    def shots(self) -> list[int]:
        """Shots of the full survey that fire in the current draw."""
        return torch.nonzero(self.weights.abs().sum(0)).flatten().tolist()

    def encode_data(self, records: torch.Tensor | ShotRecords) -> torch.Tensor:
        """Observed (or any) full-survey records as the current draw's records.

        Parameters
        ----------
        records : torch.Tensor or ShotRecords
            ``(n_shots, max_receivers, nt)`` padded like the full geometry's records, or its
            per-shot gathers.

        Returns
        -------
        torch.Tensor
            ``geometry.record_shape`` of the current draw: ``Σ_i w_ki d_i``
            ``(n_supershots, n_receivers, nt)``, or the drawn shots' records times the scale
            ``(subset, max_receivers of the drawn shots, nt)``. ``records``' dtype and device,
            differentiable w.r.t. ``records``.
        """
        base = self.base
        if isinstance(records, ShotRecords):
            if records.n_receivers != base.n_receivers or records.nt != base.nt:
                raise ShapeError(f"records {records!r} do not match the encoded survey {base!r}")
            records = records.padded()
        if tuple(records.shape) != base.record_shape:
            raise ShapeError(
                f"records have shape {tuple(records.shape)}; the survey's are {base.record_shape}"
            )
        if self.kind == "subset":
            shots = self.weights.argmax(dim=1).to(records.device)
            return records[shots, : self.geometry.max_receivers] * self.scale
        return encode_records(records, self.weights)

    def state_dict(self) -> dict[str, torch.Tensor | int]:
        """Generator state, draw count and current weights (tensors and ints: ``torch.save``-able,
        loadable with ``weights_only=True``) to resume a training run's sequence of draws."""
        return {
            "generator": self.generator.get_state(),
            "n_draws": self.n_draws,
            "weights": self.weights.clone(),
        }

    def load_state_dict(self, state: dict[str, torch.Tensor | int]) -> None:
        """Restore :meth:`state_dict`: the current draw and the draws that follow it."""
        weights = torch.as_tensor(state["weights"], dtype=torch.float64)
        if tuple(weights.shape) != tuple(self.weights.shape):
            raise ShapeError(
                f"saved weights have shape {tuple(weights.shape)}; this encoding draws {tuple(self.weights.shape)}"
            )
        self.generator.set_state(state["generator"])
        self.n_draws = int(state["n_draws"])
        self._set(weights)

    def __repr__(self) -> str:
        return (
            f"SourceEncoding(kind={self.kind!r}, n_shots={self.base.n_shots}, n_supershots={self.n_supershots}, "
            f"subset={self.subset}, scale={self.scale:.4g}, n_draws={self.n_draws})"
        )
