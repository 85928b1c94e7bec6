"""Torch-native linear operators with exact adjoints, composition and verification tools.

- :class:`LinearOperator` — the core: ``A(x)``, ``A.T(y)``, ``A + B``, ``c * A``, ``A @ B``,
  ``A.normal()``, ``A.to(device, dtype)``; :func:`hstack`, :func:`vstack`, :func:`block`.
- :class:`MatrixOperator`, :class:`Identity`, :class:`Diagonal`, :class:`Mask`,
  :class:`Subsampling`, :class:`Convolution1D`, :class:`Convolution2D`, :class:`Gradient`,
  :class:`DCT2` — concrete operators.
- :func:`from_callables`, :func:`from_scipy`, :func:`to_scipy` — your own code and SciPy in and out.
- :func:`operator_norm` — ``‖A‖₂`` by power iteration.
- :func:`dot_test`, :func:`taylor_test`, :func:`gradient_check` — adjoint and gradient verification.

Also in submodules (their public home):

- :mod:`geolearn.operators.composite` — the classes the algebra returns (:class:`ProductOperator`,
  :class:`SumOperator`, :class:`ScaledOperator`, :class:`NormalOperator`, :class:`HStack`, :class:`VStack`);
- :mod:`geolearn.operators.base` — :class:`AdjointOperator` (what ``A.T`` returns);
- :mod:`geolearn.operators.interop` — :class:`CallableOperator` (what :func:`from_callables` returns);
- :mod:`geolearn.operators.verification` — :class:`TaylorResult`, :func:`default_dot_tolerance`.
"""

from geolearn.operators.base import LinearOperator
from geolearn.operators.composite import block, hstack, vstack
from geolearn.operators.convolution import Convolution1D, Convolution2D
from geolearn.operators.dense import Diagonal, Identity, MatrixOperator
from geolearn.operators.gradient import Gradient
from geolearn.operators.interop import from_callables, from_scipy, to_scipy
from geolearn.operators.norm import operator_norm
from geolearn.operators.sampling import Mask, Subsampling
from geolearn.operators.transforms import DCT2
from geolearn.operators.verification import dot_test, gradient_check, taylor_test

__all__ = [
    "DCT2",
    "Convolution1D",
    "Convolution2D",
    "Diagonal",
    "Gradient",
    "Identity",
    "LinearOperator",
    "Mask",
    "MatrixOperator",
    "Subsampling",
    "block",
    "dot_test",
    "from_callables",
    "from_scipy",
    "gradient_check",
    "hstack",
    "operator_norm",
    "taylor_test",
    "to_scipy",
    "vstack",
]
