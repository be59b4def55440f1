"""``torch.export`` programs -> dian's float Graph, the same IR the torch.fx frontend builds.

An ``ExportedProgram`` (or the ``.module()`` of one) is already a graph of aten ops with every
shape propagated, so there is nothing to trace: each node is lowered by its rule in
aten_rules.py, parameters and buffers are read from the module's ``get_attr`` targets, and
batch norm (``aten.batch_norm``, or ``_native_batch_norm_legit_no_training`` after
``run_decompositions``) is folded into the conv or linear before it. ``.module()`` raises on
``.eval()``, so nothing here calls it: the program was exported in whatever mode the user put
the model in, and training-mode batch norm or dropout is refused by name.

Shapes are the program's own: an exported program is specialized to the input shape it was
exported with, and that is the only shape it is lowered for. Every node dian cannot lower is
collected, and one :class:`~dian.errors.UnsupportedOpError` lists them all.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.fx as fx

from dian.errors import InputShapeError, UnsupportedOpError
from dian.ir import Graph, verify

from .aten_rules import RULES, supported_summary
from .blockers import listing
from .builder import Builder, describe_location

MAX_LISTED = 40


def as_graph_module(model: Any) -> fx.GraphModule:
    """The aten GraphModule of an ExportedProgram (its ``.module()``) or of a ``.module()`` itself."""
    return model.module() if isinstance(model, torch.export.ExportedProgram) else model


def exported_input_shape(model: Any) -> tuple[int, ...] | None:
    """The shape the program was exported for (None when it has other than one input)."""
    inputs = [n for n in as_graph_module(model).graph.nodes if n.op == "placeholder"]
    meta = inputs[0].meta.get("val") if len(inputs) == 1 else None
    try:
        return tuple(int(d) for d in meta.shape) if meta is not None else None
    except TypeError:  # a symbolic (dynamic) dimension
        return None


def import_exported(model: Any, input_shape: tuple[int, ...], name: str) -> Graph:
    """Lower an ExportedProgram (or its ``.module()``) to a verified float32 Graph."""
    gm = as_graph_module(model)
    inputs = [n for n in gm.graph.nodes if n.op == "placeholder"]
    if len(inputs) != 1:
        raise UnsupportedOpError(
            f"exported program '{name}' takes {len(inputs)} inputs ({', '.join(n.name for n in inputs)}); "
            f"dian lowers models with one input tensor."
        )
    exported = exported_input_shape(gm)
    if exported != tuple(input_shape):
        raise InputShapeError(
            f"exported program '{name}' was exported for input shape {list(exported) if exported else '(dynamic)'}, "
            f"not {list(input_shape)}; an exported program is specialized to its example input, so give "
            f"--input-shape {','.join(map(str, exported or ()))} or export again with an input of the shape you want."
        )
    b = Builder(dict(gm.named_modules()), {n.name for n in gm.graph.nodes})
    problems: list[str] = []
    failed: set[fx.Node] = set()
    outputs: list[Any] = []
    for node in gm.graph.nodes:
        if node.op == "placeholder":
            b.env[node] = b.declare(node.name, tuple(input_shape))
        elif node.op == "get_attr":
            b.env[node] = _attr(gm, str(node.target))
        elif node.op == "output":
            outputs = list(node.args[0]) if isinstance(node.args[0], (tuple, list)) else [node.args[0]]
        elif node.op == "call_module" and node.target == "_guards_fn":
            continue  # export's input-shape guards: dian checked the shape above
        elif failed.intersection(node.all_input_nodes):  # after a failure only the op itself is checked
            failed.add(node)
            if node.op != "call_function" or node.target not in RULES:
                problems.append(f"{describe_location(node)}: no lowering for {node.op} {node.target}")
        elif _foldable(b, node):  # arithmetic on parameters only (a decomposed linear's weight.t())
            args, kwargs = fx.node.map_arg((node.args, node.kwargs), lambda a: b.env[a])
            with torch.no_grad():
                b.env[node] = node.target(*args, **kwargs)
        else:
            rule = RULES.get(node.target) if node.op == "call_function" else None
            try:
                if rule is None:
                    raise UnsupportedOpError(f"{describe_location(node)}: no lowering for {node.op} {node.target}")
                b.env[node] = rule(b, node)
            except UnsupportedOpError as e:
                problems.append(str(e).rstrip("."))
                failed.add(node)
    if problems:
        raise listing(f"exported program '{name}'", problems, supported_summary(), MAX_LISTED)
    graph = Graph.build(
        name,
        b.tensors,
        b.constants,
        b.ops,
        [inputs[0].name],
        [b.tensor(o, inputs[0], "output") for o in outputs],
        metadata={"frontend": "torch.export", "torch": torch.__version__},
    )
    return verify(graph)


def _foldable(b: Builder, node: fx.Node) -> bool:
    return (
        node.op == "call_function"
        and isinstance(node.target, torch._ops.OpOverload)
        and bool(node.all_input_nodes)
        and all(isinstance(b.env.get(a), torch.Tensor) for a in node.all_input_nodes)
    )


def _attr(gm: fx.GraphModule, target: str) -> Any:
    value: Any = gm
    for part in target.split("."):
        value = getattr(value, part)
    return value
