"""A Graph as a readable table: op, kind, shapes, MACs, params, scales."""

from __future__ import annotations

from . import pointwise
from .graph import Graph
from .ops import Add, AvgPool2d, Clamp, Concat, Conv2d, Interleave, MaxPool2d, Op, Pointwise, SelectChannels, Upsample
from .stats import graph_macs, graph_params, op_macs, op_params


def _shape(s: tuple[int, ...]) -> str:
    return "x".join(str(d) for d in s)


def _attrs(op: Op) -> str:
    if isinstance(op, Conv2d):
        k = f"{op.stride[0]}" if op.stride[0] == op.stride[1] else f"{op.stride[0]},{op.stride[1]}"
        parts = [f"s{k}", f"p{op.padding[0]},{op.padding[1]}"]
        if op.dilation != (1, 1):
            parts.append(f"d{op.dilation[0]},{op.dilation[1]}")
        if op.groups != 1:
            parts.append(f"g{op.groups}")
        return " ".join(parts)
    if isinstance(op, (MaxPool2d, AvgPool2d)):
        return f"k{op.kernel[0]},{op.kernel[1]} s{op.stride[0]},{op.stride[1]} p{op.padding[0]},{op.padding[1]}"
    if isinstance(op, Clamp):
        return f"[{op.min_value}, {op.max_value}]"
    if isinstance(op, Concat):
        return f"axis {op.axis}"
    if isinstance(op, Pointwise):
        return pointwise.label(op.fn, op.params)
    if isinstance(op, Upsample):
        return f"nearest x{op.scale[0]},{op.scale[1]}"
    if isinstance(op, Interleave):
        return f"phases x{op.factor[0]},{op.factor[1]}"
    if isinstance(op, SelectChannels):
        return "channels " + _ranges(op.channels)
    if isinstance(op, Add) and op.subtract:
        return "a - b"
    return ""


def _ranges(channels: tuple[int, ...]) -> str:
    """``0:8,16:24`` for runs of consecutive channels, so a slice prints short and a shuffle readably."""
    runs: list[list[int]] = []
    for c in channels:
        if runs and c == runs[-1][1]:
            runs[-1][1] = c + 1
        else:
            runs.append([c, c + 1])
    text = ",".join(f"{a}" if b == a + 1 else f"{a}:{b}" for a, b in runs[:6])
    return text + (f",... ({len(channels)})" if len(runs) > 6 else "")


def _clamp(op: Op) -> str:
    lo, hi = getattr(op, "out_min", None), getattr(op, "out_max", None)
    if lo is None or (lo, hi) == (-128, 127):
        return ""
    return f" clamp[{lo},{hi}]"


def _scales(graph: Graph, op: Op) -> str:
    out = graph.tensors[op.output].quant
    if out is None:
        return ""
    text = f"{out.scale[0]:.4g}"
    if op.constants:
        w = graph.tensors[op.constants[0]].quant
        if w is not None:
            lo, hi = min(w.scale), max(w.scale)
            text += f" (w {lo:.3g}..{hi:.3g})" if lo != hi else f" (w {lo:.3g})"
    return text


def format_graph(graph: Graph) -> str:
    """Render ``graph`` as a fixed-width table with a totals line."""
    kind = "int8" if graph.is_quantized else "float"
    header = ("op", "kind", "attrs", "input", "output", "MACs", "params", "out scale")
    rows: list[tuple[str, ...]] = []
    for op in graph.ops:
        ins = ",".join(_shape(graph.tensors[i].shape) for i in op.inputs)
        macs = op_macs(graph, op)
        rows.append(
            (
                op.name,
                op.kind.value + _clamp(op),
                _attrs(op),
                ins,
                _shape(graph.tensors[op.output].shape),
                f"{macs:,}" if macs else "",
                f"{op_params(graph, op):,}" if op.constants else "",
                _scales(graph, op),
            )
        )
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    right = {5, 6}

    def line(r: tuple[str, ...]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ).rstrip()

    ins = ", ".join(f"{n} {_shape(graph.tensors[n].shape)}" for n in graph.inputs)
    outs = ", ".join(f"{n} {_shape(graph.tensors[n].shape)}" for n in graph.outputs)
    text = [
        f"graph {graph.name} ({kind}): {len(graph.ops)} ops, inputs {ins}, outputs {outs}",
        line(header),
        line(tuple("-" * w for w in widths)),
    ]
    text += [line(r) for r in rows]
    text.append(f"total {graph_macs(graph):,} MACs, {graph_params(graph):,} parameters")
    return "\n".join(text)


__all__ = ["format_graph"]
