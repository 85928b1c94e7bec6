"""The ``geolearn`` command (:func:`main`) and the demonstrations behind ``geolearn demo``."""

from geolearn.cli.main import main

__all__ = ["main"]
