"""Sparse coding with learned matrices: the LISTA family and its benchmark problem.

``y = A x + n`` with ``A`` a small dense matrix and ``x`` sparse. These schemes learn explicit
matrices built from ``A`` (they need ``n·(n + m)`` entries in memory), unlike the matrix-free
schemes of :mod:`geolearn.learned` (:class:`~geolearn.learned.UnrolledISTA`,
:class:`~geolearn.learned.LearnedFISTA`, :class:`~geolearn.learned.PnPISTA`), which image or Born
operators need. Like them they are applied as ``net(y, A)`` and trained by
:class:`~geolearn.learned.Trainer`.

- :class:`LISTA` — untied/tied, coupled (LISTA-CP), support selection (:func:`support_shrink`),
  identifiable unit rows (:func:`canonicalize`); :class:`ALISTA` with the analytic weight
  :func:`alista_weight`; :func:`dense_matrix` — the matrix of a small flat operator.
- :func:`lista_backprop` — hand-derived backpropagation through LISTA (the reference for autograd).
- :func:`make_sparse_coding` — the seeded benchmark problem (:class:`SparseCodingProblem`);
  :func:`oracle_least_squares` — least squares on the true support (the floor no scheme beats).
"""

from geolearn.learned.sparse.data import SparseCodingProblem, make_sparse_coding, oracle_least_squares
from geolearn.learned.sparse.lista import (
    ALISTA,
    LISTA,
    alista_weight,
    canonicalize,
    dense_matrix,
    support_shrink,
)
from geolearn.learned.sparse.lista_backprop import lista_backprop

__all__ = [
    "ALISTA",
    "LISTA",
    "SparseCodingProblem",
    "alista_weight",
    "canonicalize",
    "dense_matrix",
    "lista_backprop",
    "make_sparse_coding",
    "oracle_least_squares",
    "support_shrink",
]
