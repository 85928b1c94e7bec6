"""LISTA and its variants: untied/tied, coupled (LISTA-CP), support selection, ALISTA.

These schemes learn explicit matrices, so they need an operator whose matrix can be held in
memory: a flat (vector) domain of size ``n`` and range of size ``m`` with ``n·(n + m)`` below
``max_matrix_entries``. Image or Born operators should use :class:`~geolearn.learned.UnrolledISTA`,
:class:`~geolearn.learned.LearnedFISTA` or :class:`~geolearn.learned.PnPISTA`, which only call
``A.apply``/``A.adjoint``.

The operator at call time
-------------------------
Like every scheme they are applied as ``net(y, A)`` and store no operator, but what they learn
is tied to the matrix they were built from, and that is kept on purpose:

- LISTA's ``W_k`` and ``U_k`` start as ``I − AᵀA/L`` and ``Aᵀ/L`` of the construction matrix and
  are learned freely: they *are* a learned model of that operator. Untied/tied LISTA applies no
  operator at all; the call's ``A`` only fixes (and checks) the shapes ``(m, n)``.
- LISTA-CP computes ``z = x + U_k(y − A x)`` with the call's ``A``, so its data-consistency
  term follows the operator given, while ``U_k`` stays what was learned for the construction one.
- ALISTA's analytic weight ``W`` is a function of the construction matrix (a buffer, moved by
  ``.to``); its steps ``γ_k`` are learned in the units of ``1/‖WᵀA‖``; ``A x`` uses the call's ``A``.

A call with an operator of other shapes raises :class:`~geolearn.errors.ShapeError`; use an
image-domain scheme when one network must serve operators of different sizes.

Identifiability
---------------
With ``unit_rows=True`` a layer stores raw rows ``V`` (of ``W``), ``U`` and per-row thresholds
``θ`` and computes, with ``d_i = s_i/‖v_i‖`` (``s_i`` the sign of the first nonzero entry of
``v_i``), ``x_i = S_{θ_i/‖v_i‖}(d_i (v_i·x + u_i·y))``. Rescaling row ``i`` of ``V`` and ``U``
by any ``p_i ≠ 0`` and ``θ_i`` by ``|p_i|`` leaves the network unchanged; :func:`canonicalize`
maps every member of such a class to the one with unit-norm rows, positive first entries.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from geolearn.errors import ConfigError, ShapeError
from geolearn.learned._checks import layer_values
from geolearn.learned.constraints import positive, positive_inverse
from geolearn.learned.maps import IterationMap
from geolearn.learned.physics import LipschitzEstimator, Physics, check_lipschitz
from geolearn.operators import LinearOperator
from geolearn.solvers import soft_threshold

__all__ = ["ALISTA", "LISTA", "alista_weight", "canonicalize", "dense_matrix", "support_shrink"]


def dense_matrix(A: LinearOperator, max_matrix_entries: int = 10**7) -> torch.Tensor:
    """The ``(m, n)`` matrix of a flat-domain, flat-range operator, or a :class:`ShapeError`."""
    m, n = A.shape
    if len(A.domain_shape) != 1 or len(A.range_shape) != 1 or n * (n + m) > max_matrix_entries:
        raise ShapeError(
            f"LISTA-type schemes learn explicit matrices and need a MatrixOperator-sized problem: "
            f"a flat domain and range with n·(n+m) ≤ {max_matrix_entries}; got domain {A.domain_shape}, "
            f"range {A.range_shape}. Use UnrolledISTA, LearnedFISTA or PnPISTA for image/Born operators"
        )
    return A.dense()


def support_shrink(z: torch.Tensor, threshold: torch.Tensor, fraction: float) -> torch.Tensor:
    """Soft thresholding in which the ``fraction`` largest-magnitude entries per sample bypass.

    ``z`` has shape ``(B, n)``; ``threshold`` is a scalar or ``(n,)`` tensor.
    """
    shrunk = soft_threshold(z, threshold)
    n_keep = min(math.ceil(fraction * z.shape[-1]), z.shape[-1])
    if n_keep <= 0:
        return shrunk
    index = z.abs().topk(n_keep, dim=-1).indices
    mask = torch.zeros_like(z, dtype=torch.bool).scatter_(-1, index, True)
    return torch.where(mask, z, shrunk)


def _row_scale(V: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-row ``(sign of first nonzero entry, norm)`` of ``V`` (last dim = row entries)."""
    norms = V.norm(dim=-1)
    if bool((norms == 0).any()):
        raise ValueError("a row of W is zero; rows must be nonzero to be normalised")
    first = (V != 0).to(torch.int8).argmax(dim=-1, keepdim=True)
    signs = torch.sign(V.gather(-1, first)).squeeze(-1)
    return signs, norms


