"""torch.fx tracing of an nn.Module into dian's float Graph.

Pipeline: ``symbolic_trace`` (the model's ops as an fx graph) -> shape
propagation (shapes.py) on a zero input of the given shape (a concrete shape for every node, so
``x.view(x.size(0), -1)`` lowers to a Reshape with an explicit shape and the
size nodes are just consumed) -> BN-folding plan -> one lowering rule per
node (``lower_rules.py``) -> ``dian.ir.verify``.

Every failure a user can cause becomes a typed error naming the culprit: the
nodes no rule lowers (one UnsupportedOpError listing every one of them with its
source line and reason, blockers.py), a forward fx cannot trace
(UnsupportedOpError), an input shape the model rejects (InputShapeError).
"""

from __future__ import annotations

import operator
import traceback
from pathlib import Path
from typing import Any

import torch
import torch.fx as fx
import torch.nn as nn
import torch.nn.functional as F

from dian.errors import InputShapeError, UnsupportedOpError
from dian.ir import Graph, verify

from . import blockers, channel_rules
from .blockers import FAILED, NodeError, SourceTracer
from .builder import META, Builder, describe_location
from .lower_rules import FUNCTION_RULES, METHOD_RULES, MODULE_RULES, SHAPE_FUNCTIONS, SHAPE_METHODS
from .model_kinds import refuse_unimportable
from .qat import LearnedRange, lower_marker
from .qat import metadata as qat_metadata
from .shapes import propagate_shapes


def trace(module: nn.Module, input_shape: tuple[int, ...], name: str) -> Graph:
    """Lower ``module`` (put in eval mode) to a verified float32 Graph for
    inputs of exactly ``input_shape`` (batch included)."""
    shape = _check_shape(input_shape)
    refuse_unimportable(module, f"model '{name}'")  # TorchScript, quantized: named, not a trace failure
    module.eval()
    if fx.Tracer().is_leaf_module(module, ""):  # fx traces *into* the root: wrap a bare torch.nn layer
        module = nn.Sequential(module)
    gm = _symbolic_trace(module)
    placeholders = [n for n in gm.graph.nodes if n.op == "placeholder"]
    if len(placeholders) != 1:
        raise UnsupportedOpError(
            f"model '{name}' takes {len(placeholders)} inputs "
            f"({', '.join(n.name for n in placeholders)}); dian lowers models with one input tensor."
        )
    propagate_shapes(gm, shape, name)
    b = Builder(dict(gm.named_modules()), {n.name for n in gm.graph.nodes})
    b.folded = _plan_bn_folds(gm, b.modules)
    outputs: list[str] = []
    refused: list[blockers.Blocker] = []
    for node in gm.graph.nodes:
        if node.op == "placeholder":
            b.env[node] = b.declare(node.name, shape)
        elif any(b.env.get(a) is FAILED for a in node.all_input_nodes):
            b.env[node] = _stand_in(b, node)  # follows from a refused node: not a blocker of its own
        elif node.op == "output":
            outputs = _outputs(b, node, refused)
        else:
            try:
                b.env[node] = _lower_node(b, node)
            except UnsupportedOpError as e:
                refused.append(blockers.blocker(node, _describe_target(b, node), e))
                b.env[node] = _stand_in(b, node)
    if refused:
        raise blockers.error(name, refused)
    graph = Graph.build(
        name,
        b.tensors,
        b.constants,
        b.ops,
        [placeholders[0].name],
        outputs,
        metadata={"frontend": "torch.fx", "torch": torch.__version__, "module_class": type(module).__qualname__}
        | qat_metadata(b.learned),
    )
    return verify(graph)


def _stand_in(b: Builder, node: fx.Node) -> Any:
    """What a node the lowering refused leaves behind so the nodes after it still lower (and
    report their own problems): a float tensor of the node's traced shape, or FAILED when it
    has none. The graph is never built from these."""
    meta = node.meta.get("tensor_meta")
    shape = getattr(meta, "shape", None)
    return FAILED if shape is None else b.declare(node.name, tuple(int(d) for d in shape))


