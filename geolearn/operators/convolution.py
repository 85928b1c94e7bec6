"""Zero-padded "same"-size convolutions (blurs) in 1-D and 2-D with exact adjoints.

Convention: for a kernel ``h`` of length ``k`` with centre index ``c = (k - 1) // 2``,

    (h * x)[i] = sum_j h[j] x[i - j + c],      x[m] = 0 outside 0 <= m < n,

so the output has the input's size and a kernel with a single 1 at index ``c`` is the
identity (as ``numpy.convolve(x, h, mode="same")`` for odd ``k``). The adjoint is the
correlation with ``h``, computed with the transposed convolution so that the dot test
holds to round-off. 2-D applies the same rule along each axis.
"""

from __future__ import annotations

import torch
import torch.nn.functional as nnf

from geolearn.errors import ShapeError
from geolearn.operators.base import LinearOperator, _as_shape
from geolearn.operators.dense import _as_float_tensor

__all__ = ["Convolution1D", "Convolution2D"]


def _pads(kernel_shape: tuple[int, ...]) -> list[tuple[int, int]]:
    """(before, after) zero padding per axis so that the correlation gives the centred output."""
    return [(k - 1 - (k - 1) // 2, (k - 1) // 2) for k in kernel_shape]


class _Convolution(LinearOperator):
    """Shared implementation; ``ndim`` is 1 or 2."""

    ndim: int

    def __init__(self, kernel: torch.Tensor, shape: int | tuple[int, ...], dtype: torch.dtype | None) -> None:
        h = _as_float_tensor(kernel, "kernel", dtype).detach()
        shape = _as_shape(shape, "shape")
        if h.ndim != self.ndim or len(shape) != self.ndim:
            raise ShapeError(
                f"{type(self).__name__} needs a {self.ndim}-D kernel and a {self.ndim}-D signal shape, "
                f"got kernel shape {tuple(h.shape)} and shape {shape}"
            )
        if any(k > n for k, n in zip(h.shape, shape)):
            raise ShapeError(f"kernel shape {tuple(h.shape)} is larger than the signal shape {shape}")
        super().__init__(shape, shape, dtype=h.dtype, device=h.device)
        self.kernel = h
        self._pad = _pads(tuple(h.shape))

    def _weight(self) -> torch.Tensor:
        # conv{1,2}d computes a correlation; flipping the kernel turns it into a convolution.
        return self.kernel.flip(tuple(range(self.ndim)))[None, None]

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        conv = nnf.conv1d if self.ndim == 1 else nnf.conv2d
        # nnf.pad lists the last axis first.
        flat_pad = [p for pair in reversed(self._pad) for p in pair]
        xp = nnf.pad(x.unsqueeze(1), flat_pad)
        return conv(xp, self._weight()).squeeze(1)

    def _adjoint(self, y: torch.Tensor) -> torch.Tensor:
        conv_t = nnf.conv_transpose1d if self.ndim == 1 else nnf.conv_transpose2d
        full = conv_t(y.unsqueeze(1), self._weight()).squeeze(1)
        # Cropping is the adjoint of the zero padding of the forward map.
        index = tuple(slice(before, before + n) for (before, _), n in zip(self._pad, self.domain_shape))
        return full[(slice(None), *index)]


class Convolution1D(_Convolution):
    """1-D "same"-size convolution with zero boundary: ``x (n,) -> h * x (n,)``.

    Parameters
    ----------
    kernel : torch.Tensor or array_like, shape (k,)
        Filter taps, centred at index ``(k - 1) // 2``; ``k <= n``. Its dtype/device become
        the operator's.
    n : int
        Signal length (domain and range shape ``(n,)``).
    dtype : torch.dtype, optional
        Convert the kernel to this dtype.

    Examples
    --------
    >>> import torch
    >>> C = Convolution1D(torch.tensor([1.0, 2.0, 1.0]) / 4, 5)
    >>> C(torch.tensor([0.0, 0.0, 4.0, 0.0, 0.0]))
    tensor([0., 1., 2., 1., 0.])
    """

    ndim = 1

    def __init__(self, kernel: torch.Tensor, n: int, *, dtype: torch.dtype | None = None) -> None:
        super().__init__(kernel, n, dtype)


class Convolution2D(_Convolution):
    """2-D "same"-size convolution (blur) with zero boundary: ``x (n1, n2) -> h * x (n1, n2)``.

    Parameters
    ----------
    kernel : torch.Tensor or array_like, shape (k1, k2)
        Filter, centred at ``((k1 - 1) // 2, (k2 - 1) // 2)``; ``k1 <= n1``, ``k2 <= n2``.
    shape : tuple of int
        Image shape ``(n1, n2)``, e.g. ``(nx, nz)`` for a model section.
    dtype : torch.dtype, optional
        Convert the kernel to this dtype.
    """

    ndim = 2

    def __init__(
        self, kernel: torch.Tensor, shape: tuple[int, int], *, dtype: torch.dtype | None = None
    ) -> None:
        super().__init__(kernel, shape, dtype)
