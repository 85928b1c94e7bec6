"""Learned FWI: an unrolled gradient scheme whose layers take the adjoint-state FWI gradient.

Layer ``k`` computes the FWI gradient ``g_k = ∇_v ½‖F(v_k) − d‖²`` with the Devito wave
operators (:func:`~geolearn.wave.fwi_objective`: one forward and one adjoint solve per shot),
normalises it by its RMS, ``ĝ_k = g_k / rms(g_k)`` (so that the few large values near
the sources do not set the scale), and a small network proposes the update

    v_{k+1} = v_k − α_k(μ_k) · tanh( p_k(z) ⊙ ĝ_k + N_k([v̂_k, ĝ_k]) ),

with a learned step ``α_k(μ) = max_update · sigmoid(a_k + b_k log μ) ∈ (0, max_update]`` (m/s)
that depends on the relative data misfit ``μ_k = ‖F(v_k) − d‖ / ‖d‖`` (free: the gradient
computes ``F(v_k)``), a learned depth preconditioner ``p_k(z) > 0`` (one value per depth row;
starts at 1) and a CNN ``N_k`` on the normalised model and gradient (last layer starts at zero).
The misfit is the one thing the normalised gradient hides: how far the model is from
explaining the data, so a start near the truth gets small steps. ``|v_{k+1} − v_k| ≤ α_k``
pointwise, so velocities stay within ``K·max_update`` of the start.

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
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from geolearn.errors import ConfigError, ShapeError
from geolearn.learned.cnn import zero_output_cnn
from geolearn.learned.constraints import bounded, bounded_inverse
from geolearn.learned_inversion.metrics import CostCounter
from geolearn.wave import Geometry, Model, WaveModeling, fwi_objective

__all__ = ["LearnedFWI", "fwi_training_loss", "gd_fwi", "train_learned_fwi"]

logger = logging.getLogger("geolearn.learned_inversion.fwi")


class LearnedFWI(nn.Module):
    """``K``-layer learned FWI on one acquisition (see the module docstring).

    Parameters
    ----------
    model : Model
        Grid and propagation settings (``model.vp`` only fixes the absorbing-layer damping).
    geometry : Geometry
        Acquisition; its ``dt`` must be stable for the largest velocity reached.
    n_layers : int
        ``K``, the number of FWI gradients per inversion.
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
    memory : {"full", "snapshots", "checkpoint"}
        Wavefield storage of the gradient computations (:class:`~geolearn.wave.WaveModeling`).
    counter : CostCounter, optional
        Receives the gradient count.
    seed : int
        Seed of the CNN initialisation (layer ``k`` uses ``seed + k``).
    """

    def __init__(
        self,
        model: Model,
        geometry: Geometry,
        n_layers: int = 3,
        *,
        max_update: float = 100.0,
        step_init: float = 0.5,
        features: int = 16,
        depth: int = 3,
        activation: str = "relu",
        v_scale: tuple[float, float] = (2200.0, 200.0),
        memory: str = "full",
        counter: CostCounter | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if n_layers < 1 or not max_update > 0 or not 0 < step_init < 1:
            raise ConfigError(
                f"need n_layers >= 1, max_update > 0 m/s and 0 < step_init < 1; got {n_layers}, {max_update}, {step_init}"
            )
        self.model, self.geometry, self.memory = model, geometry, memory
        self.n_layers, self.max_update = int(n_layers), float(max_update)
        self.counter = counter if counter is not None else CostCounter()
        dtype = model.dtype
        nz = model.shape[-1]
        self.raw_step = nn.Parameter(
            bounded_inverse(torch.full((n_layers,), float(step_init)), 1.0).to(dtype)
        )
        self.step_slope = nn.Parameter(torch.zeros(n_layers, dtype=dtype))
        self.log_precond = nn.Parameter(torch.zeros(n_layers, nz, dtype=dtype))
        self.nets = nn.ModuleList(
            zero_output_cnn(2, features, depth, activation, seed + k, dtype) for k in range(n_layers)
        )
        self.register_buffer("v_scale", torch.tensor([float(v) for v in v_scale], dtype=dtype))

    def steps(self, misfit: torch.Tensor) -> torch.Tensor:
        """``α_k(μ)`` in m/s, shape ``(B, K)``, for relative misfits ``μ`` of shape ``(B,)``."""
        log_mu = torch.log(misfit.to(self.raw_step.dtype).clamp_min(torch.finfo(self.raw_step.dtype).tiny))
        return bounded(self.raw_step[None, :] + self.step_slope[None, :] * log_mu[:, None], self.max_update)

    def gradients(self, v: torch.Tensor, observed: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Adjoint-state FWI gradients and relative misfits at ``v`` for records ``(B, *record_shape)``.

        Returns ``g`` ``(B, nx, nz)`` (detached) and ``μ = ‖F(v) − d‖ / ‖d‖`` ``(B,)``.
        """
        grads, misfits = [], []
        for b in range(v.shape[0]):
            d = observed[b].detach()
            f, g = fwi_objective(v[b].detach(), self.geometry, d, memory=self.memory)
            self.counter.add_gradient(1, self.geometry.n_shots)
            grads.append(g)
            misfits.append(torch.sqrt(2 * f.detach().double()) / d.double().norm())
        return torch.stack(grads), torch.stack(misfits).to(v.dtype)

    def layer(self, k: int, v: torch.Tensor, g: torch.Tensor, misfit: torch.Tensor) -> torch.Tensor:
        """Layer ``k``: model ``v``, its gradient ``g`` (both ``(B, nx, nz)``) and relative misfit
        ``(B,)`` (from :meth:`gradients`) to the next model."""
        if not 0 <= k < self.n_layers:
            raise ConfigError(f"layer index {k} out of range 0..{self.n_layers - 1}")
        grms = g.detach().flatten(1).pow(2).mean(1).sqrt().clamp_min(torch.finfo(g.dtype).tiny)
        gn = g / grms[:, None, None]
        vn = (v - self.v_scale[0]) / self.v_scale[1]
        direction = torch.exp(self.log_precond[k])[None, None, :] * gn
        direction = direction + self.nets[k](torch.stack([vn, gn], 1))[:, 0]
        return v - self.steps(misfit)[:, k, None, None] * torch.tanh(direction)

    def forward(
        self, v0: torch.Tensor, observed: torch.Tensor, *, n_layers: int | None = None
    ) -> torch.Tensor:
        """Run ``n_layers`` (default all) layers from ``v0`` ``(B, nx, nz)`` (m/s) on records
        ``(B, n_shots, n_rec, nt)``; returns ``(B, nx, nz)`` in m/s. Costs one gradient per layer and model.
        """
        if v0.ndim != 3 or tuple(v0.shape[1:]) != self.model.shape:
            raise ShapeError(
                f"v0 must be (B, {', '.join(map(str, self.model.shape))}), got {tuple(v0.shape)}"
            )
        if tuple(observed.shape) != (v0.shape[0], *self.geometry.record_shape):
            raise ShapeError(
                f"observed must be ({v0.shape[0]}, {', '.join(map(str, self.geometry.record_shape))}), got {tuple(observed.shape)}"
            )
        v = v0
        for k in range(self.n_layers if n_layers is None else n_layers):
            v = self.layer(k, v, *self.gradients(v, observed))
        return v