def _outputs(b: Builder, node: fx.Node, refused: list[blockers.Blocker]) -> list[str]:
    """The IR names of what forward returns (tensors in a tuple, list or dict count one by one; a
    chunk/split returned whole, each of its pieces)."""
    names = []
    for i, v in enumerate(_flatten(node.args[0])):
        value = b.env.get(v) if isinstance(v, fx.Node) else None
        if value is None or value is META:
            shown = v.name if isinstance(v, fx.Node) else repr(v)[:40]
            reason = f"`{shown}` is not a tensor; dian compiles models whose outputs are tensors"
            refused.append(blockers.Blocker("forward's return value", f"output {i}", reason))
            continue
        try:
            names += channel_rules.output_names(b, node, v)
        except UnsupportedOpError as e:
            refused.append(blockers.Blocker("forward's return value", f"output {i}", blockers.reason(e)))
    return names


def _check_shape(input_shape: Any) -> tuple[int, ...]:
    try:
        shape = tuple(int(d) for d in input_shape)
        ok = len(shape) >= 1 and all(d >= 1 for d in shape) and all(int(d) == d for d in input_shape)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise InputShapeError(
            f"input shape {input_shape!r} is not a tuple of positive integers; "
            f"give the full shape including the batch, e.g. (1, 3, 32, 32)."
        )
    return shape


class _Tracer(SourceTracer):
    """The source-noting tracer, keeping the QAT range markers of frontend/qat.py as nodes."""

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return isinstance(m, LearnedRange) or super().is_leaf_module(m, module_qualified_name)


def _symbolic_trace(module: nn.Module) -> fx.GraphModule:
    tracer = _Tracer()  # notes each node's source line, for error messages; keeps QAT markers
    try:
        graph = tracer.trace(module)
    except Exception as e:  # fx raises TraceError, TypeError, ... for untraceable code
        raise UnsupportedOpError(
            f"torch.fx cannot trace {type(module).__name__}.forward{_user_frame(e)}: "
            f"{type(e).__name__}: {_first_line(e)}. dian needs a forward whose ops do not depend on tensor "
            f"values (no if/for/while on tensor data, no .item(), no iteration over tensors); make such "
            f"branches static or move them out of forward."
        ) from e
    return fx.GraphModule(tracer.root, graph, type(module).__name__)


#: (layer, batch norm) pairs whose BN folds into the layer's weights and bias
_FOLDABLE = (
    (nn.Conv2d, nn.BatchNorm2d),
    (nn.Linear, nn.BatchNorm1d),
    (nn.Conv1d, nn.BatchNorm1d),
    (nn.ConvTranspose2d, nn.BatchNorm2d),
)


def _plan_bn_folds(gm: fx.GraphModule, modules: dict[str, nn.Module]) -> dict[fx.Node, fx.Node]:
    """conv/linear node -> BN node to fold into it: the BN directly follows the
    layer and is the only user of its output (otherwise the unnormalized value
    is needed elsewhere and the BN stays a layer of its own)."""
    plan: dict[fx.Node, fx.Node] = {}
    for node in gm.graph.nodes:
        bn = modules.get(node.target) if node.op == "call_module" else None
        if type(bn) not in (nn.BatchNorm2d, nn.BatchNorm1d) or not node.args:
            continue
        src = node.args[0]
        if not isinstance(src, fx.Node) or src.op != "call_module" or len(src.users) != 1 or src in plan:
            continue
        layer = type(modules[src.target])  # type: ignore[index]
        if (layer, type(bn)) in _FOLDABLE:
            plan[src] = node
    return plan


