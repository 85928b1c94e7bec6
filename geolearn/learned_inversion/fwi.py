"""Learned FWI: an unrolled gradient scheme whose layers take the adjoint-state FWI gradient.

Layer ``k`` computes the FWI gradient ``g_k = ∇_v ½‖F(v_k) − d‖²`` with the Devito wave
operators (:func:`~geolearn.wave.fwi_objective`: one forward and one adjoint solve per shot),
normalises it by its RMS, ``ĝ_k = g_k / rms(g_k)`` (so that the few large values near
the sources do not set the scale), and a small network proposes the update

    v_{k+1} = v_k − α_k(μ_k) · tanh( p_k(z) ⊙ ĝ_k + N_k([v̂_k, ĝ_k]) ),

with a learned step ``α_k(μ) = max_update · sigmoid(a_k + b_k log μ) ∈ (0, max_update]`` (m/s)
that depends on the relative data misfit ``μ_k = ‖F(v_k) − d‖ / ‖d‖`` (free: the gradient
computes ``F(v_k)``), a learned depth preconditioner ``p_k(z) > 0`` and a CNN ``N_k`` on the
normalised model and gradient (last layer starts at zero). The misfit is the one thing the
normalised gradient hides: how far the model is from explaining the data, so a start near the
truth gets small steps. ``|v_{k+1} − v_k| ≤ α_k`` pointwise, so velocities stay within
``K·max_update`` of the start.

Physics at call time
--------------------
The network stores no modelling operator: ``net(v0, observed, geometry)`` takes the
acquisition (and through it the grid) of the call. What it learned transfers to other
acquisitions and grids because it is expressed without them: the step in m/s as a function of
the dimensionless misfit, the gradient normalised by its RMS, the model normalised by fixed
``v_scale`` (m/s), and the preconditioner ``p_k(z)`` on knots in *metres* of depth (linear
between knots, constant below the deepest), evaluated at the grid depths of the call. The CNN
is convolutional (any grid shape) but counts in grid cells, so a grid spacing or frequency band
outside the training ones is warned about by :mod:`~geolearn.learned_inversion.persistence`.

Memory plan (measured by ``benchmarks/learned_inversion_bench.py``, in ``docs/learned_inversion.md``)
-----------------------------------------------------------------------------------------------------
- Gradients enter the networks as *inputs* (detached): geolearn has no second-order adjoint,
  so ``∂g_k/∂v_k`` is not propagated. Training is therefore greedy, layer by layer
  (Hauptmann et al. 2018): for layer ``k`` the triples ``(v_k, g_k, μ_k)`` of all training models are
  computed once (``N`` gradients) and stored (two model-size arrays and a number per model), the layer is
  trained on them with no wave-equation solve, then ``v_{k+1}`` is computed once.
- Inside a gradient call the forward wavefield of one shot is held (``memory="full"``:
  ``nt`` snapshots; ``"checkpoint"``: ``√nt`` wavefields, forward recomputed) and freed before
  the next shot; nothing of it survives the call.
- Back-propagation stores only the activations of one layer's small CNN for one mini-batch.
- An optional data term ``½‖F(v_K) − d‖²`` in :func:`fwi_training_loss` back-propagates through
  ``F`` by the adjoint-state method (one more forward + adjoint per shot).

Safeguard
---------
A network trained on generated models meets field models it has not seen. At inference
(:meth:`LearnedFWI.forward` with a :class:`~geolearn.learned_inversion.safeguard.DataSafeguard`,
the default) every layer is checked against the classical update it replaces, the line-searched
gradient step of :func:`~geolearn.learned_inversion.gd_fwi` from the same model: a model keeps
the learned update only if it fits the data as well, up to the noise level, and otherwise takes
the gradient step (:mod:`~geolearn.learned_inversion.fwi_safeguard`). Where every learned update
is refused the result is gradient descent itself, so on a model unlike its training set the
scheme falls back to the classical method instead of inventing structure the data do not
support. The check costs the line search's forward modellings (and one more gradient per
refusal); ``safeguard=None`` runs the bare network.
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from geolearn import ledger
from geolearn.errors import ConfigError
from geolearn.learned import zero_output_cnn
from geolearn.learned.constraints import bounded, bounded_inverse
from geolearn.learned_inversion.fwi_baseline import check_fwi_inputs, grid_depths
from geolearn.learned_inversion.fwi_safeguard import safeguarded_fwi
from geolearn.learned_inversion.safeguard import DataSafeguard
from geolearn.wave import Geometry, WaveModeling, fwi_objective

__all__ = ["NOISE_FREE", "LearnedFWI", "fwi_training_loss", "train_learned_fwi"]

#: The default safeguard of :meth:`LearnedFWI.forward`: misfits compared as they are (clean data).
NOISE_FREE = DataSafeguard(0.0)

logger = logging.getLogger("geolearn.learned_inversion.fwi")


class LearnedFWI(nn.Module):
    """``K``-layer learned FWI, applied as ``net(v0, observed, geometry)`` (see the module docstring).

    Parameters
    ----------
    n_layers : int
        ``K``, the number of FWI gradients per inversion.
    max_depth : float
        Depth in metres of the deepest preconditioner knot (the training grids' depth); below it
        the preconditioner is constant.
    n_depth_knots : int
        Knots of the depth preconditioner, evenly spaced on ``[0, max_depth]``.
    max_update : float
        Largest update per layer in m/s.
    step_init : float
        Initial ``α_k`` as a fraction of ``max_update``, in (0, 1).
    features, depth : int
        CNN size.
    activation : {"relu", "silu"}
        CNN nonlinearity ("silu" is smooth, for Taylor tests).
    v_scale : tuple of float
        ``(mean, std)`` in m/s used to normalise the model fed to the CNN.
    seed : int
        Seed of the CNN initialisation (layer ``k`` uses ``seed + k``).
    dtype : torch.dtype
        Parameter dtype (the wave model's).
    """

    def __init__(
        self,
        n_layers: int = 3,
        *,
        max_depth: float,
        n_depth_knots: int = 16,
        max_update: float = 100.0,
        step_init: float = 0.5,
        features: int = 16,
        depth: int = 3,
        activation: str = "relu",
        v_scale: tuple[float, float] = (2200.0, 200.0),
        seed: int = 0,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        if n_layers < 1 or not max_update > 0 or not 0 < step_init < 1:
            raise ConfigError(
                f"need n_layers >= 1, max_update > 0 m/s and 0 < step_init < 1; got {n_layers}, {max_update}, {step_init}"
            )
        if not max_depth > 0 or n_depth_knots < 2:
            raise ConfigError(
                f"need max_depth > 0 m and n_depth_knots >= 2, got {max_depth}, {n_depth_knots}"
            )
        self.n_layers, self.max_update = int(n_layers), float(max_update)
        self.raw_step = nn.Parameter(
            bounded_inverse(torch.full((n_layers,), float(step_init)), 1.0).to(dtype)
        )
        self.step_slope = nn.Parameter(torch.zeros(n_layers, dtype=dtype))
        self.log_precond = nn.Parameter(torch.zeros(n_layers, n_depth_knots, dtype=dtype))
        self.nets = nn.ModuleList(
            zero_output_cnn(2, features, depth, activation, seed + k, dtype) for k in range(n_layers)
        )
        self.register_buffer("v_scale", torch.tensor([float(v) for v in v_scale], dtype=dtype))
        self.register_buffer("knot_depths", torch.linspace(0.0, float(max_depth), n_depth_knots, dtype=dtype))

    def layer_count(self, n_layers: int | None) -> int:
        """The layers a call runs: ``n_layers`` (a prefix of the network) or all of them."""
        n = self.n_layers if n_layers is None else n_layers
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= self.n_layers:
            raise ConfigError(f"n_layers must lie in 1..{self.n_layers}, got {n_layers!r}")
        return n

    def steps(self, misfit: torch.Tensor) -> torch.Tensor:
        """``α_k(μ)`` in m/s, shape ``(B, K)``, for relative misfits ``μ`` of shape ``(B,)``."""
        log_mu = torch.log(misfit.to(self.raw_step.dtype).clamp_min(torch.finfo(self.raw_step.dtype).tiny))
        return bounded(self.raw_step[None, :] + self.step_slope[None, :] * log_mu[:, None], self.max_update)

    def preconditioner(self, k: int, depths: torch.Tensor) -> torch.Tensor:
        """``p_k(z) > 0`` at depths ``z`` (m, ``(nz,)``): linear between knots, constant outside them."""
        knots = self.knot_depths
        pos = ((depths.to(knots.dtype) - knots[0]) / (knots[1] - knots[0])).clamp(0, len(knots) - 1)
        i0 = pos.floor().long().clamp(max=len(knots) - 2)
        w = pos - i0
        log_p = self.log_precond[k]
        return torch.exp((1 - w) * log_p[i0] + w * log_p[i0 + 1])

    def gradients(
        self,
        v: torch.Tensor,
        observed: torch.Tensor,
        geometry: Geometry,
        *,
        memory: str = "full",
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Adjoint-state FWI gradients and relative misfits at ``v`` for records ``(B, *record_shape)``.

        Returns ``g`` ``(B, nx, nz)`` (detached) and ``μ = ‖F(v) − d‖ / ‖d‖`` ``(B,)``. ``memory``
        is the wavefield storage (:class:`~geolearn.wave.WaveModeling`). Each gradient is one
        forward and one adjoint solve per shot (``memory="full"``; checkpointing adds the
        recomputed forward: 3), as the cost ledger (:mod:`geolearn.ledger`) counts them.
        """
        grads, misfits = [], []
        for b in range(v.shape[0]):
            d = observed[b].detach()
            f, g = fwi_objective(v[b].detach(), geometry, d, memory=memory)
            grads.append(g)
            misfits.append(torch.sqrt(2 * f.detach().double()) / d.double().norm())
        return torch.stack(grads), torch.stack(misfits).to(v.dtype)

    def layer(
        self, k: int, v: torch.Tensor, g: torch.Tensor, misfit: torch.Tensor, depths: torch.Tensor
    ) -> torch.Tensor:
        """Layer ``k``: model ``v``, its gradient ``g`` (both ``(B, nx, nz)``), relative misfit
        ``(B,)`` (from :meth:`gradients`) and the grid's row depths ``(nz,)`` in m to the next model."""
        if not 0 <= k < self.n_layers:
            raise ConfigError(f"layer index {k} out of range 0..{self.n_layers - 1}")
        grms = g.detach().flatten(1).pow(2).mean(1).sqrt().clamp_min(torch.finfo(g.dtype).tiny)
        gn = g / grms[:, None, None]
        vn = (v - self.v_scale[0]) / self.v_scale[1]
        direction = self.preconditioner(k, depths)[None, None, :] * gn
        direction = direction + self.nets[k](torch.stack([vn, gn], 1))[:, 0]
        return v - self.steps(misfit)[:, k, None, None] * torch.tanh(direction)

    def misfits(
        self,
        v: torch.Tensor,
        observed: torch.Tensor,
        geometry: Geometry,
    ) -> torch.Tensor:
        """Relative misfits ``‖F(v) − d‖ / ‖d‖`` ``(B,)`` by forward modelling only (one solve per shot and model)."""
        F = WaveModeling(geometry.model, geometry)
        out = []
        with torch.no_grad():
            for b in range(v.shape[0]):
                out.append((F(v[b]) - observed[b]).double().norm() / observed[b].double().norm())
        return torch.stack(out).to(v.dtype)

    def forward(
        self,
        v0: torch.Tensor,
        observed: torch.Tensor,
        geometry: Geometry,
        *,
        n_layers: int | None = None,
        safeguard: DataSafeguard | None = NOISE_FREE,
        step: float = 50.0,
        max_trials: int = 6,
        memory: str = "full",
    ) -> torch.Tensor:
        """Run ``n_layers`` (default all) layers from ``v0`` ``(B, nx, nz)`` (m/s) on records
        ``(B, n_shots, n_rec, nt)`` of ``geometry``; returns ``(B, nx, nz)`` in m/s.

        Parameters
        ----------
        safeguard : DataSafeguard or None
            Check every layer against the line-searched gradient step from the same model (see
            :func:`~geolearn.learned_inversion.safeguarded_fwi`, which also returns which layers
            were accepted and the solves); give the records' noise level for noisy data. None
            runs the bare network.
        step, max_trials : float, int
            First step (m/s) and trials of the safeguard's line search, as
            :func:`~geolearn.learned_inversion.gd_fwi`.
        memory : str
            Wavefield storage of the gradients.

        Cost per model (measure it with :func:`geolearn.ledger.count_solves`): one gradient per
        layer (2 solves per shot with ``memory="full"``); with the safeguard, also a forward
        modelling per layer to check the learned proposal and the line search's forward modellings
        (1 solve per shot and trial), the gradients being taken at the kept models.
        """
        if safeguard is not None:
            return safeguarded_fwi(self, v0, observed, geometry, safeguard=safeguard, n_layers=n_layers,
                                   step=step, max_trials=max_trials, memory=memory).velocity  # fmt: skip
        check_fwi_inputs(v0, observed, geometry)
        depths = grid_depths(geometry)
        n = self.layer_count(n_layers)
        v = v0
        for k in range(n):
            g, misfit = self.gradients(v, observed, geometry, memory=memory)
            v = self.layer(k, v, g, misfit, depths)
        return v


def fwi_training_loss(
    net: LearnedFWI,
    geometry: Geometry,
    k: int,
    v: torch.Tensor,
    g: torch.Tensor,
    misfit: torch.Tensor,
    v_true: torch.Tensor,
    observed: torch.Tensor | None = None,
    data_weight: float = 0.0,
    *,
    memory: str = "full",
) -> torch.Tensor:
    """Loss of layer ``k`` on cached ``(v_k, g_k, μ_k)`` of ``geometry``: model MSE / std² plus a data term.

    ``loss = mean((v_{k+1} − v*)²)/σ² + w · Σ_b ½‖F(v_{k+1}) − d_b‖² / ‖d_b‖²`` with ``σ`` the
    model normalisation; the data term back-propagates through ``F`` (adjoint state: a forward
    and an adjoint solve per shot and model, as a gradient).
    """
    v_next = net.layer(k, v, g, misfit, grid_depths(geometry))
    loss = (v_next - v_true).pow(2).mean() / net.v_scale[1] ** 2
    if data_weight > 0:
        if observed is None:
            raise ConfigError("data_weight > 0 needs the observed records")
        F = WaveModeling(geometry.model, geometry, memory=memory)
        for b in range(v.shape[0]):
            r = F(v_next[b]) - observed[b]
            loss = loss + data_weight * 0.5 * r.pow(2).sum() / observed[b].pow(2).sum()
    return loss


def train_learned_fwi(
    net: LearnedFWI,
    geometry: Geometry,
    v_init: torch.Tensor,
    observed: torch.Tensor,
    v_true: torch.Tensor,
    *,
    steps_per_layer: int = 100,
    lr: float = 1e-2,
    batch_size: int = 4,
    seed: int = 0,
    progress: bool = True,
    memory: str = "full",
) -> dict[str, Any]:
    """Greedy layer-wise training (module docstring) on one acquisition: ``K·N`` FWI gradients in total.

    Parameters
    ----------
    net : LearnedFWI
    geometry : Geometry
        Acquisition (and grid) of the training records; passed to every gradient, not stored.
    v_init, v_true : Tensor ``(N, nx, nz)``
        Starting and true models, m/s.
    observed : Tensor ``(N, n_shots, n_rec, nt)``
        Records of the true models.
    steps_per_layer, lr, batch_size, seed, progress
        Adam settings per layer; ``progress=False`` silences tqdm.
    memory : str
        Wavefield storage of the gradients.

    Returns
    -------
    dict
        ``{"loss": [[per-step losses of layer k] ...], "gradients": int, "solves": float,
        "cache_bytes": [bytes of the (v_k, g_k, μ_k) held while layer k trains ...]}``;
        ``solves`` are the wave-equation solves of the training, measured with the cost ledger
        (:func:`geolearn.ledger.count_solves`): ``K·N`` gradients of 2 solves per shot each
        (``memory="full"``), nothing else (the layers train on the cached gradients).
    """
    with ledger.count_solves() as cost:
        history = _train_layers(net, geometry, v_init, observed, v_true, steps_per_layer=steps_per_layer,
                                lr=lr, batch_size=batch_size, seed=seed, progress=progress, memory=memory)  # fmt: skip
    history["solves"] = cost.solves
    return history


def _train_layers(
    net: LearnedFWI,
    geometry: Geometry,
    v_init: torch.Tensor,
    observed: torch.Tensor,
    v_true: torch.Tensor,
    *,
    steps_per_layer: int,
    lr: float,
    batch_size: int,
    seed: int,
    progress: bool,
    memory: str,
) -> dict[str, Any]:
    """The greedy loop of :func:`train_learned_fwi` (its history, less the solves)."""
    gen = torch.Generator().manual_seed(seed)
    history: dict[str, Any] = {"loss": [], "cache_bytes": [], "gradients": 0}
    depths = grid_depths(geometry)
    v = v_init.to(net.raw_step.dtype)
    g, misfit = net.gradients(v, observed, geometry, memory=memory)
    history["gradients"] += v.shape[0]
    for k in range(net.n_layers):
        history["cache_bytes"].append(sum(t.element_size() * t.numel() for t in (v, g, misfit)))
        params = [net.raw_step, net.step_slope, net.log_precond, *net.nets[k].parameters()]
        opt = torch.optim.Adam(params, lr=lr)
        losses = []
        for _ in tqdm(range(steps_per_layer), desc=f"layer {k}", disable=not progress, leave=False):
            idx = torch.randint(v.shape[0], (min(batch_size, v.shape[0]),), generator=gen)
            opt.zero_grad(set_to_none=True)
            loss = fwi_training_loss(net, geometry, k, v[idx], g[idx], misfit[idx], v_true[idx])
            loss.backward()
            # Only row k of the per-layer parameters belongs to this stage.
            for p in (net.raw_step, net.step_slope, net.log_precond):
                mask = torch.zeros_like(p.grad)
                mask[k] = 1
                p.grad.mul_(mask)
            opt.step()
            losses.append(float(loss.detach()))
        history["loss"].append(losses)
        logger.info("learned FWI layer %d: loss %.4g -> %.4g", k, losses[0], losses[-1])
        if k + 1 == net.n_layers:
            break
        with torch.no_grad():
            v = net.layer(k, v, g, misfit, depths)
        g, misfit = net.gradients(v, observed, geometry, memory=memory)
        history["gradients"] += v.shape[0]
    return history
