"""Validation machinery of the configuration schema (see :mod:`geolearn.runs.config`).

A schema is a frozen dataclass whose fields are made with :func:`key_field`: documentation,
default and constraints live in the field metadata, and :func:`build_section` turns a raw TOML
table into the dataclass, raising :class:`~geolearn.errors.ConfigError` that names the dotted key.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import typing
from collections.abc import Callable, Mapping
from dataclasses import field
from pathlib import Path
from typing import Any

from geolearn.errors import ConfigError

__all__ = ["AUTO", "build_section", "fail", "key_field", "unknown_key"]


#: The TOML word for None in a field made with ``key_field(..., auto=True)``: TOML has no null.
AUTO = "auto"


def key_field(doc: str, default: Any = None, *, choices: tuple = (), lo: float | None = None,
         hi: float | None = None, lo_open: bool = False, path: bool = False,
         check: Callable[[Any], str | None] | None = None, auto: bool = False) -> Any:  # fmt: skip
    """A schema field: documentation, default and constraints (``lo``/``hi`` inclusive unless ``lo_open``).

    With ``auto`` the field is ``X | None`` and the TOML string ``"auto"`` reads as None: the
    library's automatic choice, the same as leaving the key out when the default is None.
    """
    meta = {
        "doc": doc,
        "choices": choices,
        "lo": lo,
        "hi": hi,
        "lo_open": lo_open,
        "path": path,
        "check": check,
        "auto": auto,
    }
    if isinstance(default, (list, tuple)):
        return field(default=tuple(default), metadata=meta)
    return field(default=default, metadata=meta)


# -- validation --------------------------------------------------------------------------------


def fail(key: str, value: Any, why: str) -> ConfigError:
    shown = list(value) if isinstance(value, tuple) else value  # as written in TOML
    return ConfigError(f"{key} = {shown!r} is invalid: {why}")


def unknown_key(key: str, valid: list[str], prefix: str) -> ConfigError:
    name = key.rsplit(".", 1)[-1]
    close = difflib.get_close_matches(name, valid, n=1, cutoff=0.6)
    if not prefix:
        hint = f" (did you mean [{close[0]}]?)" if close else ""
        return ConfigError(f"unknown section [{key}]{hint}; valid sections: {', '.join(valid)}")
    hint = f" (did you mean '{prefix}{close[0]}'?)" if close else ""
    return ConfigError(f"unknown key '{key}'{hint}; valid keys in [{prefix[:-1]}]: {', '.join(valid)}")


def _scalar(value: Any, hint: Any, key: str) -> Any:
    if hint is bool:
        if not isinstance(value, bool):
            raise fail(key, value, "must be true or false")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise fail(key, value, "must be an integer")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise fail(key, value, "must be a number")
        return float(value)
    if hint is str:
        if not isinstance(value, (str, os.PathLike)):
            raise fail(key, value, "must be a string")
        return os.fspath(value)
    raise TypeError(f"unsupported schema type {hint!r} for {key}")  # a schema bug, not user input


_KINDS = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}


def _auto(value: Any, hint: Any, key: str) -> Any:
    """An ``auto`` field's value: None for ``"auto"``, else the ``X`` of its ``X | None`` hint."""
    if value == AUTO:
        return None
    kind = next(a for a in typing.get_args(hint) if a is not type(None))
    if isinstance(value, str) and kind is not str:
        raise fail(key, value, f'must be "{AUTO}" or {_KINDS.get(kind, kind)}')
    return _coerce(value, hint, key)


def _coerce(value: Any, hint: Any, key: str) -> Any:
    args = typing.get_args(hint)
    if type(None) in args:  # "X | None"
        if value is None:
            return None
        hint = next(a for a in args if a is not type(None))
        args = typing.get_args(hint)
    if typing.get_origin(hint) in (
        dict,
        Mapping,
    ):  # an inline table; its entries are checked by the field's check
        if not isinstance(value, Mapping):
            raise fail(key, value, "must be a table, e.g. {name = value}")
        return dict(value)
    if typing.get_origin(hint) is tuple:
        if not isinstance(value, (list, tuple)):
            raise fail(key, value, "must be an array, e.g. [1.0, 2.0]")
        if len(args) == 2 and args[1] is Ellipsis:
            item_types = [args[0]] * len(value)
        else:
            if len(value) != len(args):
                raise fail(key, value, f"must have exactly {len(args)} elements")
            item_types = list(args)
        return tuple(_scalar(v, t, f"{key}[{i}]") for i, (v, t) in enumerate(zip(value, item_types)))
    return _scalar(value, hint, key)


def _constrain(value: Any, meta: Mapping[str, Any], key: str, base: Path) -> Any:
    if value is None:
        return None
    items = value if isinstance(value, tuple) else (value,)
    if meta["choices"] and value not in meta["choices"]:
        raise fail(key, value, "must be one of " + ", ".join(repr(c) for c in meta["choices"]))
    lo, hi = meta["lo"], meta["hi"]
    for v in items:
        if lo is not None and (v <= lo if meta["lo_open"] else v < lo):
            bound = f"> {lo}" if meta["lo_open"] else f">= {lo}"
            raise fail(key, value, f"must be {bound}" + (f" and <= {hi}" if hi is not None else ""))
        if hi is not None and v > hi:
            raise fail(key, value, f"must be <= {hi}" + (f" and >= {lo}" if lo is not None else ""))
    if meta["check"] is not None and (why := meta["check"](value)):
        raise fail(key, value, why)
    if meta["path"]:
        expanded = os.path.expanduser(os.path.expandvars(value))
        if "$" in expanded:
            raise fail(
                key, value, "uses an environment variable that is not set (e.g. export GEOLEARN_DATA_DIR=...)"
            )
        value = str((base / expanded).resolve())
    return value


def build_section(cls: type, raw: Any, name: str, base: Path) -> Any:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{name} must be a table ([{name}]), got {type(raw).__name__} {raw!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    for key in raw:
        if key not in fields:
            raise unknown_key(f"{name}.{key}", list(fields), f"{name}.")
    values = {}
    for key, f in fields.items():
        dotted = f"{name}.{key}"
        if key in raw:
            read = _auto if f.metadata["auto"] else _coerce
            values[key] = _constrain(read(raw[key], hints[key], dotted), f.metadata, dotted, base)
        elif f.metadata["path"] and f.default is not None:  # relative defaults follow the config file too
            values[key] = _constrain(f.default, f.metadata, dotted, base)
    return cls(**values)