def _lower_node(b: Builder, node: fx.Node) -> Any:
    if node.op == "get_attr":
        raise NodeError(
            describe_location(node),
            f"forward reads the parameter or buffer `{node.target}` directly; dian lowers weights only "
            f"through supported modules",
        )
    pieces = channel_rules.PIECE_FUNCTION_RULES.get(node.target) if node.op == "call_function" else None
    if node.op == "call_method" and isinstance(node.target, str):
        pieces = (
            ("", channel_rules.PIECE_METHOD_RULES[node.target])
            if node.target in channel_rules.PIECE_METHOD_RULES
            else None
        )
    if pieces is not None:  # chunk/split: a tuple of tensors, indexed by later nodes
        return pieces[1](b, node)
    typ = node.meta.get("type")
    if not (isinstance(typ, type) and issubclass(typ, torch.Tensor)):
        if _is_shape_node(b, node):
            return META
        raise NodeError(
            describe_location(node),
            f"it produces a {getattr(typ, '__name__', typ)}, not a tensor; dian allows non-tensor values "
            f"only from x.size()/x.shape and integer arithmetic on them",
        )
    shape = Builder.shape(node)
    if 0 in shape:
        raise NodeError(
            describe_location(node),
            f"it produces an empty tensor {list(shape)}; dian lowers tensors with at least one element along "
            f"every dimension",
        )
    rule = None
    if node.op == "call_module" and isinstance(b.modules[node.target], LearnedRange):  # type: ignore[index]
        return lower_marker(b, node)
    if node.op == "call_module":
        entry = MODULE_RULES.get(type(b.modules[node.target]))  # type: ignore[index]
        rule = entry[1] if entry else None
    elif node.op == "call_function":
        entry = FUNCTION_RULES.get(node.target)
        rule = entry[1] if entry else None
    elif node.op == "call_method":
        rule = METHOD_RULES.get(node.target)  # type: ignore[arg-type]
    if rule is None:
        raise NodeError(describe_location(node), "not supported by dian")
    return rule(b, node)


def _is_shape_node(b: Builder, node: fx.Node) -> bool:
    if node.op == "call_method":
        return node.target in SHAPE_METHODS
    if node.op != "call_function" or node.target not in SHAPE_FUNCTIONS:
        return False
    if node.target is getattr:
        return node.args[1] in ("shape", "ndim")
    return all(b.env.get(a) is META for a in node.all_input_nodes)


def _describe_target(b: Builder, node: fx.Node) -> str:
    """`nn.GELU`, `F.gelu`, `torch.sigmoid`, `operator.mul`, `Tensor.sum()`..."""
    t = node.target
    if node.op == "get_attr":
        return f"self.{t}"
    if node.op == "call_module":
        cls = type(b.modules[t])  # type: ignore[index]
        return f"nn.{cls.__name__}" if cls.__module__.startswith("torch.nn") else f"{cls.__module__}.{cls.__qualname__}"
    if node.op == "call_method":
        return f"Tensor.{t}()"
    fname = getattr(t, "__name__", str(t))
    if getattr(F, fname, None) is t:
        return f"F.{fname}"
    if getattr(torch, fname, None) is t:
        return f"torch.{fname}"
    if getattr(operator, fname, None) is t:
        return f"operator.{fname}" + (f" ({_OPERATOR_SYMBOLS[fname]})" if fname in _OPERATOR_SYMBOLS else "")
    return f"{getattr(t, '__module__', '?')}.{getattr(t, '__qualname__', fname)}"


_OPERATOR_SYMBOLS = {
    "mul": "a * b",
    "sub": "a - b",
    "truediv": "a / b",
    "matmul": "a @ b",
    "neg": "-a",
    "getitem": "tensor indexing x[...]",
    "imul": "a *= b",
    "isub": "a -= b",
}


def _flatten(value: Any) -> list[Any]:
    if isinstance(value, (tuple, list)):
        return [x for v in value for x in _flatten(v)]
    if isinstance(value, dict):
        return [x for v in value.values() for x in _flatten(v)]
    return [value]


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0].rstrip(".") if text else "(no message)"


_HERE = str(Path(__file__).parent)  # dian's own frames are never the user's line


def _user_frame(e: BaseException) -> str:
    """` at file.py:LINE` for the innermost traceback frame outside torch, if any."""
    frames = [
        f for f in traceback.extract_tb(e.__traceback__) if "/torch/" not in f.filename and _HERE not in f.filename
    ]
    return f" at {frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno}" if frames else ""
