"""Shot-parallel execution: serial by default, Dask distributed (LocalCluster or any scheduler) on request.

See :mod:`geolearn.parallel.executor` for the execution model (what travels to workers, retries,
ordered reduction) and ``docs/parallel.md`` for cluster and SLURM use.
"""

from geolearn.parallel.executor import ShotExecutor, map_shots
from geolearn.parallel.reduce import StreamingFold, tree_sum

__all__ = ["ShotExecutor", "StreamingFold", "map_shots", "tree_sum"]
