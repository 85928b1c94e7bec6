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

__all__ = [
    "AdjointOperator",
    "HStack",
    "LinearOperator",
    "NormalOperator",
    "ProductOperator",
    "ScaledOperator",
    "SumOperator",
    "VStack",
    "block",
    "hstack",
    "vstack",
]
