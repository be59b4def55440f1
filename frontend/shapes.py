"""Shape propagation: the traced graph run once on a zero input, each node's output shape noted.

The lowering rules need a concrete shape for every node (``x.view(x.size(0), -1)`` becomes a
Reshape with an explicit shape). torch.fx's own ShapeProp does this, but its first use imports
torch's symbolic-shapes machinery and sympy (1.6 s of a ResNet-18 compile); dian needs the shapes
only, so a plain fx Interpreter records them. A model that rejects the input shape is an
InputShapeError naming the node that failed and what the first layers expect.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.fx as fx
import torch.nn as nn
from torch.fx.node import map_aggregate

from dian.errors import InputShapeError

from .builder import describe_location


@dataclass(frozen=True)
class TensorShape:
    """``node.meta["tensor_meta"]`` of a node whose value is a tensor (a tuple of these, or of
    other values, when the value is a tuple)."""

    shape: tuple[int, ...]


class _ShapeRecorder(fx.Interpreter):
    """Runs the graph, noting each node's output shape and type; remembers which node failed."""

    failed: fx.Node | None = None

    def run_node(self, n: fx.Node) -> Any:
        try:
            result = super().run_node(n)
        except Exception:
            self.failed = self.failed or n
            raise
        found = False

        def note(v: Any) -> Any:
            nonlocal found
            if isinstance(v, torch.Tensor):
                found = True
                return TensorShape(tuple(int(d) for d in v.shape))
            return v

        meta = map_aggregate(result, note)
        if found:
            n.meta["tensor_meta"] = meta
        n.meta["type"] = type(result)
        return result


def propagate_shapes(gm: fx.GraphModule, shape: tuple[int, ...], name: str) -> None:
    """Shapes by running the model once on zeros, on one torch thread: a batch of one is light, and
    on a busy machine torch's worker threads wait for each other (ResNet-18 at 224: 2 s, not 0.2 s)."""
    recorder = _ShapeRecorder(gm)
    recorder.extra_traceback = False  # the first line of the error is the model's own
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        with torch.no_grad():
            recorder.run(torch.zeros(shape))
    except Exception as e:
        node = recorder.failed
        where = describe_location(node) if node is not None else "the model"
        raise InputShapeError(
            f"model '{name}' does not accept input shape {list(shape)}: {where} failed with "
            f"{type(e).__name__}: {_first_line(e)}.{_expectation(gm, node)}"
        ) from e
    finally:
        torch.set_num_threads(threads)


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0].rstrip(".") if text else "(no message)"


def _expectation(gm: fx.GraphModule, failed: fx.Node | None) -> str:
    """What the failing layer (or the model's first layer) expects, when we can tell."""
    modules = dict(gm.named_modules())

    def expects(node: fx.Node) -> str | None:
        m = modules.get(node.target) if node.op == "call_module" else None
        if isinstance(m, nn.Conv2d):
            return f"`{node.target}` (nn.Conv2d) expects [N, {m.in_channels}, H, W]"
        if isinstance(m, nn.Linear):
            return f"`{node.target}` (nn.Linear) expects [N, {m.in_features}]"
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            return f"`{node.target}` ({type(m).__name__}) expects {m.num_features} channels"
        return None

    parts = []
    if failed is not None and (e := expects(failed)):
        metas = [a.meta.get("tensor_meta") for a in failed.all_input_nodes]
        got = [list(m.shape) for m in metas if isinstance(m, TensorShape)]  # a tuple has no one shape
        parts.append(f" {e}" + (f" but receives {got[0]}" if got else "") + ".")
    first = next((e for n in gm.graph.nodes if (e := expects(n))), None)
    if first and (not parts or first not in parts[0]):
        parts.append(f" The model's first layer {first}.")
    return "".join(parts)
