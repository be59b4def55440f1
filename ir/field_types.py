"""Checks a JSON value against an op field's declared type.

The JSON form is untrusted input: a stride written as ``3`` instead of
``[3, 3]`` must be a format error naming the field, not a TypeError deep in
shape inference. The declared types of the op dataclasses are the schema, so
there is no second copy of it to keep in step.
"""

from __future__ import annotations

import types
import typing
from typing import Any


def conforms(value: Any, tp: Any) -> bool:
    """True if the JSON-decoded ``value`` (lists for tuples) fits type ``tp``."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return any(conforms(value, t) for t in typing.get_args(tp))
    if tp is type(None):
        return value is None
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is str:
        return isinstance(value, str)
    if origin is tuple:
        args = typing.get_args(tp)
        if not isinstance(value, list):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(conforms(v, args[0]) for v in value)
        return len(value) == len(args) and all(conforms(v, t) for v, t in zip(value, args, strict=True))
    if isinstance(tp, type):
        return isinstance(value, tp)
    raise TypeError(f"field type {tp!r} has no JSON rule")


def describe(tp: Any) -> str:
    """A short human form of a type for error messages: 'list of 2 int', 'int or null'."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(describe(t) for t in typing.get_args(tp))
    if tp is type(None):
        return "null"
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return f"list of {describe(args[0])}"
        return f"list of {len(args)} {describe(args[0])}"
    return getattr(tp, "__name__", str(tp))
