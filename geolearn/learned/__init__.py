"""geolearn.learned (see module docstrings)."""
