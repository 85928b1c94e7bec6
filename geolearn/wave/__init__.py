"""geolearn.wave (see module docstrings)."""