def canonicalize(
    W: torch.Tensor, U: torch.Tensor, thresholds: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Canonical representative of ``(W, U, θ)`` under row scaling ``(PW, PU, |P|θ)``.

    Parameters
    ----------
    W : Tensor ``(..., n, n)``; U : Tensor ``(..., n, m)``; thresholds : Tensor ``(..., n)``.

    Returns
    -------
    ``(DW, DU, θ/‖w‖)`` with ``D = diag(sign(first nonzero of w_i)/‖w_i‖)``: unit-norm rows of
    ``W`` whose first nonzero entry is positive.
    """
    signs, norms = _row_scale(W)
    d = (signs / norms).unsqueeze(-1)
    return W * d, U * d, thresholds / norms


def alista_weight(A: torch.Tensor) -> torch.Tensor:
    """Analytic ALISTA weight ``W`` (``m × n``) for the matrix ``A`` (``m × n``).

    Column ``w_i`` minimises ``Σ_{j≠i} (w_iᵀa_j)²`` subject to ``w_iᵀa_i = 1`` (the Frobenius
    form of min ‖WᵀA‖ off-diagonal s.t. diag(WᵀA) = 1), whose solution is
    ``w_i = (AAᵀ)⁺a_i / (a_iᵀ(AAᵀ)⁺a_i)``.
    """
    G = torch.linalg.pinv(A @ A.T, hermitian=True) @ A
    denom = (A * G).sum(dim=0)
    if bool((denom.abs() < 1e-12 * denom.abs().max()).any()):
        raise ValueError("a column of A lies in the null space of A Aᵀ's pseudo-inverse; ALISTA W undefined")
    return G / denom


def _check_matrix_shape(A: LinearOperator, m: int, n: int) -> None:
    if A.domain_shape != (n,) or A.range_shape != (m,):
        raise ShapeError(
            f"this network learned matrices for a {m}×{n} operator (flat range ({m},), domain ({n},)); "
            f"the operator given has range {A.range_shape} and domain {A.domain_shape}"
        )


class LISTA(IterationMap):
    """Learned ISTA: ``z_k = W_k x_{k−1} + U_k y``, ``x_k = S_{θ_k}(z_k)``; called as ``net(y, A)``.

    Initialised to equal ISTA with step ``1/L`` on the construction operator ``A``:
    ``W = I − AᵀA/L``, ``U = Aᵀ/L``, ``θ = λ/L``. The operator is not stored (see the module
    docstring for what the call's operator does).

    Parameters
    ----------
    A : LinearOperator
        Flat ``n → m`` operator small enough to materialise (see module docstring), used to
        initialise the matrices.
    n_layers : int
        Number of layers ``K``.
    lam : float
        LASSO weight λ for the initial thresholds.
    tied : bool
        Share ``W``, ``U`` across layers (thresholds stay per layer).
    coupled : bool
        LISTA-CP: ``z = x + U_k(y − Ax)`` with the call's ``A``; only ``U_k``, ``θ_k`` learned.
    support_selection : (float, float), optional
        ``(p_step, p_max)``: at layer ``k`` (1-based) the ``min(k·p_step, p_max)`` fraction of
        largest entries of ``z_k`` bypass the shrinkage (LISTA-CPSS uses ``(0.012, 0.13)``).
    unit_rows : bool
        Identifiable parameterisation with unit-norm rows and per-row thresholds (module
        docstring); not combinable with ``coupled``. At initialisation it equals ISTA up to the
        row normalisation of ``W``.
    lipschitz : float, optional
        ``L = ‖A‖₂²`` of the construction operator; estimated when omitted.
    max_matrix_entries : int
        Size limit for the explicit matrices.
    """

    step_scales = ("none",)

    def __init__(
        self,
        A: LinearOperator,
        n_layers: int,
        *,
        lam: float = 0.1,
        tied: bool = False,
        coupled: bool = False,
        support_selection: tuple[float, float] | None = None,
        unit_rows: bool = False,
        lipschitz: float | None = None,
        max_matrix_entries: int = 10**7,
        corrections: nn.Module | Sequence[nn.Module] | None = None,
    ) -> None:
        super().__init__(n_layers, corrections=corrections)
        M = dense_matrix(A, max_matrix_entries)
        if unit_rows and coupled:
            raise ConfigError(
                "unit_rows applies to LISTA's explicit W; it cannot be combined with coupled=True"
            )
        if not lam > 0:
            raise ValueError(f"lam must be positive, got {lam}")
        self.tied, self.coupled, self.unit_rows = bool(tied), bool(coupled), bool(unit_rows)
        self.support_selection = _check_support(support_selection)
        L = check_lipschitz(lipschitz) if lipschitz is not None else LipschitzEstimator()(A)
        m, n = M.shape
        n_sets = 1 if self.tied else self.n_layers
        U = (M.T / L).expand(n_sets, n, m).clone()
        self.U = nn.Parameter(U)
        if not self.coupled:
            W = torch.eye(n, dtype=M.dtype) - M.T @ M / L
            self.W = nn.Parameter(W.expand(n_sets, n, n).clone())
        theta = layer_values(lam / L, self.n_layers, "threshold").to(M.dtype)
        if self.unit_rows:
            theta = theta[:, None].expand(self.n_layers, n).clone()
        self.raw_threshold = nn.Parameter(positive_inverse(theta))

    @property
    def thresholds(self) -> torch.Tensor:
        """Raw-space thresholds ``θ``: ``(K,)``, or ``(K, n)`` per row with ``unit_rows``."""
        return positive(self.raw_threshold)

    def physics(self, y: torch.Tensor, A: LinearOperator, *, lipschitz: float | None = None) -> Physics:
        _check_matrix_shape(A, self.U.shape[2], self.U.shape[1])
        return super().physics(y, A, lipschitz=lipschitz)

    def layer_weights(
        self, k: int, A: LinearOperator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Effective ``(W_k (n×n), U_k (n×m), θ_k)`` of layer ``k``; LISTA-CP needs the operator ``A``
        (``W_k = I − U_k A``, with ``A`` materialised)."""
        k = self.check_layer(k)
        j = 0 if self.tied else k
        U, theta = self.U[j], self.thresholds[k]
        if self.coupled:
            if A is None:
                raise ConfigError("LISTA-CP's W_k = I − U_k A needs the operator: layer_weights(k, A)")
            _check_matrix_shape(A, U.shape[1], U.shape[0])
            W = torch.eye(U.shape[0], dtype=U.dtype, device=U.device) - U @ A.dense()
        else:
            W = self.W[j]
        if self.unit_rows:
            W, U, theta = canonicalize(W, U, theta)
        return W, U, theta

    def step(self, state: torch.Tensor, y: torch.Tensor, physics: Physics, k: int) -> torch.Tensor:
        if self.coupled:
            k = self.check_layer(k)
            U = self.U[0 if self.tied else k]
            z = state + (y - physics.A.apply(state)) @ U.T
            theta = self.thresholds[k]
        else:
            W, U, theta = self.layer_weights(k)
            z = state @ W.T + y @ U.T
        if self.support_selection is None:
            x = soft_threshold(z, theta)
        else:
            p_step, p_max = self.support_selection
            x = support_shrink(z, theta, min((k + 1) * p_step, p_max))
        return self.correct(x, k)

    @torch.no_grad()
    def canonicalize_(self) -> LISTA:
        """Replace ``(W, U, θ)`` in place by their canonical representative (``unit_rows`` only)."""
        if not self.unit_rows:
            raise ConfigError("canonicalize_ needs unit_rows=True (thresholds per row)")
        if self.tied:
            raise ConfigError("canonicalize_ with tied weights would need shared per-row thresholds")
        W, U, theta = canonicalize(self.W, self.U, self.thresholds)
        self.W.copy_(W)
        self.U.copy_(U)
        self.raw_threshold.copy_(positive_inverse(theta))
        return self


class ALISTA(IterationMap):
    """Analytic LISTA: ``x_{k+1} = η_{θ_k}(x_k − γ_k Wᵀ(A x_k − y))`` with analytic ``W``; ``net(y, A)``.

    Only ``γ_k > 0`` and ``θ_k ≥ 0`` are learned (softplus parameterisation); ``W`` is
    :func:`alista_weight` of the construction operator's matrix (a buffer). Initialised with
    ``γ_k = 1/‖WᵀA‖₂``, ``θ_k = γ_k λ``. ``support_selection`` as in :class:`LISTA` (default
    ``(0.012, 0.13)`` as in the ALISTA paper). The call's ``A`` computes ``A x_k``.
    """

    step_scales = ("none",)

    def __init__(
        self,
        A: LinearOperator,
        n_layers: int,
        *,
        lam: float = 0.1,
        support_selection: tuple[float, float] | None = (0.012, 0.13),
        max_matrix_entries: int = 10**7,
        corrections: nn.Module | Sequence[nn.Module] | None = None,
    ) -> None:
        super().__init__(n_layers, corrections=corrections)
        M = dense_matrix(A, max_matrix_entries)
        if not lam > 0:
            raise ValueError(f"lam must be positive, got {lam}")
        self.support_selection = _check_support(support_selection)
        self.register_buffer("weight", alista_weight(M))
        gamma = 1.0 / float(torch.linalg.matrix_norm(self.weight.T @ M, ord=2))
        self.raw_step = nn.Parameter(positive_inverse(layer_values(gamma, self.n_layers, "step")).to(M.dtype))
        self.raw_threshold = nn.Parameter(
            positive_inverse(layer_values(gamma * lam, self.n_layers, "threshold")).to(M.dtype)
        )

    @property
    def steps(self) -> torch.Tensor:
        return positive(self.raw_step)

    @property
    def thresholds(self) -> torch.Tensor:
        return positive(self.raw_threshold)

    def physics(self, y: torch.Tensor, A: LinearOperator, *, lipschitz: float | None = None) -> Physics:
        _check_matrix_shape(A, *self.weight.shape)
        return super().physics(y, A, lipschitz=lipschitz)

    def step(self, state: torch.Tensor, y: torch.Tensor, physics: Physics, k: int) -> torch.Tensor:
        k = self.check_layer(k)
        z = state - self.steps[k] * ((physics.A.apply(state) - y) @ self.weight)
        if self.support_selection is None:
            x = soft_threshold(z, self.thresholds[k])
        else:
            p_step, p_max = self.support_selection
            x = support_shrink(z, self.thresholds[k], min((k + 1) * p_step, p_max))
        return self.correct(x, k)


def _check_support(support: tuple[float, float] | None) -> tuple[float, float] | None:
    if support is None:
        return None
    p_step, p_max = (float(v) for v in support)
    if not (0 < p_step <= 1 and 0 < p_max <= 1):
        raise ConfigError(f"support_selection (p_step, p_max) must lie in (0, 1], got {support}")
    return p_step, p_max
