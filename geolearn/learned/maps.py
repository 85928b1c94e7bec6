"""The :class:`IterationMap` interface shared by every learned iterative scheme.

An iteration map is one step ``s_{k+1} = Φ_k(s_k; y)`` of an iterative method on a *state*
``s`` (the image ``x`` for ISTA-like maps, the pair ``(x_k, x_{k-1})`` for inertial ones). A
scheme with ``n_layers`` parameter sets is unrolled by :meth:`IterationMap.forward`; the
same object with one layer index frozen is the map a :class:`~geolearn.learned.DEQ` iterates to
its fixed point. Tensors always carry one leading batch dimension: states are
``(B, *state_shape)``, data ``(B, *A.range_shape)``, outputs ``(B, *A.domain_shape)``.

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
from geolearn.learned._checks import check_data, check_n_layers, check_operator
from geolearn.operators import LinearOperator

__all__ = ["IterationMap"]


class IterationMap(nn.Module):
    """Base class: an ``n_layers``-step learned iteration on a LinearOperator ``A``.

    Subclasses implement :meth:`step`; they may override :attr:`state_shape`,
    :meth:`init_state` and :meth:`output` when the state is more than the image.

    Parameters
    ----------
    A : LinearOperator
        Forward operator, domain ``(*domain_shape)`` (e.g. an image ``(nx, nz)``), range
        ``(*range_shape)`` (e.g. shot records ``(n_shots, n_rec, nt)``). Parameters are created
        in ``A.dtype``; build the scheme on an operator of the dtype you train in.
    n_layers : int
        Number of layers (distinct parameter sets), at least 1.
    corrections : nn.Module or sequence of nn.Module, optional
        Per-layer residual corrections, see the module docstring.
    """

    def __init__(
        self,
        A: LinearOperator,
        n_layers: int,
        *,
        corrections: nn.Module | Sequence[nn.Module] | None = None,
    ) -> None:
        super().__init__()
        self.A = check_operator(A)
        self.n_layers = check_n_layers(n_layers)
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
    @property
    def domain_shape(self) -> tuple[int, ...]:
        return self.A.domain_shape

    @property
    def state_shape(self) -> tuple[int, ...]:
        """Shape of one state (without batch); the image shape unless overridden."""
        return self.A.domain_shape

    def init_state(self, y: torch.Tensor) -> torch.Tensor:
        """Initial state ``(B, *state_shape)`` for data ``y`` of shape ``(B, *range_shape)``: zeros."""
        return y.new_zeros((y.shape[0], *self.state_shape))

    def step(self, state: torch.Tensor, y: torch.Tensor, k: int) -> torch.Tensor:
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

    def residual(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Gradient of the data term, ``Aᵀ(Ax − y)``, shape ``(B, *domain_shape)``."""
        return self.A.adjoint(self.A.apply(x) - y)

    def forward(
        self, y: torch.Tensor, *, n_layers: int | None = None, return_iterates: bool = False
    ) -> torch.Tensor | list[torch.Tensor]:
        """Unroll the first ``n_layers`` layers (all by default) from :meth:`init_state`.

        Parameters
        ----------
        y : Tensor
            Data, ``(B, *A.range_shape)`` or unbatched ``A.range_shape``; finite, ``A.dtype``.
        n_layers : int, optional
            Number of layers to run (stage-wise training runs prefixes of the network).
        return_iterates : bool
            Return the list ``[x_0, x_1, ..., x_K]`` of images instead of ``x_K``.

        Returns
        -------
        Tensor ``(B, *A.domain_shape)`` (unbatched when ``y`` was), or a list of them.
        """
        y, unbatched = check_data(self.A, y)
        n = self.n_layers if n_layers is None else check_n_layers(n_layers)
        if n > self.n_layers:
            raise ConfigError(f"n_layers={n} exceeds the {self.n_layers} layers of this network")
        state = self.init_state(y)
        iterates = [self.output(state)]
        for k in range(n):
            state = self.step(state, y, k)
            iterates.append(self.output(state))
        if unbatched:
            iterates = [x.squeeze(0) for x in iterates]
        return iterates if return_iterates else iterates[-1]
