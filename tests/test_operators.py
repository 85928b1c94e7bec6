"""Concrete operators: adjoints, autograd against explicit torch references, norms, batching, guards."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
import torch

from geolearn.errors import NonFiniteError, ShapeError
from geolearn.operators import (
    Convolution1D,
    Convolution2D,
    Diagonal,
    Gradient,
    Identity,
    Mask,
    MatrixOperator,
    Subsampling,
    dot_test,
    operator_norm,
)

D64 = torch.float64


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _ref_conv1d(h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """sum_j h[j] x[i - j + c] written as shifted copies (traceable by autograd)."""
    k, n = h.numel(), x.shape[-1]
    c = (k - 1) // 2
    out = torch.zeros_like(x)
    for j in range(k):
        s = c - j  # out[i] += h[j] x[i + s]
        lo, hi = max(0, -s), min(n, n - s)
        out[..., lo:hi] = out[..., lo:hi] + h[j] * x[..., lo + s : hi + s]
    return out


def _ref_conv2d(h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    (k1, k2), (n1, n2) = h.shape, x.shape[-2:]
    c1, c2 = (k1 - 1) // 2, (k2 - 1) // 2
    out = torch.zeros_like(x)
    for a in range(k1):
        for b in range(k2):
            s, t = c1 - a, c2 - b
            lo1, hi1, lo2, hi2 = max(0, -s), min(n1, n1 - s), max(0, -t), min(n2, n2 - t)
            out[..., lo1:hi1, lo2:hi2] = (
                out[..., lo1:hi1, lo2:hi2] + h[a, b] * x[..., lo1 + s : hi1 + s, lo2 + t : hi2 + t]
            )
    return out


def _ref_gradient(x: torch.Tensor, spacing: tuple[float, ...]) -> torch.Tensor:
    nd = len(spacing)
    comps = []
    for d, h in enumerate(spacing):
        axis = x.ndim - nd + d
        diff = (x.narrow(axis, 1, x.shape[axis] - 1) - x.narrow(axis, 0, x.shape[axis] - 1)) / h
        comps.append(torch.cat([diff, torch.zeros_like(x.narrow(axis, 0, 1))], dim=axis))
    return torch.stack(comps, dim=x.ndim - nd)


g = _gen(1)
M = torch.randn(6, 9, generator=g, dtype=D64)
DIAG = torch.randn(4, 5, generator=g, dtype=D64)
H1_ODD = torch.randn(5, generator=g, dtype=D64)
H1_EVEN = torch.randn(4, generator=g, dtype=D64)
H2 = torch.randn(3, 4, generator=g, dtype=D64)
MASK = torch.rand(4, 5, generator=g) > 0.4
IDX = torch.tensor([0, 7, 7, 19, 3])

# (operator, explicit torch reference computing the same map on (*batch, *domain))
CASES = {
    "matrix": (MatrixOperator(M), lambda x: x @ M.T),
    "identity": (Identity((3, 4), dtype=D64), lambda x: x),
    "diagonal": (Diagonal(DIAG), lambda x: DIAG * x),
    "conv1d_odd": (Convolution1D(H1_ODD, 11), lambda x: _ref_conv1d(H1_ODD, x)),
    "conv1d_even": (Convolution1D(H1_EVEN, 11), lambda x: _ref_conv1d(H1_EVEN, x)),
    "conv2d": (Convolution2D(H2, (7, 6)), lambda x: _ref_conv2d(H2, x)),
    "gradient1d": (Gradient(8, dtype=D64), lambda x: _ref_gradient(x, (1.0,))),
    "gradient2d": (Gradient((5, 6), spacing=(2.0, 0.5), dtype=D64), lambda x: _ref_gradient(x, (2.0, 0.5))),
    "gradient3d": (Gradient((3, 4, 5), dtype=D64), lambda x: _ref_gradient(x, (1.0, 1.0, 1.0))),
    "mask": (Mask(MASK, dtype=D64), lambda x: x * MASK),
    "subsampling": (Subsampling((4, 5), IDX, dtype=D64), lambda x: x.reshape(*x.shape[:-2], 20)[..., IDX]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_dot_test_float64(name):
    A, _ = CASES[name]
    assert dot_test(A, n_trials=3) < 1e-10


@pytest.mark.parametrize("name", list(CASES))
def test_forward_and_gradient_match_autograd_reference(name):
    A, ref = CASES[name]
    gen = _gen(2)
    x = torch.randn(2, 3, *A.domain_shape, generator=gen, dtype=D64)
    w = torch.randn(2, 3, *A.range_shape, generator=gen, dtype=D64)

    def loss(op):
        xx = x.clone().requires_grad_(True)
        value = torch.sum(w * torch.sin(op(xx)) + op(xx) ** 2)
        (grad,) = torch.autograd.grad(value, xx)
        return value.detach(), grad

    v_op, g_op = loss(A)
    v_ref, g_ref = loss(ref)
    assert torch.allclose(A(x), ref(x), rtol=0, atol=1e-12)
    assert abs(float(v_op - v_ref)) < 1e-10
    assert torch.allclose(g_op, g_ref, rtol=0, atol=1e-11)


def test_convolutions_match_numpy_and_scipy_same_mode():
    x1 = np.random.default_rng(0).standard_normal(11)
    for h in (H1_ODD, H1_EVEN):
        expected = np.convolve(x1, h.numpy(), mode="same")
        got = Convolution1D(h, 11)(torch.from_numpy(x1)).numpy()
        assert np.abs(got - expected).max() < 1e-13
    x2 = np.random.default_rng(1).standard_normal((7, 6))
    expected = scipy.signal.convolve2d(x2, H2.numpy(), mode="same")
    assert np.abs(Convolution2D(H2, (7, 6))(torch.from_numpy(x2)).numpy() - expected).max() < 1e-13


def test_gradient_of_linear_ramp_and_boundary():
    D = Gradient((3, 4), spacing=(2.0, 0.5), dtype=D64)
    i, j = torch.meshgrid(torch.arange(3.0, dtype=D64), torch.arange(4.0, dtype=D64), indexing="ij")
    out = D(3.0 * i + 1.0 * j)
    assert torch.all(out[0, :2] == 1.5) and torch.all(out[0, 2] == 0)
    assert torch.all(out[1, :, :3] == 2.0) and torch.all(out[1, :, 3] == 0)


@pytest.mark.parametrize("name", ["matrix", "diagonal", "conv1d_even", "gradient3d", "subsampling", "blur"])
def test_operator_norm_matches_matrix_2_norm(name):
    if name == "blur":  # separable binomial blur: a well-separated top singular value
        b = torch.tensor([1.0, 2.0, 1.0], dtype=D64)
        A = Convolution2D(torch.outer(b, b) / 16, (7, 6))
    else:
        A, _ = CASES[name]
    expected = float(torch.linalg.matrix_norm(A.dense(), ord=2))
    assert abs(operator_norm(A, tol=1e-10, max_iter=5000) - expected) / expected < 1e-8


def test_operator_norm_bound_of_gradient_and_seed_determinism():
    D = Gradient((16, 16), dtype=D64)
    n1 = operator_norm(D, seed=3)
    assert n1 == operator_norm(D, seed=3)
    assert 2.5 < n1 <= np.sqrt(8.0)


def test_composites_of_concrete_operators_pass_dot_test():
    C = Convolution2D(H2, (7, 6))
    D = Gradient((7, 6), dtype=D64)
    for A in (D @ C, C.T @ C + 0.5 * Identity((7, 6), dtype=D64), D.normal(), C - C.T):
        assert dot_test(A) < 1e-10


def test_float32_operators_and_to():
    C = Convolution1D(H1_ODD.float(), 11)
    assert C.dtype == torch.float32
    assert dot_test(C) < 1e-4
    C64 = C.to(dtype=D64)
    assert C64.kernel.dtype == D64 and dot_test(C64) < 1e-10
    Mk = Mask(MASK).to(dtype=D64)
    assert Mk.mask.dtype == torch.bool and dot_test(Mk) < 1e-10


def test_operator_guards_name_bad_values():
    with pytest.raises(ShapeError, match=r"index 20 is outside"):
        Subsampling((4, 5), torch.tensor([0, 20]))
    with pytest.raises(ShapeError, match="larger than the signal"):
        Convolution1D(torch.ones(7), 5)
    with pytest.raises(ShapeError, match="2-D matrix"):
        MatrixOperator(torch.ones(3))
    with pytest.raises(ValueError, match="spacing"):
        Gradient((4, 4), spacing=(1.0, -1.0))
    with pytest.raises(NonFiniteError, match="NaN or Inf"):
        Diagonal(torch.tensor([1.0, float("nan")]))
    with pytest.raises(TypeError, match="boolean"):
        Mask(torch.ones(3))
    with pytest.raises(ShapeError, match=r"\(\*batch, 9\)"):
        MatrixOperator(M)(torch.ones(8, dtype=D64))
