"""geolearn.parallel (see module docstrings)."""
