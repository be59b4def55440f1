"""Lowering rules of elementwise arithmetic: ``+``, ``-``, ``*``, ``/`` and negation, in their
operator, ``torch.`` and method spellings. lower_rules.py merges these tables into its own,
last, so these are the rules of ``+``.

* two activations: ``a + b`` and ``a - b`` are an :class:`~dian.ir.Add` (``subtract`` for the
  difference); ``a * b`` is a :class:`~dian.ir.Mul`, of same-shaped tensors or of a tensor and
  an [N, C, 1, 1] gate in either order (squeeze-excite's ``x * gate``);
* an activation and a Python number: ``x * c``, ``x / c``, ``x + c``, ``x - c``, ``c - x`` and
  ``-x`` are the pointwise function ``affine(scale, offset)`` (ir/pointwise.py), an exact int8
  table like any other.

Division by an activation and arithmetic on constant tensors are refused by name.
"""

from __future__ import annotations

import operator
from typing import Any

import torch
import torch.fx as fx

from dian.ir import Add, Mul

from .builder import Builder, Rule, node_arg, unsupported
from .pointwise_rules import lower_pointwise


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def lower_affine(b: Builder, node: fx.Node, x: Any, scale: float, offset: float) -> str:
    return lower_pointwise(b, node, x, "affine", float(scale), float(offset))


def lower_add_sub(b: Builder, node: fx.Node, x: Any, y: Any, alpha: Any, subtract: bool) -> str:
    """``x + alpha * y`` (``x - alpha * y`` with ``subtract``) for activations and numbers."""
    if not _number(alpha) or (not _number(y) and alpha != 1):
        raise unsupported(node, f"{'sub' if subtract else 'add'} with alpha={alpha!r}", "dian supports alpha=1")
    sign = -1.0 if subtract else 1.0
    if _number(y):
        return lower_affine(b, node, x, 1.0, sign * alpha * y)
    if _number(x):
        return lower_affine(b, node, y, sign, float(x))
    a, c = b.tensor(x, node, "first operand"), b.tensor(y, node, "second operand")
    if b.tensors[a].shape != b.tensors[c].shape:
        what = "subtraction" if subtract else "add"
        raise unsupported(
            node,
            f"{what} of shapes {list(b.tensors[a].shape)} and {list(b.tensors[c].shape)}",
            f"dian {'subtracts' if subtract else 'adds'} two tensors of the same shape (no broadcasting)",
        )
    return b.emit(Add, node, [a, c], subtract=subtract)


def lower_mul(b: Builder, node: fx.Node, x: Any, y: Any) -> str:
    if _number(y):
        return lower_affine(b, node, x, y, 0.0)
    if _number(x):
        return lower_affine(b, node, y, x, 0.0)
    a, c = b.tensor(x, node, "first operand"), b.tensor(y, node, "second operand")
    sa, sc = b.tensors[a].shape, b.tensors[c].shape
    if len(sa) == 4 and sa[2:] == (1, 1) and sc[:2] == sa[:2] and sc != sa:
        a, c, sa, sc = c, a, sc, sa  # the gate second
    if sa != sc and not (len(sa) == 4 and sc == (sa[0], sa[1], 1, 1)):
        raise unsupported(
            node,
            f"multiplication of shapes {list(sa)} and {list(sc)}",
            "dian multiplies two tensors of the same shape, or an NCHW tensor by an [N, C, 1, 1] gate",
        )
    return b.emit(Mul, node, [a, c])


def lower_div(b: Builder, node: fx.Node, x: Any, y: Any, rounding_mode: Any = None) -> str:
    if rounding_mode is not None or not _number(y) or y == 0:
        raise unsupported(
            node,
            f"division by {y!r}" + (f" with rounding_mode={rounding_mode!r}" if rounding_mode is not None else ""),
            "dian divides an activation by a nonzero Python number only",
        )
    return lower_affine(b, node, x, 1.0 / y, 0.0)


def _add_call(b: Builder, n: fx.Node) -> str:
    return lower_add_sub(b, n, n.args[0], node_arg(n, 1, "other"), node_arg(n, 2, "alpha", 1), subtract=False)


def _sub_call(b: Builder, n: fx.Node) -> str:
    return lower_add_sub(b, n, n.args[0], node_arg(n, 1, "other"), node_arg(n, 2, "alpha", 1), subtract=True)


def _mul_call(b: Builder, n: fx.Node) -> str:
    return lower_mul(b, n, n.args[0], node_arg(n, 1, "other"))


def _div_call(b: Builder, n: fx.Node) -> str:
    return lower_div(b, n, n.args[0], node_arg(n, 1, "other"), node_arg(n, 2, "rounding_mode"))


def _neg_call(b: Builder, n: fx.Node) -> str:
    return lower_affine(b, n, n.args[0], -1.0, 0.0)


FUNCTION_RULES: dict[Any, tuple[str, Rule]] = {
    operator.add: ("operator.add (a + b, x + c)", _add_call),
    operator.iadd: ("operator.iadd (a += b)", _add_call),
    torch.add: ("torch.add", _add_call),
    operator.sub: ("operator.sub (a - b, x - c)", _sub_call),
    operator.isub: ("operator.isub (a -= b)", _sub_call),
    torch.sub: ("torch.sub", _sub_call),
    operator.mul: ("operator.mul (a * b, x * c)", _mul_call),
    operator.imul: ("operator.imul (a *= b)", _mul_call),
    torch.mul: ("torch.mul", _mul_call),
    operator.truediv: ("operator.truediv (x / c)", _div_call),
    torch.div: ("torch.div (by a number)", _div_call),
    operator.neg: ("operator.neg (-x)", _neg_call),
    torch.neg: ("torch.neg", _neg_call),
}

METHOD_RULES: dict[str, Rule] = {
    "add": _add_call,
    "add_": _add_call,
    "sub": _sub_call,
    "sub_": _sub_call,
    "mul": _mul_call,
    "mul_": _mul_call,
    "div": _div_call,
    "div_": _div_call,
    "neg": _neg_call,
}
