"""Learned gradient LSRTM: each layer a CNN of the image, the gradient ``Jᵀ(J x − y)`` and the
classical step, applied as ``net(y, J)`` with the Born operator of the call.

The learned gradient scheme of Adler & Öktem (Inverse Problems 2017; the primal half of Learned
Primal-Dual, IEEE TMI 2018) on any :class:`~geolearn.operators.LinearOperator` with an image
domain ``(nx, nz)`` — in practice a :class:`~geolearn.wave.BornOperator` (domain: velocity
perturbation in m/s; range: records ``(n_shots, n_rec, nt)``). Layer ``k``, from ``x_0 = 0``,
``r_0 = −y`` and empty memory ``m_0 = 0``:

    g_k = Jᵀ r_k                                   one Jᵀ
    q_k = J g_k                                    one J
    δ_k = the classical update (free, from g_k, q_k, r_k and the previous update):
          "steepest_descent": −α_k g_k with the exact line-search step α_k = ‖g_k‖² / ‖q_k‖²;
          "cg": a g_k + b (x_k − x_{k−1}) minimising ‖r_k + a q_k + b (r_k − r_{k−1})‖, the
          two-term subspace step, which is conjugate gradients' step when the earlier updates
          were classical (CG minimises over a Krylov space that contains this plane)
    [u_k, m_{k+1}] = Γ_k([x_k / s, g_k / rms(g_k), δ_k / s, m_k])
    x_{k+1} = x_k + δ_k + s · u_k
    r_{k+1} = J x_{k+1} − y                        one J, skipped after the last layer

``Γ_k`` is a small CNN (:func:`~geolearn.learned.zero_output_cnn`) whose last convolution starts
at zero, so the untrained network *is* the classical method (steepest descent, or CG-LSRTM
iterate for iterate) and training learns a correction to it. ``s = rms(δ_0)`` per sample, the
size of the first classical update: the scheme is equivariant to the data amplitude and to the
operator's scale (``y → c y`` gives ``c x``; ``J → c J`` gives ``x / c``), so one trained network
serves surveys with other source strengths, shot counts and backgrounds.

Safeguard
---------
With ``safeguard=DataSafeguard(...)`` (:mod:`~geolearn.learned_inversion.safeguard`), layer ``k``
keeps the learned ``x_{k+1}`` for a sample only if ``‖J x_{k+1} − y‖ ≤ max(‖r_k + J δ_k‖,
noise)``; otherwise it takes the classical ``x_k + δ_k``. Both residuals are known: the classical
one is ``r_k + J δ_k`` (a combination of ``q_k`` and ``r_k − r_{k−1}``), the learned one is the
next layer's residual. It can be switched on at inference only.

Cost, per sample, in J/Jᵀ applications (``J.applications``, which every LinearOperator counts;
the solves they cost are in the cost ledger, :mod:`geolearn.ledger`: one per shot and application
for a :class:`~geolearn.wave.BornOperator` that keeps its backgrounds): a ``K``-layer call costs
``3K − 1`` applications (``K`` Jᵀ, ``2K − 1`` J), ``3K`` with the safeguard (the last layer's check
needs its residual). Equal cost below means equal applications: ``n`` CG iterations cost
``2n + 1``, a ``K``-layer :func:`~geolearn.learned_inversion.learned_lsrtm` ``2K − 1`` plus 16 once
per operator (its step unit ``1/L``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from geolearn.errors import ConfigError, NonFiniteError, ShapeError
from geolearn.learned import zero_output_cnn
from geolearn.learned_inversion.metrics import check_band, high_pass
from geolearn.learned_inversion.safeguard import DataSafeguard
from geolearn.operators import LinearOperator

__all__ = ["CLASSICAL_STEPS", "LearnedGradientLSRTM", "LearnedGradientRun", "learned_gradient_loss"]

#: Classical updates a :class:`LearnedGradientLSRTM` layer corrects (and falls back to).
CLASSICAL_STEPS = ("cg", "steepest_descent")


@dataclass
class LearnedGradientRun:
    """What one call of :meth:`LearnedGradientLSRTM.run` computed.

    Attributes
    ----------
    image : Tensor ``(B, nx, nz)``
        The result (units of the operator's domain, e.g. m/s).
    accepted : Tensor ``(B, K)`` bool
        Whether layer ``k`` kept the learned update for sample ``b`` (all True without safeguard).
    misfit : Tensor ``(B, K + 1)`` float64
        Relative data misfit ``‖J x_k − y‖ / ‖y‖`` of ``x_0 = 0`` (1) and after each layer; NaN
        after the last layer when it was not computed (no safeguard, no ``last_residual``).
    excess : Tensor ``(B, K)``
        ``(‖r_learned‖² − ‖r_classical‖²) / ‖y‖²`` of each layer (differentiable; 0 where the
        learned residual was not computed): positive where the learned update fits the data
        worse than the classical one, i.e. where a safeguard without noise floor would reject it.
    residual : Tensor ``(B, *J.range_shape)`` or None
        ``J x_K − y`` of the result (differentiable), when computed.
    """

    image: torch.Tensor
    accepted: torch.Tensor
    misfit: torch.Tensor
    excess: torch.Tensor
    residual: torch.Tensor | None


def _dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-sample inner product ``(B,)`` in float64 (differentiable)."""
    return (a.double() * b.double()).flatten(1).sum(1)


def _norm(a: torch.Tensor) -> torch.Tensor:
    return a.detach().double().flatten(1).norm(dim=1)


def _per_sample(c: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return c.to(like.dtype).reshape(-1, *([1] * (like.ndim - 1)))


class LearnedGradientLSRTM(nn.Module):
    """``K``-layer learned gradient scheme, ``net(y, J) -> (B, nx, nz)`` (see the module docstring).

    Parameters
    ----------
    n_layers : int
        ``K``; costs ``3K − 1`` J/Jᵀ applications per sample (``3K`` with a safeguard).
    features : int
        Hidden channels of each layer's CNN.
    depth : int
        3×3 convolutions per layer (≥ 2).
    memory : int
        Memory channels carried from layer to layer (≥ 0).
    classical : {"cg", "steepest_descent"}
        The classical update each layer corrects, and the safeguard's fallback.
    activation : {"relu", "silu"}
        CNN nonlinearity ("silu" is smooth, for Taylor tests).
    seed : int
        Seed of the CNN initialisation (layer ``k`` uses ``seed + k``).
    dtype : torch.dtype
        Parameter dtype (the operator's).

    Examples
    --------
    >>> import torch
    >>> from geolearn.operators import Convolution2D
    >>> blur = Convolution2D(torch.ones(3, 3, dtype=torch.float64) / 9, (16, 12))
    >>> net = LearnedGradientLSRTM(2, features=4, depth=2, dtype=torch.float64)
    >>> net(blur(torch.randn(3, 16, 12, dtype=torch.float64)), blur).shape
    torch.Size([3, 16, 12])
    """

    def __init__(
        self,
        n_layers: int = 3,
        *,
        features: int = 32,
        depth: int = 5,
        memory: int = 2,
        classical: str = "cg",
        activation: str = "relu",
        seed: int = 0,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        if isinstance(n_layers, bool) or not isinstance(n_layers, int) or n_layers < 1:
            raise ConfigError(f"n_layers must be a positive integer, got {n_layers!r}")
        if isinstance(memory, bool) or not isinstance(memory, int) or memory < 0:
            raise ConfigError(f"memory must be an integer number of channels >= 0, got {memory!r}")
        if classical not in CLASSICAL_STEPS:
            raise ConfigError(f"classical must be one of {CLASSICAL_STEPS}, got {classical!r}")
        self.n_layers, self.memory, self.classical = n_layers, memory, classical
        self.nets = nn.ModuleList(
            zero_output_cnn(3 + memory, features, depth, activation, seed + k, dtype, out_channels=1 + memory)
            for k in range(n_layers)
        )

    def forward(
        self,
        y: torch.Tensor,
        J: LinearOperator,
        *,
        n_layers: int | None = None,
        safeguard: DataSafeguard | None = None,
    ) -> torch.Tensor:
        """The image for data ``y`` ``(B, *J.range_shape)`` (or unbatched); see :meth:`run`."""
        return self.run(y, J, n_layers=n_layers, safeguard=safeguard).image

    def run(
        self,
        y: torch.Tensor,
        J: LinearOperator,
        *,
        n_layers: int | None = None,
        safeguard: DataSafeguard | None = None,
        last_residual: bool = False,
    ) -> LearnedGradientRun:
        """Run the first ``n_layers`` layers (all by default) on data ``y`` with operator ``J``.

        Parameters
        ----------
        y : Tensor ``(B, *J.range_shape)`` or ``J.range_shape``
            Data (records), ``J.dtype``, finite, no sample identically zero.
        J : LinearOperator
            Operator of this call, domain ``(nx, nz)``.
        n_layers : int, optional
            Run a prefix of the network.
        safeguard : DataSafeguard, optional
            Keep a learned update only where it fits the data as well as the classical one.
        last_residual : bool
            Compute the result's residual ``J x_K − y`` even without a safeguard (one more J; a
            training loss with a data term needs it anyway).

        Returns
        -------
        LearnedGradientRun
            Image ``(B, nx, nz)`` (unbatched when ``y`` was), per-layer acceptance and misfits.
        """
        y, unbatched = self._check(y, J, n_layers, safeguard)
        n = self.n_layers if n_layers is None else n_layers
        y_norm = _norm(y)
        x, r = y.new_zeros((y.shape[0], *J.domain_shape)), -y
        memory = y.new_zeros((y.shape[0], self.memory, *J.domain_shape))
        previous, scale = None, None
        accepted, misfit, excess = [], [torch.ones_like(y_norm)], []
        for k in range(n):
            g = J.adjoint(r)
            q = J(g)
            dx, dr = self.classical_step(g, q, r, previous)
            if scale is None:
                scale = self._scale(dx)
            grms = g.flatten(1).pow(2).mean(1).sqrt().clamp_min(torch.finfo(g.dtype).tiny)
            inputs = torch.cat(
                [(x / scale)[:, None], (g / _per_sample(grms, g))[:, None], (dx / scale)[:, None], memory], 1
            )
            out = self.nets[k](inputs)
            x_learned, memory = x + dx + scale * out[:, 0], out[:, 1:]
            if k == n - 1 and safeguard is None and not last_residual:
                x, r = x_learned, None
                accepted.append(torch.ones_like(y_norm, dtype=torch.bool))
                misfit.append(torch.full_like(y_norm, math.nan))
                excess.append(torch.zeros_like(y_norm).to(x.dtype))
                break
            r_learned, r_classical = J(x_learned) - y, r + dr
            excess.append(
                ((_dot(r_learned, r_learned) - _dot(r_classical, r_classical)) / y_norm**2).to(x.dtype)
            )
            if safeguard is None:
                keep = torch.ones_like(y_norm, dtype=torch.bool)
            else:
                keep = safeguard.accept(_norm(r_learned), _norm(r_classical), y_norm)
            x_new = torch.where(keep.reshape(-1, *([1] * (x.ndim - 1))), x_learned, x + dx)
            r_new = torch.where(keep.reshape(-1, *([1] * (r.ndim - 1))), r_learned, r_classical)
            previous = (x_new - x, r_new - r)  # the update and its image under J
            x, r = x_new, r_new
            accepted.append(keep)
            misfit.append(_norm(r) / y_norm)
        if unbatched:
            x = x.squeeze(0)
        return LearnedGradientRun(
            x, torch.stack(accepted, 1), torch.stack(misfit, 1), torch.stack(excess, 1), r
        )

    def classical_step(
        self,
        g: torch.Tensor,
        q: torch.Tensor,
        r: torch.Tensor,
        previous: tuple[torch.Tensor, torch.Tensor] | None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The classical update ``δ`` ``(B, nx, nz)`` and its data image ``J δ`` ``(B, *range)``.

        ``g = Jᵀ r`` and ``q = J g`` at the current residual ``r`` ``(B, *range)``; ``previous``
        is the last update ``d`` and its image ``p = J d`` (None before the first). Steepest
        descent: ``a = −‖g‖²/‖q‖²``, ``b = 0``. Two-term step: ``[q·q q·p; q·p p·p][a, b] =
        −[‖g‖², p·r]`` (``q·r = ‖g‖²``), the least-squares step in the plane of ``g`` and ``d``;
        steepest descent where that plane is degenerate (``q ∥ p``).
        """
        gg, qq = _dot(g, g), _dot(q, q)
        positive = qq > 0
        a_sd = torch.where(
            positive, -gg / torch.where(positive, qq, torch.ones_like(qq)), torch.zeros_like(qq)
        )
        if self.classical == "steepest_descent" or previous is None:
            return _per_sample(a_sd, g) * g, _per_sample(a_sd, q) * q
        d, p = previous
        qp, pp = _dot(q, p), _dot(p, p)
        pr = _dot(p, r)  # 0 after a classical step (its residual is ⟂ p), not after a learned one
        det = qq * pp - qp * qp
        regular = det > 1e-10 * qq * pp
        det_safe = torch.where(regular, det, torch.ones_like(det))
        a = torch.where(regular, (-gg * pp + pr * qp) / det_safe, a_sd)
        b = torch.where(regular, (-qq * pr + qp * gg) / det_safe, torch.zeros_like(det))
        return (
            _per_sample(a, g) * g + _per_sample(b, d) * d,
            _per_sample(a, q) * q + _per_sample(b, p) * p,
        )

    # ------------------------------------------------------------------ internals
    @staticmethod
    def _scale(dx: torch.Tensor) -> torch.Tensor:
        rms = dx.flatten(1).pow(2).mean(1).sqrt()
        return _per_sample(rms.clamp_min(torch.finfo(dx.dtype).tiny), dx)

    def _check(
        self, y: torch.Tensor, J: LinearOperator, n_layers: int | None, safeguard: DataSafeguard | None
    ) -> tuple[torch.Tensor, bool]:
        if not isinstance(J, LinearOperator):
            raise TypeError(f"J must be a geolearn LinearOperator, got {type(J).__name__}")
        if len(J.domain_shape) != 2:
            raise ShapeError(f"the operator's domain must be an image (nx, nz), got {J.domain_shape}")
        if not isinstance(y, torch.Tensor):
            raise TypeError(f"y must be a torch.Tensor, got {type(y).__name__}")
        rs = J.range_shape
        unbatched = tuple(y.shape) == rs
        if not unbatched and (y.ndim != len(rs) + 1 or tuple(y.shape[1:]) != rs):
            raise ShapeError(
                f"y has shape {tuple(y.shape)}; it must be (batch, {', '.join(map(str, rs))}) or {rs}"
            )
        for name, p in self.named_parameters():
            if p.dtype != J.dtype or y.dtype != J.dtype:
                raise TypeError(
                    f"the operator has dtype {J.dtype} but y has {y.dtype} and parameter {name} {p.dtype}; "
                    f"build the network with dtype={J.dtype} and pass data of that dtype"
                )
        if not bool(torch.isfinite(y).all()):
            raise NonFiniteError(f"y contains {int((~torch.isfinite(y)).sum())} non-finite value(s)")
        y = y.unsqueeze(0) if unbatched else y
        if bool((_norm(y) == 0).any()):
            raise ConfigError(
                f"sample(s) {torch.nonzero(_norm(y) == 0).flatten().tolist()} of y are all zero"
            )
        if n_layers is not None and (
            isinstance(n_layers, bool) or not isinstance(n_layers, int) or not 1 <= n_layers <= self.n_layers
        ):
            raise ConfigError(f"n_layers must be an integer in 1..{self.n_layers}, got {n_layers!r}")
        if safeguard is not None and not isinstance(safeguard, DataSafeguard):
            raise TypeError(f"safeguard must be a DataSafeguard or None, got {type(safeguard).__name__}")
        return y, unbatched


#: ``loss(net, y, J, x) -> scalar``: a training loss that runs the network itself.
NetworkLoss = Callable[[nn.Module, torch.Tensor, LinearOperator, torch.Tensor], torch.Tensor]


def learned_gradient_loss(
    data_weight: float = 0.3,
    consistency_weight: float = 1.0,
    margin: float = 0.0,
    *,
    band_sigma_m: float | None = None,
    spacing: tuple[float, float] | None = None,
) -> NetworkLoss:
    """Training loss of :class:`LearnedGradientLSRTM` for :func:`~geolearn.learned_inversion.train_over_operators`.

    ``‖x̂ − x‖²/‖x‖² + w_d ‖J x̂ − y‖²/‖y‖² + w_c Σ_k max(0, excess_k + m)`` (sums over the batch;
    ``excess_k`` from :class:`LearnedGradientRun`): the image error, the data misfit of the result
    (as :func:`~geolearn.learned_inversion.lsrtm.lsrtm_loss`), and a hinge on every layer whose learned
    update fits the data worse than its classical update. The hinge trains the network so that
    the safeguard stays silent on models like the training ones; it costs nothing beyond the data
    term (every layer's learned residual is computed anyway). ``w_c = 0`` drops it; a margin
    ``m > 0`` (relative to ``‖y‖²``) trains the learned updates to be strictly better.

    With ``band_sigma_m`` (m) and the grid ``spacing`` (m), the image error is measured in the
    band Born imaging can recover, ``‖H(x̂ − x)‖²/‖H x‖²`` with ``H`` the
    :func:`~geolearn.learned_inversion.metrics.high_pass` over that length: the long wavelengths of
    ``v − v0`` (the background's own error), which no image of these data can recover, then no longer
    dominate the loss and its variance from model to model.
    """
    if not data_weight >= 0 or not consistency_weight >= 0 or not margin >= 0:
        raise ConfigError(
            f"data_weight, consistency_weight and margin must be >= 0, got {data_weight}, "
            f"{consistency_weight} and {margin}"
        )
    if (band_sigma_m is None) != (spacing is None):
        raise ConfigError(f"band_sigma_m and spacing go together, got {band_sigma_m} and {spacing}")
    if band_sigma_m is not None:
        check_band(band_sigma_m, spacing)

    def band(image: torch.Tensor) -> torch.Tensor:
        return image if band_sigma_m is None else high_pass(image, band_sigma_m, spacing)

    def loss(net: nn.Module, y: torch.Tensor, J: LinearOperator, x: torch.Tensor) -> torch.Tensor:
        run = net.run(y, J, last_residual=True)
        tiny = torch.finfo(x.dtype).tiny
        target = band(x)
        value = (band(run.image - x).pow(2).sum() / target.pow(2).sum().clamp_min(tiny)).to(x.dtype)
        value = value + data_weight * run.residual.pow(2).sum() / y.pow(2).sum().clamp_min(tiny)
        return value + consistency_weight * torch.relu(run.excess + margin).sum()

    return loss
