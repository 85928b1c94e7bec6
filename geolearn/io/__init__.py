"""geolearn.io (see module docstrings)."""
