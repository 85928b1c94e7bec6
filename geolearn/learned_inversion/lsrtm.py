"""Learned least-squares RTM: unrolled ISTA with the Born operator inside, applied as ``net(y, J)``.

The Born operator ``J`` (:class:`~geolearn.wave.BornOperator`, velocity parametrisation: domain
a velocity perturbation ``δv`` in m/s, shape ``(nx, nz)``; range records
``(n_shots, n_rec, nt)``) is the LinearOperator of the schemes of :mod:`geolearn.learned`, so
every layer applies the real wave-equation ``J`` and ``Jᵀ`` and training back-propagates through
them (the backward of ``J`` is ``Jᵀ`` and vice versa). No network stands in for the physics:
the networks only correct images.

Physics at call time
--------------------
The networks store no operator. One trained network images another survey's geometry and
background velocity because nothing it learned is tied to the training ``J``:

- steps are fractions ``t_k ∈ (0, 2]`` of ``1/L`` with ``L ≈ 1.1 ‖J‖²`` of the call's ``J``
  (:data:`BORN_LIPSCHITZ`: 8 power iterations, once per operator, remembered), so ``J → αJ``,
  ``y → αy`` leaves the images unchanged. The useful step sits at a stable multiple of ``1/L``:
  the first exact line-search step ``‖Jᵀy‖²/‖JJᵀy‖²`` of generator data was 1.84, 1.74, 1.77 and
  1.65 × ``1/L`` (means over 8 models) on the training survey, on one with other shots, receivers
  and background, on one at 20 Hz and on one at 12 m spacing. That step itself varies 3× from model
  to model, and using it per sample (``step_scale="cauchy"``) overshot in layers 2 and 3 (measured:
  0.7 dB lower PSNR at 3 layers), so it is not the unit here;
- thresholds and :class:`ImageCorrection` CNNs act on the image in m/s (physical units);
- the CNNs are convolutional, so any grid shape works, but they see the image in *grid cells*:
  a grid spacing or frequency band outside the training ones changes what a 3×3 kernel means,
  which :mod:`~geolearn.learned_inversion.persistence` warns about.

Contents: :func:`learned_lsrtm` (unrolled ISTA with learned steps, image- or DCT-domain
thresholds and an optional :class:`ImageCorrection` per layer), :func:`train_learned_lsrtm`
(supervised on pairs ``(J δv, δv)`` from :mod:`~geolearn.learned_inversion.training_models.generator`, image
error plus optionally the data misfit, :func:`lsrtm_loss`), :func:`cg_lsrtm` (the classical
baseline). Plug-and-play and DEQ variants are in :mod:`~geolearn.learned_inversion.pnp`.

Cost, in J/Jᵀ applications (``J.applications``, counted by every LinearOperator; the solves
they cost are in the cost ledger, :mod:`geolearn.ledger`). A ``K``-layer learned LSRTM costs
``2K − 1`` applications per sample from ``x₀ = 0`` (``J·0`` is answered without a solve and not
counted), like ``K − 1`` CG iterations (``2n + 1`` for ``n``): equal cost means equal
applications; plus 16 once per operator for ``L``.
"""

from __future__ import annotations

import logging

import torch
from torch import nn

from geolearn.errors import ConfigError, ShapeError
from geolearn.learned import LipschitzEstimator, Trainer, TrainingHistory, UnrolledISTA, zero_output_cnn
from geolearn.learned.training import Loss
from geolearn.operators import DCT2, LinearOperator
from geolearn.solvers import tikhonov_cg

__all__ = [
    "BORN_LIPSCHITZ",
    "TRANSFORMS",
    "ImageCorrection",
    "TransformedScheme",
    "born_lipschitz_bound",
    "cg_lsrtm",
    "learned_lsrtm",
    "lsrtm_loss",
    "lsrtm_pairs",
    "train_learned_lsrtm",
]

logger = logging.getLogger("geolearn.learned_inversion.lsrtm")

#: Coefficient domains :func:`learned_lsrtm` can threshold in.
TRANSFORMS = ("dct",)
#: The ``‖J‖²`` estimate used for Born operators: 8 power iterations (16 applications), × 1.1.
BORN_LIPSCHITZ = LipschitzEstimator(max_iter=8, tol=1e-3, safety=1.1)


def born_lipschitz_bound(J: LinearOperator, *, n_iter: int = 8, safety: float = 1.1, seed: int = 0) -> float:
    """An upper bound ``safety · ‖J‖₂²`` on the Lipschitz constant of ``x ↦ ½‖Jx − y‖²``'s gradient.

    ``n_iter`` power iterations (``2 n_iter`` applications) by a
    :class:`~geolearn.learned.LipschitzEstimator`, remembered per operator object; not to be
    confused with :func:`geolearn.learned.estimate_lipschitz` (a denoiser's constant). Power
    iteration approaches ``‖J‖`` from below; ``safety`` > 1 keeps steps ``γ ≤ 1/L`` safe.
    """
    if n_iter < 1 or not safety >= 1:
        raise ConfigError(f"need n_iter >= 1 and safety >= 1, got n_iter={n_iter}, safety={safety}")
    return LipschitzEstimator(max_iter=n_iter, tol=1e-3, safety=safety, seed=seed)(J)


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


