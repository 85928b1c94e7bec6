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
:attr:`SafeguardedFWIRun.solves`): the ``K`` gradients of the learned scheme (2 solves per shot
each with ``memory="full"``; ``F(v_L)`` comes with the next layer's gradient), the line search's
forward modellings (1 solve per shot and trial, at least one trial per layer; skipped where
``v_L`` already explains the data to the noise level), one forward modelling to check the last
layer, and one more gradient at ``v_C`` for every rejection before the last layer. Where every
update is rejected that is :func:`~geolearn.learned_inversion.gd_fwi`'s solves plus ``2(K − 1) + 1`` per shot.
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
        :func:`geolearn.ledger.count_solves`; see the module docstring).
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
    floor = safeguard.floor(d_norm)
    v = v0.detach().to(net.raw_step.dtype)
    g, mu = net.gradients(v, observed, geometry, memory=memory)
    steps = [float(step)] * v.shape[0]
    accepted, misfits = [], [mu.double()]
    for k in range(n):
        with torch.no_grad():
            proposal = net.layer(k, v, g, mu, depths)
        if k + 1 < n:
            g_l, mu_l = net.gradients(proposal, observed, geometry, memory=memory)
        else:
            g_l, mu_l = g, net.misfits(proposal, observed, geometry)
        keep = torch.zeros(v.shape[0], dtype=torch.bool)
        v_next, g_next, mu_next = proposal.clone(), g_l.clone(), mu_l.clone()
        for b in range(v.shape[0]):
            learned = mu_l[b].double() * d_norm[b]
            if learned <= floor[b]:  # explained to the noise level: nothing to compare with
                keep[b] = True
                continue
            f_b = 0.5 * float(mu[b].double() * d_norm[b]) ** 2
            v_c, f_c, steps[b] = armijo_step(v[b], f_b, g[b], observed[b], F, steps[b], max_trials=max_trials)
            keep[b] = bool(
                safeguard.accept(learned[None], torch.tensor([math.sqrt(2 * f_c)]), d_norm[b : b + 1])[0]
            )
            if keep[b]:
                continue
            v_next[b] = v_c
            if k + 1 < n:
                g_c, mu_c = net.gradients(v_c[None], observed[b : b + 1], geometry, memory=memory)
                g_next[b], mu_next[b] = g_c[0], mu_c[0]
            else:
                mu_next[b] = math.sqrt(2 * f_c) / float(d_norm[b])
        if not bool(keep.all()):
            logger.info("learned FWI layer %d: %d of %d models took the line-searched gradient step",
                        k, int((~keep).sum()), len(keep))  # fmt: skip
        v, g, mu = v_next, g_next, mu_next
        accepted.append(keep)
        misfits.append(mu.double())
    return v, torch.stack(accepted, 1), torch.stack(misfits, 1)


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
