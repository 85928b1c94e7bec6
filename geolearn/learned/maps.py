"""The :class:`IterationMap` interface shared by every learned iterative scheme.

An iteration map is one step ``s_{k+1} = Φ_k(s_k; y, A)`` of an iterative method on a *state*
``s`` (the image ``x`` for ISTA-like maps, the pair ``(x_k, x_{k-1})`` for inertial ones). A
scheme with ``n_layers`` parameter sets is unrolled by :meth:`IterationMap.forward`; the
same object with one layer index frozen is the map a :class:`~geolearn.learned.DEQ` iterates to
its fixed point. Tensors always carry one leading batch dimension: states are
``(B, *state_shape)``, data ``(B, *A.range_shape)``, outputs ``(B, *A.domain_shape)``.

Physics at call time
--------------------
A map never stores its operator. ``net(y, A)`` receives it; :meth:`IterationMap.physics`
derives the call's :class:`~geolearn.learned.Physics` (the operator and the step scale, see
:mod:`geolearn.learned.physics`) once per call, and every layer takes it. The parameters are
step *fractions* and image-domain quantities, so one trained network runs on other operators of
any shape its layers accept, and ``net.to(device, dtype)`` moves everything it owns.

Per-layer corrections
---------------------
Every map accepts ``corrections``: one ``nn.Module`` shared by all layers or one per layer.
After layer ``k`` computes its image ``x`` (shape ``(B, *A.domain_shape)``), the scheme uses
``x + C_k(x)``. The module must map that shape to itself (for an image domain ``(nx, nz)``,
a small CNN that adds and removes a channel axis). Zero-initialise its last layer to start
from the unmodified scheme.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from geolearn.errors import ConfigError
from geolearn.learned._checks import (
    check_data,
    check_n_layers,
    check_operator,
    check_parameters_dtype,
    check_step_bound,
    check_step_scale,
    layer_values,
)
from geolearn.learned.constraints import bounded, bounded_inverse
from geolearn.learned.physics import STEP_SCALES, LipschitzEstimator, Physics, make_physics
from geolearn.operators import LinearOperator

__all__ = ["IterationMap"]


class IterationMap(nn.Module):
    """Base class: an ``n_layers``-step learned iteration, applied as ``net(y, A)``.

    Subclasses implement :meth:`step`; they may override :meth:`state_shape`,
    :meth:`init_state` and :meth:`output` when the state is more than the image, and
    ``step_scales`` (the step scales they support, first = default).

    Parameters
    ----------
    n_layers : int
        Number of layers (distinct parameter sets), at least 1.
    corrections : nn.Module or sequence of nn.Module, optional
        Per-layer residual corrections, see the module docstring.
    step_scale : str
        Unit of the learned step fractions (:mod:`geolearn.learned.physics`): ``"lipschitz"``
        (``1/‖A‖²``) or ``"cauchy"`` (the per-sample first exact line-search step).
    lipschitz_estimator : LipschitzEstimator, optional
        How ``‖A‖²`` is estimated when a call gives no ``lipschitz=`` (default: 1000 power
        iterations to 1e-7, right for matrices; use a short one with a safety factor for Born).
    """

    step_scales: tuple[str, ...] = STEP_SCALES[:2]

    def __init__(
        self,
        n_layers: int,
        *,
        corrections: nn.Module | Sequence[nn.Module] | None = None,
        step_scale: str | None = None,
        lipschitz_estimator: LipschitzEstimator | None = None,
    ) -> None:
        super().__init__()
        self.n_layers = check_n_layers(n_layers)
        self.step_scale = check_step_scale(step_scale or self.step_scales[0], self.step_scales)
        self.lipschitz_estimator = lipschitz_estimator or LipschitzEstimator()
        if corrections is None:
            self.corrections = None
        elif isinstance(corrections, nn.Module):
            self.corrections = nn.ModuleList([corrections])
        else:
            corrections = list(corrections)
            if len(corrections) != self.n_layers:
                raise ConfigError(
                    f"corrections must be one module or one per layer ({self.n_layers}), got {len(corrections)}"
                )
            self.corrections = nn.ModuleList(corrections)

    # ------------------------------------------------------------------ interface
    def state_shape(self, A: LinearOperator) -> tuple[int, ...]:
        """Shape of one state (without batch) for operator ``A``; the image shape unless overridden."""
        return A.domain_shape

    def physics(self, y: torch.Tensor, A: LinearOperator, *, lipschitz: float | None = None) -> Physics:
        """Check ``A`` and batched data ``y`` ``(B, *A.range_shape)``; return the call's :class:`Physics`.

        ``lipschitz`` (``‖A‖₂²`` or an upper bound) skips the estimate of the ``"lipschitz"`` scale.
        """
        check_operator(A)
        check_parameters_dtype(self, A)
        return make_physics(A, y, self.step_scale, self.lipschitz_estimator, lipschitz)

    def init_state(self, y: torch.Tensor, physics: Physics) -> torch.Tensor:
        """Initial state ``(B, *state_shape)`` for data ``y`` of shape ``(B, *range_shape)``: zeros."""
        return y.new_zeros((y.shape[0], *self.state_shape(physics.A)))

    def step(self, state: torch.Tensor, y: torch.Tensor, physics: Physics, k: int) -> torch.Tensor:
        """Layer ``k``: state ``(B, *state_shape)`` and data ``(B, *range_shape)`` to the next state."""
        raise NotImplementedError

    def output(self, state: torch.Tensor) -> torch.Tensor:
        """The image ``(B, *domain_shape)`` carried by a state."""
        return state

    # ------------------------------------------------------------------ helpers
    def check_layer(self, k: int) -> int:
        if not 0 <= k < self.n_layers:
            raise ConfigError(f"layer index {k} out of range; valid indices are 0..{self.n_layers - 1}")
        return k

    def correct(self, x: torch.Tensor, k: int) -> torch.Tensor:
        """Apply the layer-``k`` correction ``x + C_k(x)`` when corrections are configured."""
        if self.corrections is None:
            return x
        module = self.corrections[k if len(self.corrections) > 1 else 0]
        return x + module(x)

    def forward(
        self,
        y: torch.Tensor,
        A: LinearOperator,
        *,
        n_layers: int | None = None,
        return_iterates: bool = False,
        lipschitz: float | None = None,
    ) -> torch.Tensor | list[torch.Tensor]:
        """Unroll the first ``n_layers`` layers (all by default) from :meth:`init_state`.

        Parameters
        ----------
        y : Tensor
            Data, ``(B, *A.range_shape)`` or unbatched ``A.range_shape``; finite, ``A.dtype``.
        A : LinearOperator
            The forward operator of this call (a matrix, a Born operator, ...).
        n_layers : int, optional
            Number of layers to run (stage-wise training runs prefixes of the network).
        return_iterates : bool
            Return the list ``[x_0, x_1, ..., x_K]`` of images instead of ``x_K``.
        lipschitz : float, optional
            ``‖A‖₂²`` (or an upper bound) for the ``"lipschitz"`` step scale; estimated and
            remembered per operator when omitted.

        Returns
        -------
        Tensor ``(B, *A.domain_shape)`` (unbatched when ``y`` was), or a list of them.
        """
        check_operator(A)
        y, unbatched = check_data(A, y)
        n = self.n_layers if n_layers is None else check_n_layers(n_layers)
        if n > self.n_layers:
            raise ConfigError(f"n_layers={n} exceeds the {self.n_layers} layers of this network")
        physics = self.physics(y, A, lipschitz=lipschitz)
        state = self.init_state(y, physics)
        iterates = [self.output(state)]
        for k in range(n):
            state = self.step(state, y, physics, k)
            iterates.append(self.output(state))
        if unbatched:
            iterates = [x.squeeze(0) for x in iterates]
        return iterates if return_iterates else iterates[-1]


class SteppedIterationMap(IterationMap):
    """An :class:`IterationMap` with one learned step fraction per layer, bounded to ``(0, c]``.

    Subclasses call :meth:`init_steps` in their constructor; :attr:`steps` is then differentiable
    in the unconstrained parameter ``raw_step``.
    """

    def init_steps(
        self, step_init: float | Sequence[float] | None, step_bound: float, dtype: torch.dtype
    ) -> torch.Tensor:
        """Set ``step_bound`` ``c`` and the parameter ``raw_step``; return the initial steps ``(K,)``.

        ``step_init`` (one value or one per layer) defaults to ``0.99 · min(c, 1)``.
        """
        self.step_bound = check_step_bound(step_bound)
        if step_init is None:
            step_init = 0.99 * min(self.step_bound, 1.0)
        steps = layer_values(step_init, self.n_layers, "step_init")
        self.raw_step = nn.Parameter(bounded_inverse(steps, self.step_bound).to(dtype))
        return steps

    @property
    def steps(self) -> torch.Tensor:
        """Step fractions ``t_k ∈ (0, c]``, shape ``(K,)``; the step of a call is ``t_k·scale``."""
        return bounded(self.raw_step, self.step_bound)
