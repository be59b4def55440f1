"""Every node the lowering cannot take, gathered into one error.

A user porting a model wants the whole list of what to change, not one item per compile. So the
driver (trace.py) lowers every node it can, records each refusal here as a :class:`Blocker` (where
in the user's source, which op, why) and raises one :class:`~dian.errors.UnsupportedOpError`
listing them all at the end. The where is the innermost frame of the model's own code that fx was
in when it recorded the node (``source_line``, captured by :class:`SourceTracer` at a few
microseconds per node), or the module path when there is none (a layer called by nn.Sequential).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from types import FrameType
from typing import Any

import torch
import torch.fx as fx

from dian.errors import UnsupportedOpError

#: The node's value in the driver's environment when it failed and has no tensor shape to stand in
#: for it (a tuple, a scalar): its users are skipped, not reported again.
FAILED = object()

#: How many blockers the error lists before "and K more".
MAX_LISTED = 20

POINTER = 'What dian supports: the "Supported ops" table of README.md (frontend/lower_rules.py has the rules).'

_TORCH_DIR = os.path.dirname(torch.__file__) + os.sep
_FRONTEND_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_ZOO_DIR = _FRONTEND_DIR + "zoo" + os.sep


class NodeError(UnsupportedOpError):
    """A lowering rule's refusal of one node. ``reason`` says what is wrong and what is allowed,
    without the location, which the blocker list adds once per line."""

    def __init__(self, location: str, reason: str) -> None:
        super().__init__(f"{location}: {reason}.")
        self.reason = reason


@dataclass(frozen=True)
class Blocker:
    """One node the lowering refused: ``where`` (file:line and/or module path), ``target`` (the
    op as the user spelled it), ``reason`` (one line)."""

    where: str
    target: str
    reason: str

    def line(self) -> str:
        return f"  {self.where}: {self.target}: {self.reason}"


class SourceTracer(fx.Tracer):
    """fx's tracer that notes, on every node, the line of the model's code that created it.

    fx's own ``record_stack_traces`` does this too, but its first use imports torch._inductor
    (about 2 s); a walk up the Python frames costs microseconds."""

    def create_node(self, *args: Any, **kwargs: Any) -> fx.Node:
        node = super().create_node(*args, **kwargs)
        node.meta["dian_source"] = _innermost_user_frame()
        return node


def _innermost_user_frame() -> tuple[str, int] | None:
    """The innermost frame outside torch, if it is the model's code: reaching the frontend's own
    frames (trace.py calling fx) first means fx made the node itself (the output, a placeholder)."""
    frame: FrameType | None = sys._getframe(2)
    while frame is not None:
        name = frame.f_code.co_filename
        if name.startswith(_FRONTEND_DIR) and not name.startswith(_ZOO_DIR):
            return None
        if not name.startswith(_TORCH_DIR) and not name.startswith("<"):
            return name, frame.f_lineno
        frame = frame.f_back
    return None


def source_line(node: fx.Node) -> str | None:
    """``file:line`` of the model code that made ``node`` (relative to the working directory when
    the file is under it), or None."""
    src = node.meta.get("dian_source")
    if not src:
        return None
    path, line = src
    rel = os.path.relpath(path) if os.path.abspath(path).startswith(os.getcwd() + os.sep) else path
    return f"{rel}:{line}"


def module_path(node: fx.Node) -> str | None:
    """The module the node belongs to: its own target for a module call, else the innermost
    enclosing module fx recorded (``layer2.0``), or None at the top level."""
    if node.op == "call_module":
        return f"module `{node.target}`"
    stack = node.meta.get("nn_module_stack") or {}
    if stack:
        path = list(stack.values())[-1][0]
        return f"in `{path}`" if path else None
    return None


def where(node: fx.Node) -> str:
    """``file:line (module path)``, whichever of the two are known (the fx node name as the last resort)."""
    line, path = source_line(node), module_path(node)
    if line and path:
        return f"{line} ({path})"
    return line or path or f"fx node `{node.name}`"


def reason(error: UnsupportedOpError) -> str:
    """The one-line reason of a refusal (a rule's own, or the whole message of another error)."""
    return error.reason if isinstance(error, NodeError) else str(error).rstrip(".")


def blocker(node: fx.Node, target: str, error: UnsupportedOpError) -> Blocker:
    return Blocker(where(node), target, reason(error))


def error(model: str, blockers: list[Blocker]) -> UnsupportedOpError:
    """The one error listing ``blockers`` (the first MAX_LISTED of them), then the pointer."""
    n = len(blockers)
    lines = [f"model '{model}' has {n} op{'s' if n != 1 else ''} dian cannot lower:"]
    lines += [b.line() for b in blockers[:MAX_LISTED]]
    if n > MAX_LISTED:
        lines.append(f"  ... and {n - MAX_LISTED} more")
    lines.append(POINTER)
    return UnsupportedOpError("\n".join(lines))


def listing(subject: str, problems: list[str], supported: str, limit: int = 40) -> UnsupportedOpError:
    """The one error of an importer (ONNX, torch.export): ``subject`` has these ``problems`` (the
    first ``limit`` listed), then ``supported``, the importer's op set."""
    more = f"\n  ... and {len(problems) - limit} more" if len(problems) > limit else ""
    return UnsupportedOpError(
        f"{subject} has {len(problems)} node(s) dian cannot lower:\n  - "
        + "\n  - ".join(problems[:limit])
        + f"{more}\n{supported}."
    )
