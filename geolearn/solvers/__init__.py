"""geolearn.solvers (see module docstrings)."""
