"""Process-wide settings read from the environment.

``GEOLEARN_FAST``
    When set to a true value (``1``, ``true``, ``yes``), notebooks and demos shrink problem
    sizes so that they run in seconds; the test suite sets it when executing notebooks.
``GEOLEARN_DATA_DIR``
    Local mirror of the reference datasets (see :mod:`geolearn.io`), searched before any download.
"""

from __future__ import annotations

import os

__all__ = ["fast_mode"]


def fast_mode() -> bool:
    """Return True when ``GEOLEARN_FAST`` asks for reduced problem sizes."""
    return os.environ.get("GEOLEARN_FAST", "").strip().lower() in {"1", "true", "yes", "on"}
