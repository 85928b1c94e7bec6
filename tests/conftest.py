"""Shared test configuration: Devito settings, reference data location, seeds."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("DEVITO_LANGUAGE", "openmp")
os.environ.setdefault("DEVITO_LOGGING", "WARNING")
os.environ.setdefault("MPLBACKEND", "Agg")

REPO_ROOT = Path(__file__).resolve().parents[1]
# Notebooks run in a kernel that inherits this environment: point them at the mirror too.
os.environ.setdefault("GEOLEARN_DATA_DIR", str(REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The reference-data mirror (``GEOLEARN_DATA_DIR``, default ``../shared/data``)."""
    path = Path(os.environ["GEOLEARN_DATA_DIR"])
    if not path.is_dir():
        pytest.fail(f"reference data directory {path} not found; set GEOLEARN_DATA_DIR")
    return path
