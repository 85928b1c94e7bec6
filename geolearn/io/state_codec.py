"""Lossless, pickle-free encoding of nested inversion state into one ``.npz`` file.

The state tree (dicts, lists, tuples, numbers, strings, None, paths, NumPy arrays and scalars,
torch tensors) becomes a JSON *skeleton* in which every array is replaced by a reference to a
member of the ``.npz`` archive. Nothing is pickled, so a checkpoint cannot execute code when
loaded, and dtypes, shapes, dict key types (torch optimiser states use int keys), tuples and
128-bit PCG64 RNG integers all survive the round trip exactly.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path, PurePath
from typing import Any

import numpy as np
import torch

__all__ = ["decode", "encode"]

_TAG = "__gl__"
SKELETON_KEY = "__skeleton__"
_SUPPORTED = (
    "dict, list, tuple, str, int, float, bool, None, pathlib paths, numpy arrays/scalars, torch tensors"
)


class _Encoder:
    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def _store(self, arr: np.ndarray, path: str) -> str:
        if arr.dtype.hasobject:
            raise TypeError(f"cannot checkpoint {path}: numpy array of dtype object (only plain dtypes)")
        key = f"a{len(self.arrays)}"
        self.arrays[key] = arr
        return key

    def tensor(self, t: torch.Tensor, path: str) -> dict[str, Any]:
        node = {
            _TAG: "tensor",
            "dtype": str(t.dtype).removeprefix("torch."),
            "requires_grad": t.requires_grad,
        }
        t = t.detach().cpu()
        try:
            arr = t.numpy()
        except TypeError:  # bfloat16 and friends: keep the raw bytes
            node["shape"] = list(t.shape)
            arr = t.contiguous().reshape(-1).view(torch.uint8).numpy()
        node["key"] = self._store(arr, path)
        return node

    def __call__(self, x: Any, path: str) -> Any:
        if x is None or isinstance(x, (bool, str)):
            return x
        if isinstance(x, (int, float)) and not isinstance(x, np.generic):
            return x
        if isinstance(x, np.ndarray):
            return {_TAG: "ndarray", "key": self._store(x, path)}
        if isinstance(x, np.generic):
            return {_TAG: "npscalar", "key": self._store(np.asarray(x), path)}
        if isinstance(x, torch.Tensor):
            return self.tensor(x, path)
        if isinstance(x, PurePath):
            return {_TAG: "path", "value": str(x)}
        if isinstance(x, tuple):
            return {_TAG: "tuple", "items": [self(v, f"{path}[{i}]") for i, v in enumerate(x)]}
        if isinstance(x, list):
            return [self(v, f"{path}[{i}]") for i, v in enumerate(x)]
        if isinstance(x, Mapping):
            if all(isinstance(k, str) for k in x) and _TAG not in x:
                return {k: self(v, f"{path}.{k}") for k, v in x.items()}
            return {
                _TAG: "dict",
                "items": [[self(k, f"{path}<key {k!r}>"), self(v, f"{path}[{k!r}]")] for k, v in x.items()],
            }
        raise TypeError(
            f"cannot checkpoint {path}: unsupported type {type(x).__name__}; supported: {_SUPPORTED}"
        )


def encode(tree: Any, root: str = "state") -> tuple[bytes, dict[str, np.ndarray]]:
    """Split ``tree`` into a UTF-8 JSON skeleton and a dict of arrays for ``numpy.savez``.

    Raises
    ------
    TypeError
        Naming the dotted position of the first unsupported value, before anything is written.
    """
    encoder = _Encoder()
    skeleton = encoder(tree, root)
    return json.dumps(skeleton).encode("utf-8"), encoder.arrays


def decode(skeleton: bytes, arrays: Mapping[str, np.ndarray]) -> Any:
    """Inverse of :func:`encode`; tensors come back on the CPU."""

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(v) for v in node]
        if not isinstance(node, dict):
            return node
        kind = node.get(_TAG)
        if kind is None:
            return {k: walk(v) for k, v in node.items()}
        if kind == "ndarray":
            return np.array(arrays[node["key"]])
        if kind == "npscalar":
            return arrays[node["key"]][()]
        if kind == "tensor":
            dtype = getattr(torch, node["dtype"])
            arr = np.array(arrays[node["key"]])
            t = torch.from_numpy(arr)
            if "shape" in node:
                t = t.view(dtype).reshape(node["shape"])
            return t.requires_grad_(node["requires_grad"]) if t.is_floating_point() else t
        if kind == "path":
            return Path(node["value"])
        if kind == "tuple":
            return tuple(walk(v) for v in node["items"])
        if kind == "dict":
            return {walk(k): walk(v) for k, v in node["items"]}
        raise ValueError(f"corrupt checkpoint skeleton: unknown node kind {kind!r}")

    return walk(json.loads(skeleton.decode("utf-8")))
