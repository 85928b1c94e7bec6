"""geolearn: physics-informed learned inversion for geophysics.

Subpackages (see DESIGN notes in the README):

- :mod:`geolearn.operators` — torch-native LinearOperator core, composition, verification.
- :mod:`geolearn.solvers` — proximal operators, ISTA/FISTA, Tikhonov (CG and closed form).
- :mod:`geolearn.learned` — unrolled and learned iterative schemes, PnP, DEQ, training.
- :mod:`geolearn.wave` — Devito acoustic wave operators as PyTorch operators.
- :mod:`geolearn.io` — SEG-Y surveys, volumes and models; dataset manifests.
- :mod:`geolearn.parallel` — shot-parallel execution on Dask.
- :mod:`geolearn.imaging` — the shot problem, survey input and modelling, RTM, LSRTM.
- :mod:`geolearn.fwi` — full-waveform inversion: loop, misfits, multiscale, preconditioning, state.
- :mod:`geolearn.learned_inversion` — learned LSRTM/FWI with wave physics, generator, metrics, persistence.
- :mod:`geolearn.runs` — TOML configurations, run directories, running and resuming a configuration.
- :mod:`geolearn.viz` — matplotlib figures.
"""

from geolearn import errors

__version__ = "0.1.0"
__all__ = ["__version__", "errors"]
