"""Learned least-squares RTM: unrolled ISTA, PnP-FISTA and DEQ schemes with the Born operator inside.

The Born operator ``J`` (:class:`~geolearn.wave.BornOperator`, velocity parametrisation: domain
a velocity perturbation ``δv`` in m/s, shape ``(nx, nz)``; range records
``(n_shots, n_rec, nt)``) is used as the LinearOperator of the schemes in
:mod:`geolearn.learned`, so every layer applies the real wave-equation ``J`` and ``Jᵀ`` and
training back-propagates through them (the backward of ``J`` is ``Jᵀ`` and vice versa). No
network stands in for the physics: the networks only correct images.

- :func:`learned_lsrtm`: :class:`~geolearn.learned.UnrolledISTA` on ``J`` with learned steps and
  image-domain (or transform-domain) thresholds, plus an optional :class:`ImageCorrection` CNN
  per layer.
- :func:`train_learned_lsrtm`: supervised training on pairs ``(J δv, δv)`` from
  :mod:`geolearn.learned_inversion.generator`, on the image error and optionally the data misfit
  ``‖J x̂ − y‖`` (:func:`lsrtm_loss`), so that images also explain the data.
- :func:`cg_lsrtm`, :func:`pnp_fista_lsrtm`, :func:`deq_lsrtm`: the classical baseline, plug-and-play
  FISTA with a trained denoiser, and the deep-equilibrium variant.

Cost: wrap ``J`` in :class:`~geolearn.learned_inversion.metrics.CountingOperator` to count J/Jᵀ; a
``K``-layer unrolled scheme started at zero costs ``2K − 1`` applications, like ``K − 1`` CG
iterations.
"""

from __future__ import annotations

import logging

import torch
from torch import nn

from geolearn.errors import ConfigError, ShapeError
from geolearn.learned import DEQ, DnCNN, PnPISTA, Trainer, TrainingHistory, UnrolledISTA, train_denoiser
from geolearn.learned.cnn import zero_output_cnn
from geolearn.learned.training import Loss
from geolearn.operators import LinearOperator, operator_norm
from geolearn.solvers import tikhonov_cg

__all__ = [
    "ImageCorrection",
    "ScaledDenoiser",
    "TransformedScheme",
    "born_lipschitz_bound",
    "cg_lsrtm",
    "deq_lsrtm",
    "learned_lsrtm",
    "lsrtm_loss",
    "lsrtm_pairs",
    "pnp_fista_lsrtm",
    "steepest_descent_step",
    "train_learned_lsrtm",
    "train_lsrtm_denoiser",
]

logger = logging.getLogger("geolearn.learned_inversion.lsrtm")