def fwi_training_loss(
    net: LearnedFWI,
    k: int,
    v: torch.Tensor,
    g: torch.Tensor,
    misfit: torch.Tensor,
    v_true: torch.Tensor,
    observed: torch.Tensor | None = None,
    data_weight: float = 0.0,
) -> torch.Tensor:
    """Loss of layer ``k`` on cached ``(v_k, g_k, μ_k)``: model MSE / std² plus an optional data term.

    ``loss = mean((v_{k+1} − v*)²)/σ² + w · Σ_b ½‖F(v_{k+1}) − d_b‖² / ‖d_b‖²`` with ``σ`` the
    model normalisation; the data term back-propagates through ``F`` (adjoint state).
    """
    v_next = net.layer(k, v, g, misfit)
    loss = (v_next - v_true).pow(2).mean() / net.v_scale[1] ** 2
    if data_weight > 0:
        if observed is None:
            raise ConfigError("data_weight > 0 needs the observed records")
        F = WaveModeling(net.model, net.geometry, memory=net.memory)
        for b in range(v.shape[0]):
            r = F(v_next[b]) - observed[b]
            net.counter.add_gradient(1, net.geometry.n_shots)
            loss = loss + data_weight * 0.5 * r.pow(2).sum() / observed[b].pow(2).sum()
    return loss


