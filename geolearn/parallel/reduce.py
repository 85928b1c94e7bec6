"""Reductions of per-shot results: tree sums and the in-order streaming fold.

A per-shot function typically returns a misfit and a gradient, ``(float, ndarray)``, or a
dict of them. :func:`tree_sum` adds two such results leaf by leaf. :class:`StreamingFold`
consumes results as they arrive (from :func:`distributed.as_completed`) and folds them
either immediately (``ordered=False``: lowest memory, summation order depends on timing)
or in ascending shot order (``ordered=True``: results that arrive early wait in a buffer
until every lower shot has been folded, so the floating-point summation order is that of
the serial loop and the result is bitwise reproducible).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from typing import Any

import numpy as np
import torch

__all__ = ["StreamingFold", "tree_sum"]

Reducer = Callable[[Any, Any], Any]


def _copy_leaf(x: Any) -> Any:
    # The accumulator must own its memory: results deserialised from workers can be read-only views.
    if isinstance(x, np.ndarray):
        return np.array(x, copy=True)
    if isinstance(x, torch.Tensor):
        return x.detach().clone()
    return x


def _add_leaf(acc: Any, x: Any, path: str) -> Any:
    if isinstance(acc, np.ndarray) and isinstance(x, np.ndarray):
        if acc.shape != x.shape:
            raise ValueError(
                f"cannot sum per-shot results at {path}: shapes {acc.shape} and {x.shape} differ"
            )
        if np.can_cast(np.result_type(acc, x), acc.dtype, casting="same_kind") and acc.flags.writeable:
            np.add(acc, x, out=acc)
            return acc
        return acc + x
    if isinstance(acc, torch.Tensor) and isinstance(x, torch.Tensor):
        if acc.shape != x.shape:
            raise ValueError(
                f"cannot sum per-shot results at {path}: shapes {tuple(acc.shape)} and {tuple(x.shape)} differ"
            )
        return acc.add_(x) if torch.result_type(acc, x) == acc.dtype else acc + x
    if isinstance(acc, (int, float, complex, np.number)) and isinstance(x, (int, float, complex, np.number)):
        return acc + x
    raise TypeError(
        f"cannot sum per-shot results at {path}: {type(acc).__name__} + {type(x).__name__}; "
        "tree_sum adds numpy arrays, torch tensors and numbers inside tuples, lists and dicts"
    )


def _tree_add(acc: Any, x: Any, path: str) -> Any:
    if isinstance(acc, Mapping) and isinstance(x, Mapping):
        if set(acc) != set(x):
            raise ValueError(
                f"cannot sum per-shot results at {path}: keys {sorted(acc)} and {sorted(x)} differ"
            )
        for key in acc:
            acc[key] = _tree_add(acc[key], x[key], f"{path}[{key!r}]")
        return acc
    if isinstance(acc, (list, tuple)) and isinstance(x, (list, tuple)):
        if len(acc) != len(x):
            raise ValueError(f"cannot sum per-shot results at {path}: lengths {len(acc)} and {len(x)} differ")
        summed = [_tree_add(a, b, f"{path}[{i}]") for i, (a, b) in enumerate(zip(acc, x))]
        return type(acc)(summed) if isinstance(acc, tuple) else summed
    return _add_leaf(acc, x, path)


def _tree_copy(x: Any) -> Any:
    if isinstance(x, Mapping):
        return {k: _tree_copy(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        copied = [_tree_copy(v) for v in x]
        return type(x)(copied) if isinstance(x, tuple) else copied
    return _copy_leaf(x)


def tree_sum(acc: Any, x: Any) -> Any:
    """Add two per-shot results leaf by leaf.

    Parameters
    ----------
    acc : pytree
        Running sum: a number, ``numpy.ndarray``, ``torch.Tensor``, or a tuple/list/dict of
        them. Arrays and tensors in ``acc`` are updated in place when the dtype allows;
        pass a copy if the caller still needs the original.
    x : pytree
        A result with the same structure, shapes and keys as ``acc``.

    Returns
    -------
    pytree
        ``acc + x`` with the structure of ``acc``.

    Raises
    ------
    ValueError
        If structures, keys or shapes differ (the message names the position, e.g. ``[1]``).
    TypeError
        If a leaf is of a type that cannot be summed.
    """
    return _tree_add(acc, x, "result")


class StreamingFold:
    """Fold per-shot results as they arrive, optionally in ascending shot order.

    Parameters
    ----------
    reducer : callable ``(acc, result) -> acc``
        Binary reduction, e.g. :func:`tree_sum`. The first result (the lowest shot when
        ``ordered``) is copied and becomes the initial accumulator.
    ordered : bool
        Fold in ascending key order (bitwise reproducible, and identical to the serial loop
        if the per-shot results are) instead of arrival order.

    Examples
    --------
    >>> fold = StreamingFold(tree_sum, ordered=True)
    >>> fold.expect([0, 1, 2])
    >>> for shot, value in [(2, 0.5), (0, 1e16), (1, -1e16)]:
    ...     fold.add(shot, value)
    >>> fold.result()  # (1e16 + -1e16) + 0.5, not (0.5 + 1e16) + -1e16
    0.5
    """

    def __init__(self, reducer: Reducer, *, ordered: bool) -> None:
        self._reducer = reducer
        self._ordered = ordered
        self._acc: Any = None
        self._empty = True
        self._pending: dict[Hashable, Any] = {}
        self._order: list[Hashable] | None = None
        self._next = 0
        self._seen: set[Hashable] = set()

    def expect(self, keys: list[Hashable]) -> None:
        """Declare the keys (shot indices) in the order they must be folded when ``ordered``."""
        self._order = list(keys)
        self._next = 0
        self._seen = set()

    def _fold(self, value: Any) -> None:
        if self._empty:
            self._acc = _tree_copy(value)
            self._empty = False
        else:
            self._acc = self._reducer(self._acc, value)

    def add(self, key: Hashable, value: Any) -> None:
        """Accept the result of shot ``key``; fold it now or buffer it until its turn."""
        if key in self._seen:
            raise ValueError(f"result for shot {key!r} added twice")
        self._seen.add(key)
        if not self._ordered:
            self._fold(value)
            return
        if self._order is None:
            raise RuntimeError("StreamingFold(ordered=True) needs expect(keys) before add()")
        if key not in self._order:
            raise ValueError(f"result for unexpected shot {key!r}; expected one of {self._order}")
        self._pending[key] = value
        while self._next < len(self._order) and self._order[self._next] in self._pending:
            self._fold(self._pending.pop(self._order[self._next]))
            self._next += 1

    @property
    def n_buffered(self) -> int:
        """Number of results waiting for a lower shot to arrive (always 0 when not ordered)."""
        return len(self._pending)

    def result(self) -> Any:
        """Return the folded value once every expected result has been added."""
        missing = [k for k in (self._order or []) if k not in self._seen]
        if missing:
            raise RuntimeError(f"reduction incomplete: no result yet for shots {missing}")
        if self._empty:
            raise ValueError("nothing to reduce: no per-shot results were added")
        return self._acc