class ImageCorrection(nn.Module):
    """Small residual CNN ``C(x)`` on images ``(B, nx, nz)``; the scheme uses ``x + C(x)``.

    ``C(x) = s · N(x / s)`` with a fixed amplitude scale ``s`` (in the image's units, e.g.
    m/s) so the network sees order-one values. The last convolution starts at zero, so an
    untrained correction leaves the scheme unchanged.

    Parameters
    ----------
    features : int
        Hidden channels.
    depth : int
        Convolutions (≥ 2), 3×3, ReLU between them.
    scale : float
        Amplitude scale ``s`` (positive).
    activation : {"relu", "silu"}
        Nonlinearity between convolutions; "silu" makes the network smooth (Taylor tests).
    seed : int
        Seed of the weight initialisation.
    dtype : torch.dtype
        Parameter dtype (the scheme's dtype).
    """

    def __init__(
        self,
        features: int = 16,
        depth: int = 3,
        *,
        scale: float = 1.0,
        activation: str = "relu",
        seed: int = 0,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        if not scale > 0:
            raise ConfigError(f"scale must be positive (image units), got {scale}")
        self.body = zero_output_cnn(1, features, depth, activation, seed, dtype)
        self.register_buffer("scale", torch.tensor(float(scale), dtype=dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, nx, nz)`` to ``(B, nx, nz)``, same units as ``x``."""
        if x.ndim != 3:
            raise ShapeError(f"ImageCorrection expects images (B, nx, nz), got {tuple(x.shape)}")
        return self.body(x[:, None] / self.scale)[:, 0] * self.scale


class ScaledDenoiser(nn.Module):
    """Apply an image denoiser in normalised units: ``D(x) = s · D₀(x / s)`` (same Lipschitz bound)."""

    def __init__(self, denoiser: nn.Module, scale: float) -> None:
        super().__init__()
        if not scale > 0:
            raise ConfigError(f"scale must be positive (image units), got {scale}")
        self.denoiser = denoiser
        self.register_buffer("scale", torch.tensor(float(scale)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.scale.to(x.dtype)
        return self.denoiser(x / s) * s


class TransformedScheme(nn.Module):
    """A scheme run on coefficients ``c`` of an orthonormal synthesis ``S``: image ``= S c``.

    ``S`` maps coefficients to images, like :class:`~geolearn.operators.DCT2` (and
    :func:`~geolearn.imaging.lsrtm`'s ``transform="dct"``). The wrapped scheme was built on
    ``J S``, so its thresholds act on the analysis coefficients ``Sᵀ x`` (for ``DCT2``, the
    DCT coefficients of the image). ``forward(y, n_layers=None)`` returns images ``(B, nx, nz)``.
    """

    def __init__(self, scheme: nn.Module, transform: LinearOperator) -> None:
        super().__init__()
        self.scheme, self.transform = scheme, transform
        self.n_layers = getattr(scheme, "n_layers", None)

    def forward(self, y: torch.Tensor, *, n_layers: int | None = None) -> torch.Tensor:
        c = self.scheme(y) if n_layers is None else self.scheme(y, n_layers=n_layers)
        return self.transform(c)


def born_lipschitz_bound(J: LinearOperator, *, n_iter: int = 8, safety: float = 1.1, seed: int = 0) -> float:
    """An upper bound ``safety · ‖J‖₂²`` on the Lipschitz constant of ``x ↦ ½‖Jx − y‖²``'s gradient.

    ``n_iter`` power iterations of :func:`geolearn.operators.operator_norm` (``2 n_iter`` applications);
    not to be confused with :func:`geolearn.learned.estimate_lipschitz` (a denoiser's constant).

    Power iteration approaches ``‖J‖`` from below; ``safety`` > 1 keeps steps ``γ ≤ 1/L`` safe.
    """
    if n_iter < 1 or not safety >= 1:
        raise ConfigError(f"need n_iter >= 1 and safety >= 1, got n_iter={n_iter}, safety={safety}")
    return safety * operator_norm(J, tol=1e-3, max_iter=n_iter, seed=seed) ** 2


def steepest_descent_step(J: LinearOperator, y: torch.Tensor) -> float:
    """Mean exact line-search step ``‖Jᵀy‖² / ‖J Jᵀy‖²`` of the first gradient step from zero.

    ``y`` is ``(B, *J.range_shape)``; costs one Jᵀ and one J per sample. On band-limited data this
    step is typically many times ``1/‖J‖²``.
    """
    with torch.no_grad():
        g = J.adjoint(y)
        Jg = J(g)
    num = g.double().flatten(1).pow(2).sum(1)
    den = Jg.double().flatten(1).pow(2).sum(1)
    if bool((den <= 0).any()):
        raise ConfigError("J Jᵀy is zero for a sample: the data carry nothing the operator can image")
    return float((num / den).mean())


def learned_lsrtm(
    J: LinearOperator,
    n_layers: int = 3,
    *,
    step: float,
    scale: float,
    correction: bool = True,
    features: int = 16,
    depth: int = 3,
    threshold: float = 0.01,
    activation: str = "relu",
    transform: LinearOperator | None = None,
    seed: int = 0,
) -> nn.Module:
    """Build learned LSRTM: unrolled ISTA on ``J`` with per-layer CNN corrections.

    Layer ``k``: ``x ← S_{θ_k}(x − γ_k Jᵀ(J x − y))``, then ``x ← x + C_k(x)``.

    Steps start at ``step`` and are bounded by ``2·step`` (``γ_k = 2·step·sigmoid(ρ_k)``). Pass
    ``step = 1/L`` with ``L ≥ ‖J‖²`` for a scheme whose layers are nonexpansive; a few unrolled
    layers need no global stability, and :func:`steepest_descent_step` (often ≫ ``1/L`` on
    band-limited data) gives a far better start.

    Parameters
    ----------
    J : LinearOperator
        Born operator (domain ``(nx, nz)`` in m/s, range records), possibly wrapped in a
        :class:`~geolearn.learned_inversion.metrics.CountingOperator`.
    n_layers : int
        ``K``; costs ``2K − 1`` J/Jᵀ applications per sample from ``x₀ = 0``.
    step : float
        Initial step (see above), in (m/s) per (data unit)².
    scale : float
        Typical image amplitude (e.g. the std of training targets, m/s) for the CNN and the
        initial thresholds ``θ_k = threshold · scale``.
    correction : bool
        Add an :class:`ImageCorrection` per layer.
    features, depth : int
        CNN size.
    threshold : float
        Initial thresholds as a fraction of ``scale``.
    activation : {"relu", "silu"}
        CNN nonlinearity.
    transform : LinearOperator, optional
        Orthonormal synthesis ``S`` on ``(nx, nz)`` (coefficients to image, e.g.
        :class:`~geolearn.operators.DCT2`): the scheme runs on ``J S`` so thresholds act on
        ``Sᵀ x`` (returns a :class:`TransformedScheme`); the corrections then act on coefficients.
    seed : int
        Seed of the CNN initialisation (layer ``k`` uses ``seed + k``).

    Returns
    -------
    nn.Module
        ``net(y) -> (B, nx, nz)``; accepts ``n_layers=`` like every IterationMap.
    """
    if not scale > 0 or not threshold > 0 or not step > 0:
        raise ConfigError(
            f"step, scale and threshold must be positive, got step={step}, scale={scale}, threshold={threshold}"
        )
    A = J if transform is None else J @ transform
    corrections = (
        [
            ImageCorrection(features, depth, scale=scale, activation=activation, seed=seed + k, dtype=J.dtype)
            for k in range(n_layers)
        ]
        if correction
        else None
    )
    # UnrolledISTA bounds steps by c/L: L = 1/(2 step), c = 1 gives the bound 2·step.
    net = UnrolledISTA(
        A,
        n_layers,
        lipschitz=1.0 / (2.0 * step),
        step_init=step,
        threshold_init=threshold * scale,
        corrections=corrections,
    )
    return net if transform is None else TransformedScheme(net, transform)


def lsrtm_pairs(J: LinearOperator, perturbations: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Training pairs ``(y, x) = (J δv, δv)`` for perturbations ``(N, nx, nz)`` in m/s."""
    if tuple(perturbations.shape[1:]) != J.domain_shape or perturbations.ndim != 3:
        raise ShapeError(
            f"perturbations must be (N, {J.domain_shape[0]}, {J.domain_shape[1]}), got {tuple(perturbations.shape)}"
        )
    x = perturbations.to(J.dtype)
    with torch.no_grad():
        y = J(x)
    return y, x


def lsrtm_loss(J: LinearOperator | None = None, data_weight: float = 0.0) -> Loss:
    """Training loss ``‖x̂ − x‖² / ‖x‖² + w · ‖J x̂ − y‖² / ‖y‖²`` (sums over the mini-batch).

    The image term alone makes images that score well against the true perturbation but may fit
    the data worse than the zero image; the data term (``w > 0``) ties them to the records. It
    costs one more ``J`` per sample in the forward pass and one ``Jᵀ`` in the backward pass.

    Parameters
    ----------
    J : LinearOperator, optional
        Born operator mapping images ``(B, nx, nz)`` to records; needed when ``data_weight > 0``.
    data_weight : float
        ``w ≥ 0``.

    Returns
    -------
    callable
        ``loss(estimate, target, y) -> scalar`` for :class:`~geolearn.learned.Trainer`.
    """
    if not data_weight >= 0:
        raise ConfigError(f"data_weight must be >= 0, got {data_weight}")
    if data_weight > 0 and J is None:
        raise ConfigError("data_weight > 0 needs the Born operator J to measure the data misfit")

    def loss(estimate: torch.Tensor, target: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        value = (estimate - target).pow(2).sum() / target.pow(2).sum().clamp_min(
            torch.finfo(target.dtype).tiny
        )
        if data_weight > 0:
            r = J(estimate) - y
            value = value + data_weight * r.pow(2).sum() / y.pow(2).sum().clamp_min(torch.finfo(y.dtype).tiny)
        return value

    return loss


def train_learned_lsrtm(
    net: nn.Module,
    train: tuple[torch.Tensor, torch.Tensor],
    val: tuple[torch.Tensor, torch.Tensor] | None = None,
    *,
    J: LinearOperator | None = None,
    data_weight: float = 0.0,
    n_steps: int = 50,
    lr: float = 1e-2,
    batch_size: int = 4,
    seed: int = 0,
    progress: bool = True,
) -> TrainingHistory:
    """Adam on :func:`lsrtm_loss`, back-propagating through every J and Jᵀ of the network.

    Parameters
    ----------
    net : nn.Module
        From :func:`learned_lsrtm` (or any ``net(y) -> x``).
    train, val : (y, x) pairs
        Records ``(N, n_shots, n_rec, nt)`` and perturbations ``(N, nx, nz)``.
    J : LinearOperator, optional
        The Born operator, for the data term.
    data_weight : float
        Weight ``w`` of the relative data misfit in the loss (0: image error only).
    n_steps, lr, batch_size, seed, progress
        Optimiser settings; ``progress=False`` silences the tqdm bar.
    """
    trainer = Trainer(
        net,
        lr=lr,
        batch_size=batch_size,
        seed=seed,
        progress=progress,
        val_every=max(1, n_steps),
        loss=lsrtm_loss(J, data_weight),
    )
    return trainer.fit(train, val, n_steps=n_steps)


def cg_lsrtm(J: LinearOperator, y: torch.Tensor, n_iter: int) -> torch.Tensor:
    """Classical LSRTM: ``n_iter`` conjugate-gradient iterations on ``JᵀJ x = Jᵀy`` from zero.

    Costs ``2 n_iter + 1`` applications (Jᵀy, then one J and one Jᵀ per iteration; ``J 0`` is
    free through :class:`~geolearn.learned_inversion.metrics.CountingOperator`). Returns ``(B, nx, nz)``.
    """
    if n_iter < 1:
        raise ConfigError(f"n_iter must be >= 1, got {n_iter}")
    return tikhonov_cg(J, y, 0.0, max_iter=n_iter, tol=0.0).x


def pnp_fista_lsrtm(
    J: LinearOperator,
    y: torch.Tensor,
    denoiser: nn.Module,
    n_iter: int,
    *,
    lipschitz: float,
    step: float | None = None,
) -> torch.Tensor:
    """Plug-and-play FISTA: ``x_{k+1} = D(z_k − γ Jᵀ(J z_k − y))`` with Nesterov momentum on ``z``.

    Parameters
    ----------
    J : LinearOperator
    y : Tensor ``(B, n_shots, n_rec, nt)``
    denoiser : nn.Module
        ``(B, nx, nz) -> (B, nx, nz)``, e.g. ``ScaledDenoiser(DnCNN(mode="firm"), scale)``.
    n_iter : int
        Iterations; costs ``2 n_iter − 1`` applications from ``x₀ = 0``.
    lipschitz : float
        ``L ≥ ‖J‖²``.
    step : float, optional
        ``γ``; default ``1/L``.
    """
    if n_iter < 1:
        raise ConfigError(f"n_iter must be >= 1, got {n_iter}")
    gamma = 1.0 / lipschitz if step is None else float(step)
    if not 0 < gamma * lipschitz <= 1.0 + 1e-9:
        raise ConfigError(f"step must lie in (0, 1/L] = (0, {1 / lipschitz:.4g}], got {gamma:.4g}")
    x = y.new_zeros((y.shape[0], *J.domain_shape))
    z, t = x, 1.0
    with torch.no_grad():
        for _ in range(n_iter):
            x_new = denoiser(z - gamma * J.adjoint(J(z) - y))
            t_new = 0.5 * (1 + (1 + 4 * t * t) ** 0.5)
            z = x_new + ((t - 1) / t_new) * (x_new - x)
            x, t = x_new, t_new
    return x


def deq_lsrtm(
    J: LinearOperator,
    denoiser: nn.Module,
    *,
    lipschitz: float,
    max_iter: int = 30,
    tol: float = 1e-4,
    backward_max_iter: int = 30,
    backward_tol: float = 1e-6,
    solver: str = "anderson",
) -> DEQ:
    """Deep-equilibrium learned LSRTM: the fixed point of ``x = D(x − γ Jᵀ(J x − y))``.

    Built on :class:`~geolearn.learned.PnPISTA` with one layer and a learned step ``γ ≤ 1/L``;
    with a firmly nonexpansive denoiser (``DnCNN(mode="firm")``) the map is averaged and the
    iteration converges. Gradients are implicit (one adjoint fixed-point solve), so training
    memory does not grow with the number of iterations.

    Returns
    -------
    DEQ
        ``deq(y) -> (B, nx, nz)``.
    """
    return DEQ(
        PnPISTA(J, 1, denoiser, lipschitz=lipschitz),
        solver=solver,
        tol=tol,
        max_iter=max_iter,
        backward_tol=backward_tol,
        backward_max_iter=backward_max_iter,
    )


def train_lsrtm_denoiser(
    images: torch.Tensor,
    *,
    scale: float,
    noise_std: float | tuple[float, float] = (0.05, 0.3),
    features: int = 16,
    depth: int = 4,
    mode: str = "firm",
    n_steps: int = 200,
    patch_size: int | None = None,
    seed: int = 0,
    progress: bool = True,
) -> tuple[ScaledDenoiser, TrainingHistory]:
    """Train a :class:`~geolearn.learned.DnCNN` on generator images ``(N, nx, nz)`` (m/s) for PnP/DEQ.

    Images are divided by ``scale`` for training (noise levels are in those normalised units);
    the returned :class:`ScaledDenoiser` works in m/s. ``mode="firm"`` keeps it firmly
    nonexpansive (needed for DEQ convergence). No wave-equation solve is involved.
    """
    dn = DnCNN(1, features, depth, mode=mode, seed=seed).to(images.dtype)
    patch = patch_size or min(images.shape[1:])
    hist = train_denoiser(
        dn,
        images / scale,
        noise_std=noise_std,
        patch_size=patch,
        batch_size=8,
        n_steps=n_steps,
        lr=2e-3,
        seed=seed,
        progress=progress,
    )
    return ScaledDenoiser(dn, scale).to(images.dtype), hist
