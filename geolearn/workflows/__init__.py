"""geolearn.workflows (see module docstrings)."""
