"""Learned FWI with the data-misfit safeguard: each learned update must fit the data as well as a
line-searched gradient step from the same model, up to the noise level.

Layer ``k`` of :class:`~geolearn.learned_inversion.LearnedFWI` proposes ``v_L`` from ``v_k`` and
its gradient ``g_k``. The classical update it replaces is the normalised gradient step with a
backtracking (Armijo) line search of :func:`~geolearn.learned_inversion.gd_fwi`,
``v_C = v_k − α g_k / max|g_k|`` (:func:`~geolearn.learned_inversion.fwi_baseline.armijo_step`). With a
:class:`~geolearn.learned_inversion.safeguard.DataSafeguard`, a model keeps ``v_L`` only if
``‖F(v_L) − d‖ ≤ max(‖F(v_C) − d‖, noise)``, else it takes ``v_C``. Where every learned update is
rejected, the result is exactly gradient descent with ``K`` gradients (the step ``α`` is carried
from layer to layer as :func:`gd_fwi` carries it).

Cost per model, in wave-equation solves measured with the cost ledger (:mod:`geolearn.ledger`,
:attr:`SafeguardedFWIRun.solves`; per shot, with ``memory="full"``, where a gradient is 2 solves):
the gradient at ``v_0``; then per layer one forward modelling of ``v_L`` to check it (1), the
line search's forward modellings (1 per trial, at least one trial per layer; skipped where ``v_L``
already explains the data to the noise level), and, for every layer but the last, one gradient at
the model the layer kept (2), computed after the decision so that a refused ``v_L`` costs no
gradient. That is ``3K`` plus the line-search trials per shot, whichever updates are kept. Where
every update is rejected the line searches are :func:`~geolearn.learned_inversion.gd_fwi`'s and
the total is its solves plus ``K`` per shot (the ``K`` checks of ``v_L``); where every ``v_L``
explains the data to the noise level it is ``3K`` per shot.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from geolearn import ledger
from geolearn.learned_inversion.fwi_baseline import armijo_step, check_fwi_inputs, grid_depths
from geolearn.learned_inversion.safeguard import DataSafeguard
from geolearn.wave import Geometry, WaveModeling

if TYPE_CHECKING:  # LearnedFWI.forward runs this module's loop: fwi imports it at run time
    from geolearn.learned_inversion.fwi import LearnedFWI

__all__ = ["SafeguardedFWIRun", "safeguarded_fwi"]

logger = logging.getLogger("geolearn.learned_inversion.fwi_safeguard")


@dataclass
class SafeguardedFWIRun:
    """Result of :func:`safeguarded_fwi`.

    Attributes
    ----------
    velocity : Tensor ``(B, nx, nz)``, m/s.
    accepted : Tensor ``(B, K)`` bool — layer ``k`` kept the learned update of model ``b``.
    misfit : Tensor ``(B, K + 1)`` float64 — ``‖F(v_k) − d‖ / ‖d‖`` at the start and after each layer.
    solves : float
        Wave-equation solves performed, all models together (measured with
        :func:`geolearn.ledger.count_solves`): per model and shot, ``K`` gradients (2 solves each
        with ``memory="full"``, 3 checkpointed), ``K`` forward modellings checking the learned
        updates and 1 per line-search trial; :func:`~geolearn.learned_inversion.gd_fwi`'s solves
        plus ``K`` per shot and model where every update is rejected (see the module docstring).
    """

    velocity: torch.Tensor
    accepted: torch.Tensor
    misfit: torch.Tensor
    solves: float


def safeguarded_fwi(
    net: LearnedFWI,
    v0: torch.Tensor,
    observed: torch.Tensor,
    geometry: Geometry,
    *,
    safeguard: DataSafeguard,
    n_layers: int | None = None,
    step: float = 50.0,
    max_trials: int = 6,
    memory: str = "full",
) -> SafeguardedFWIRun:
    """Run learned FWI from ``v0`` with every layer checked against a line-searched gradient step.

    Parameters
    ----------
    net : LearnedFWI
    v0 : Tensor ``(B, nx, nz)``
        Starting models, m/s.
    observed : Tensor ``(B, n_shots, n_rec, nt)``
        Records of ``geometry``.
    geometry : Geometry
    safeguard : DataSafeguard
        Noise level of the records (relative to ``‖d‖``, or absolute).
    n_layers : int, optional
        Run the first layers only.
    step, max_trials : float, int
        First ``α`` (m/s) and trials of the line search, as :func:`gd_fwi`.
    memory : str
        Wavefield storage of the gradients.
    """
    n = _check(net, v0, observed, geometry, safeguard, n_layers)
    with ledger.count_solves() as cost:
        v, accepted, misfits = _guarded_layers(
            net, v0, observed, geometry, safeguard, n, step, max_trials, memory
        )
    return SafeguardedFWIRun(v, accepted, misfits, cost.solves)


def _guarded_layers(
    net: LearnedFWI,
    v0: torch.Tensor,
    observed: torch.Tensor,
    geometry: Geometry,
    safeguard: DataSafeguard,
    n: int,
    step: float,
    max_trials: int,
    memory: str,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The layers of :func:`safeguarded_fwi` (checked inputs): velocity, accepted, misfit."""
    F = WaveModeling(geometry.model, geometry)
    depths = grid_depths(geometry)
    d_norm = observed.detach().double().flatten(1).norm(dim=1)
    v = v0.detach().to(net.raw_step.dtype)
    g, mu = net.gradients(v, observed, geometry, memory=memory)
    steps = [float(step)] * v.shape[0]
    accepted, misfits = [], [mu.double()]
    for k in range(n):
        with torch.no_grad():
            proposal = net.layer(k, v, g, mu, depths)
        # Forward modelling only: the gradient waits until the layer knows which model it keeps.
        learned_mu = net.misfits(proposal, observed, geometry)
        keep, v, kept_mu, steps = _choose(
            v, g, mu, proposal, learned_mu, observed, F, safeguard, d_norm, steps, max_trials
        )
        if not bool(keep.all()):
            logger.info("learned FWI layer %d: %d of %d models took the line-searched gradient step",
                        k, int((~keep).sum()), len(keep))  # fmt: skip
        if k + 1 < n:
            g, mu = net.gradients(v, observed, geometry, memory=memory)
        else:
            mu = kept_mu
        accepted.append(keep)
        misfits.append(mu.double())
    return v, torch.stack(accepted, 1), torch.stack(misfits, 1)