def train_learned_fwi(
    net: LearnedFWI,
    v_init: torch.Tensor,
    observed: torch.Tensor,
    v_true: torch.Tensor,
    *,
    steps_per_layer: int = 100,
    lr: float = 1e-2,
    batch_size: int = 4,
    seed: int = 0,
    progress: bool = True,
) -> dict[str, Any]:
    """Greedy layer-wise training (module docstring): ``K·N`` FWI gradients in total.

    Parameters
    ----------
    v_init, v_true : Tensor ``(N, nx, nz)``
        Starting and true models, m/s.
    observed : Tensor ``(N, n_shots, n_rec, nt)``
        Records of the true models.
    steps_per_layer, lr, batch_size, seed, progress
        Adam settings per layer; ``progress=False`` silences tqdm.

    Returns
    -------
    dict
        ``{"loss": [[per-step losses of layer k] ...], "gradients": int, "cache_bytes": [bytes of
        the (v_k, g_k, μ_k) held while layer k trains ...]}``.
    """
    gen = torch.Generator().manual_seed(seed)
    history: dict[str, Any] = {"loss": [], "cache_bytes": []}
    start = net.counter.gradient
    v = v_init.to(net.model.dtype)
    for k in range(net.n_layers):
        g, misfit = net.gradients(v, observed)
        history["cache_bytes"].append(sum(t.element_size() * t.numel() for t in (v, g, misfit)))
        params = [net.raw_step, net.step_slope, net.log_precond, *net.nets[k].parameters()]
        opt = torch.optim.Adam(params, lr=lr)
        losses = []
        for _ in tqdm(range(steps_per_layer), desc=f"layer {k}", disable=not progress, leave=False):
            idx = torch.randint(v.shape[0], (min(batch_size, v.shape[0]),), generator=gen)
            opt.zero_grad(set_to_none=True)
            loss = fwi_training_loss(net, k, v[idx], g[idx], misfit[idx], v_true[idx])
            loss.backward()
            # Only row k of the per-layer parameters belongs to this stage.
            for p in (net.raw_step, net.step_slope, net.log_precond):
                mask = torch.zeros_like(p.grad)
                mask[k] = 1
                p.grad.mul_(mask)
            opt.step()
            losses.append(float(loss.detach()))
        history["loss"].append(losses)
        with torch.no_grad():
            v = net.layer(k, v, g, misfit)
        logger.info("learned FWI layer %d: loss %.4g -> %.4g", k, losses[0], losses[-1])
    history["gradients"] = net.counter.gradient - start
    return history


def gd_fwi(
    v0: torch.Tensor,
    geometry: Geometry,
    observed: torch.Tensor,
    n_gradients: int,
    *,
    step: float = 50.0,
    max_trials: int = 6,
    counter: CostCounter | None = None,
    memory: str = "full",
) -> torch.Tensor:
    """Classical FWI baseline: normalised gradient descent with a backtracking (Armijo) line search.

    ``v ← v − α g / max|g|`` with ``α`` (m/s) starting at twice the last accepted step (first:
    ``step``) and halved until the misfit decreases sufficiently (each trial one forward
    modelling, counted in ``counter.forward``). Per model of the batch.

    Parameters
    ----------
    v0 : Tensor ``(B, nx, nz)`` in m/s.
    observed : Tensor ``(B, n_shots, n_rec, nt)``.
    n_gradients : int
        Gradient evaluations (iterations).

    Returns
    -------
    Tensor ``(B, nx, nz)``.
    """
    if n_gradients < 1 or not step > 0:
        raise ConfigError(f"need n_gradients >= 1 and step > 0 m/s, got {n_gradients}, {step}")
    counter = counter if counter is not None else CostCounter()
    F = WaveModeling(geometry.model, geometry)
    out = []
    for b in range(v0.shape[0]):
        v, d, alpha = v0[b].detach().clone(), observed[b], float(step)
        for _ in range(n_gradients):
            f, g = fwi_objective(v, geometry, d, memory=memory)
            counter.add_gradient(1, geometry.n_shots)
            direction = -g / g.abs().max().clamp_min(torch.finfo(g.dtype).tiny)
            slope = float((g.double() * direction.double()).sum())
            alpha = 2 * alpha
            for _ in range(max_trials):
                trial = v + alpha * direction
                with torch.no_grad():
                    ft = 0.5 * float((F(trial) - d).double().pow(2).sum())
                counter.add_forward(1, geometry.n_shots)
                if ft <= float(f) + 1e-4 * alpha * slope:
                    v = trial
                    break
                alpha /= 2
        out.append(v)
    return torch.stack(out)
