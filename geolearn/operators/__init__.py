"""Torch-native linear operators with exact adjoints, composition and verification tools."""

from geolearn.operators.base import AdjointOperator, LinearOperator
from geolearn.operators.composite import (
    HStack,
    NormalOperator,
    ProductOperator,
    ScaledOperator,
    SumOperator,
    VStack,
    block,
    hstack,
    vstack,
)
from geolearn.operators.convolution import Convolution1D, Convolution2D
from geolearn.operators.dense import Diagonal, Identity, MatrixOperator
from geolearn.operators.gradient import Gradient
from geolearn.operators.interop import CallableOperator, from_callables, from_scipy, to_scipy
from geolearn.operators.norm import operator_norm
from geolearn.operators.sampling import Mask, Subsampling
from geolearn.operators.transforms import DCT2
from geolearn.operators.verification import (
    TaylorResult,
    default_dot_tolerance,
    dot_test,
    gradient_check,
    taylor_test,
)

__all__ = [
    "DCT2",
    "AdjointOperator",
    "CallableOperator",
    "Convolution1D",
    "Convolution2D",
    "Diagonal",
    "Gradient",
    "HStack",
    "Identity",
    "LinearOperator",
    "Mask",
    "MatrixOperator",
    "NormalOperator",
    "ProductOperator",
    "ScaledOperator",
    "Subsampling",
    "SumOperator",
    "TaylorResult",
    "VStack",
    "block",
    "default_dot_tolerance",
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
