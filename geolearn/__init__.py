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
__all__ = ["__version__", "errors", "set_threads"]


def set_threads(n: int | None) -> None:
    """Set how many threads geolearn's wave kernels may use in this process (None: automatic).

    The one knob for threads; the environment variable ``GEOLEARN_THREADS`` does the same for
    a whole run. See :mod:`geolearn.threads` for the automatic choice and its measurements.

    Parameters
    ----------
    n : int or None
        Threads per kernel, >= 1; None returns to ``GEOLEARN_THREADS`` or the automatic choice.

    Raises
    ------
    ConfigError
        ``n`` is not a positive integer.
    """
    from geolearn.threads import set_threads as set_wave_threads  # keeps `import geolearn` light

    set_wave_threads(n)
