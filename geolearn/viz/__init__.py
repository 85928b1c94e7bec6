"""geolearn.viz (see module docstrings)."""