def _choose(
    v: torch.Tensor,
    g: torch.Tensor,
    mu: torch.Tensor,
    proposal: torch.Tensor,
    learned_mu: torch.Tensor,
    observed: torch.Tensor,
    F: WaveModeling,
    safeguard: DataSafeguard,
    d_norm: torch.Tensor,
    steps: list[float],
    max_trials: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[float]]:
    """One layer's decision, per model: keep the learned ``proposal`` or take the line-searched step.

    ``v``, ``g``, ``proposal`` ``(B, nx, nz)``; ``mu``, ``learned_mu`` the relative misfits
    ``(B,)`` at ``v`` and at ``proposal``; ``steps`` the line search's last ``α`` per model (m/s).
    Returns the kept mask ``(B,)``, the kept models ``(B, nx, nz)``, their relative misfits ``(B,)``
    and the new ``steps``; only the line-search trials solve (1 forward modelling each).
    """
    floor = safeguard.floor(d_norm)
    keep = torch.ones(v.shape[0], dtype=torch.bool)
    kept, kept_mu, steps = proposal.clone(), learned_mu.clone(), list(steps)
    for b in range(v.shape[0]):
        learned = learned_mu[b].double() * d_norm[b]
        if learned <= floor[b]:  # explained to the noise level: nothing to compare with
            continue
        f_b = 0.5 * float(mu[b].double() * d_norm[b]) ** 2
        v_c, f_c, steps[b] = armijo_step(v[b], f_b, g[b], observed[b], F, steps[b], max_trials=max_trials)
        classical = math.sqrt(2 * f_c)
        keep[b] = bool(safeguard.accept(learned[None], torch.tensor([classical]), d_norm[b : b + 1])[0])
        if not keep[b]:
            kept[b], kept_mu[b] = v_c, classical / float(d_norm[b])
    return keep, kept, kept_mu, steps


def _check(
    net: LearnedFWI,
    v0: torch.Tensor,
    observed: torch.Tensor,
    geometry: Geometry,
    safeguard: DataSafeguard,
    n_layers: int | None,
) -> int:
    """Validate the inputs of :func:`safeguarded_fwi` before any solve; return the layer count."""
    if not isinstance(safeguard, DataSafeguard):
        raise TypeError(
            f"safeguard must be a DataSafeguard (its noise level), or None for the bare network; "
            f"got {safeguard!r}"
        )
    check_fwi_inputs(v0, observed, geometry)
    return net.layer_count(n_layers)
