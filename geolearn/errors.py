"""Exception types used across geolearn.

Every error raised on bad input derives from :class:`GeolearnError` *and* from the
built-in exception a Python user would expect (``ValueError`` for bad values,
``RuntimeError`` for failures while computing), so ``except ValueError`` keeps working.
Messages name the offending value and say what would be valid.
"""

from __future__ import annotations

__all__ = [
    "AdjointTestError",
    "ConfigError",
    "ConvergenceError",
    "DatasetError",
    "GeolearnError",
    "GeometryError",
    "GradientTestError",
    "ModelError",
    "NonFiniteError",
    "OutputError",
    "SegyFormatError",
    "ShapeError",
    "StabilityError",
]


class GeolearnError(Exception):
    """Base class of every exception geolearn raises on purpose."""


class ShapeError(GeolearnError, ValueError):
    """An array or tensor does not have the shape an operator or solver expects."""


class NonFiniteError(GeolearnError, ValueError):
    """Input data, a starting point or operator coefficients contain NaN or Inf values."""


class OutputError(GeolearnError, OSError):
    """An output cannot be written: missing or read-only directory, a directory given as a file, too little disk."""


class StabilityError(GeolearnError, ValueError):
    """A step size, relaxation or time step lies outside the range where the scheme is stable."""


class GeometryError(GeolearnError, ValueError):
    """Acquisition geometry is invalid: a source or receiver outside the model, missing coordinates."""


class ModelError(GeolearnError, ValueError):
    """A velocity model is invalid: non-finite or non-positive values, wrong dimensionality."""


class SegyFormatError(GeolearnError, ValueError):
    """A SEG-Y file is malformed, truncated or uses an unsupported format or header layout."""


class ConvergenceError(GeolearnError, RuntimeError):
    """An iterative method produced non-finite values or failed to reach a required tolerance."""


class ConfigError(GeolearnError, ValueError):
    """A configuration file or mapping has a missing, unknown or invalid key."""


class DatasetError(GeolearnError, RuntimeError):
    """A reference dataset cannot be found or fails checksum verification."""


class AdjointTestError(GeolearnError, AssertionError):
    """A dot-product (adjoint) test exceeded its tolerance."""


class GradientTestError(GeolearnError, AssertionError):
    """A Taylor or gradient test found a gradient inconsistent with its function."""