class TransformedScheme(nn.Module):
    """A scheme run on coefficients ``c`` of an orthonormal synthesis ``S``: image ``= S c``.

    ``S`` (``"dct"``: :class:`~geolearn.operators.DCT2`, as :func:`~geolearn.imaging.lsrtm`'s
    ``transform="dct"``) is built for the grid of each call's ``J``, and the wrapped scheme runs on
    ``J S``, so its thresholds act on the analysis coefficients ``Sᵀ x`` (the DCT coefficients of
    the image). ``forward(y, J, n_layers=None, lipschitz=None)`` returns images ``(B, nx, nz)``.
    """

    def __init__(self, scheme: nn.Module, transform: str = "dct") -> None:
        super().__init__()
        if transform not in TRANSFORMS:
            raise ConfigError(f"transform must be one of {TRANSFORMS}, got {transform!r}")
        self.scheme, self.transform = scheme, transform
        self.n_layers = getattr(scheme, "n_layers", None)
        self.synthesis_by_grid: dict[tuple, LinearOperator] = {}  # a cache, not state

    def synthesis(self, J: LinearOperator) -> LinearOperator:
        """``S`` on ``J``'s image grid, dtype and device (built once per grid)."""
        key = (J.domain_shape, J.dtype, J.device)
        if key not in self.synthesis_by_grid:
            self.synthesis_by_grid[key] = DCT2(J.domain_shape, dtype=J.dtype).to(device=J.device)
        return self.synthesis_by_grid[key]

    def forward(
        self,
        y: torch.Tensor,
        J: LinearOperator,
        *,
        n_layers: int | None = None,
        lipschitz: float | None = None,
    ) -> torch.Tensor:
        S = self.synthesis(J)
        if lipschitz is None and getattr(self.scheme, "step_scale", None) == "lipschitz":
            lipschitz = self.scheme.lipschitz_estimator(J)  # ‖J S‖ = ‖J‖, remembered for J itself
        kwargs = {} if lipschitz is None else {"lipschitz": lipschitz}
        if n_layers is not None:
            kwargs["n_layers"] = n_layers
        return S(self.scheme(y, J @ S, **kwargs))


def learned_lsrtm(
    n_layers: int = 3,
    *,
    scale: float,
    step: float = 1.5,
    correction: bool = True,
    features: int = 16,
    depth: int = 3,
    threshold: float = 0.01,
    activation: str = "relu",
    transform: str | None = None,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
) -> nn.Module:
    """Build learned LSRTM: unrolled ISTA with per-layer CNN corrections, applied as ``net(y, J)``.

    Layer ``k``: ``x ← S_{θ_k}(x − (t_k/L) Jᵀ(J x − y))``, then ``x ← x + C_k(x)``, with ``L`` from
    the call's ``J`` (:data:`BORN_LIPSCHITZ`, or ``net(y, J, lipschitz=L)``) and ``t_k ∈ (0, 2]``
    learned. A few unrolled layers need no global stability (``t_k > 1`` is not nonexpansive); the
    default start 1.5 is near the first exact line-search step of band-limited Born data (module
    docstring).

    Parameters
    ----------
    n_layers : int
        ``K``; costs ``2K − 1`` J/Jᵀ applications per sample.
    scale : float
        Typical image amplitude (e.g. the std of training targets, m/s) for the CNN and the
        initial thresholds ``θ_k = threshold · scale``.
    step : float
        Initial step fractions ``t_k`` of ``1/L``, in ``(0, 2]``.
    correction : bool
        Add an :class:`ImageCorrection` per layer.
    features, depth : int
        CNN size.
    threshold : float
        Initial thresholds as a fraction of ``scale``.
    activation : {"relu", "silu"}
        CNN nonlinearity.
    transform : {None, "dct"}
        Threshold the DCT coefficients of the image instead of the image (returns a
        :class:`TransformedScheme`); the corrections then act on coefficients.
    seed : int
        Seed of the CNN initialisation (layer ``k`` uses ``seed + k``).
    dtype : torch.dtype
        Parameter dtype (the Born operator's).

    Returns
    -------
    nn.Module
        ``net(y, J) -> (B, nx, nz)``; accepts ``n_layers=`` and ``lipschitz=`` like every IterationMap.
    """
    if not scale > 0 or not threshold > 0 or not 0 < step <= 2:
        raise ConfigError(
            f"need scale > 0, threshold > 0 and 0 < step <= 2; got scale={scale}, threshold={threshold}, step={step}"
        )
    corrections = (
        [
            ImageCorrection(features, depth, scale=scale, activation=activation, seed=seed + k, dtype=dtype)
            for k in range(n_layers)
        ]
        if correction
        else None
    )
    net = UnrolledISTA(
        n_layers,
        step_init=step,
        step_bound=2.0,
        lipschitz_estimator=BORN_LIPSCHITZ,
        threshold_init=threshold * scale,
        corrections=corrections,
        dtype=dtype,
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
    J: LinearOperator,
    train: tuple[torch.Tensor, torch.Tensor],
    val: tuple[torch.Tensor, torch.Tensor] | None = None,
    *,
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
        From :func:`learned_lsrtm` (or any ``net(y, J) -> x``).
    J : LinearOperator
        The Born operator of the training pairs, passed to every call of ``net`` (not stored).
    train, val : (y, x) pairs
        Records ``(N, n_shots, n_rec, nt)`` and perturbations ``(N, nx, nz)``.
    data_weight : float
        Weight ``w`` of the relative data misfit in the loss (0: image error only).
    n_steps, lr, batch_size, seed, progress
        Optimiser settings; ``progress=False`` silences the tqdm bar.
    """
    trainer = Trainer(
        net,
        operator=J,
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

    Costs ``2 n_iter + 1`` applications (Jᵀy, then one J and one Jᵀ per iteration; ``J 0`` of the
    zero start is answered without running ``J`` and not counted in ``J.applications``).
    Returns ``(B, nx, nz)``.
    """
    if n_iter < 1:
        raise ConfigError(f"n_iter must be >= 1, got {n_iter}")
    return tikhonov_cg(J, y, 0.0, max_iter=n_iter, tol=0.0).x
