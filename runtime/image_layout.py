"""image.json and program.bin of an output folder, checked against each other and the graph.

image.json is what the host trusts to place the input and find the outputs, so a damaged
one must not become a wrong run reported as a simulator mismatch (an empty ``inputs`` list
once was) or an exception deep in numpy. :func:`read_layout` checks every field the host
reads against the graph (one input slot per graph input, one output slot per graph output,
each slot's shape that of its tensor, its bytes those of its channel-blocked shape, inside
the image) and returns the layout as plain values; :func:`check_program` checks program.bin's
header against it before anything runs it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from dian import outdir
from dian.artifact_io import Node, read_json
from dian.errors import OutputDirError, ProgramError
from dian.hwgen.accel_config import AccelConfig, config_hash
from dian.hwgen.image_format import MAX_IMAGE_BYTES
from dian.hwgen.lower.dram_image import read_header
from dian.hwgen.lower.layout import act_bytes
from dian.ir import Graph

__all__ = ["check_program", "read_layout"]

_HINT = "; recompile the folder with `dian compile`"
#: The most taps, stride, dilation and left padding an input packing may name (a 7x7 stem has 7).
_MAX_PACKING = 64


def _slot(node: Node, graph: Graph, lanes: int, image_bytes: int, packable: bool) -> dict[str, Any]:
    """One slot, checked against its tensor in ``graph``; the plain dict the host reads."""
    name = node["name"].as_str(256)
    t = graph.tensors.get(name)
    if t is None or name in graph.constants:
        node["name"].fail("the name of an activation tensor of model.ir.json")
    shape = [d.as_int(1) for d in node["shape"].as_list(1, 8)]
    if tuple(shape) != t.shape:
        node["shape"].fail(f"{list(t.shape)}, the shape of tensor '{name}' in model.ir.json")
    blocked = tuple(d.as_int(1, MAX_IMAGE_BYTES) for d in node["blocked"].as_list(4, 4))
    slot: dict[str, Any] = {"name": name, "shape": shape, "blocked": list(blocked)}
    packing = node.get("packing") if packable else None
    if packing is not None:
        slot["packing"] = _packing(packing, name, t.shape, blocked)
    elif math.prod(blocked) != t.numel:  # a reshape keeps its input's slot, so only the count must agree
        node["blocked"].fail(f"4 dims of {t.numel:,} elements in all, as many as shape {shape} has")
    slot["bytes"] = node["bytes"].as_int(act_bytes(blocked, lanes), act_bytes(blocked, lanes))
    slot["addr"] = node["addr"].as_int(0, image_bytes - slot["bytes"])
    producer = node.get("producer")
    slot["producer"] = None if producer is None else producer.as_str(256)
    return slot


def _packing(node: Node, name: str, shape: tuple[int, ...], blocked: tuple[int, ...]) -> dict[str, Any]:
    """An input slot's ``packing`` (hwgen/lower/input_packing.py), whose packed shape is the slot's blocked one."""
    packed = [d.as_int(1) for d in node["shape"].as_list(4, 4)]
    fx, out_w = node["fx"].as_int(1, _MAX_PACKING), node["out_w"].as_int(1, MAX_IMAGE_BYTES)
    doc: dict[str, Any] = {
        "name": node["name"].as_str(256, (name,)),
        "shape": packed,
        "fx": fx,
        "stride_x": node["stride_x"].as_int(1, _MAX_PACKING),
        "dilation_x": node["dilation_x"].as_int(1, _MAX_PACKING),
        "pad_left": node["pad_left"].as_int(0, _MAX_PACKING),
        "out_w": out_w,
    }
    if tuple(packed) != shape:
        node["shape"].fail(f"{list(shape)}, the shape of input '{name}'")
    n, c, h, _ = shape
    if (n, c * fx, h, out_w) != blocked:
        node.fail(f"a packing whose packed shape is the slot's blocked shape {list(blocked)}")
    return doc


def read_layout(path: Path, graph: Graph, cfg: AccelConfig) -> dict[str, Any]:
    """DIR/image.json, checked (see the module docstring), or :class:`OutputDirError` naming the field."""
    doc = read_json(path / outdir.IMAGE, OutputDirError, hint=_HINT)
    fmt = (doc["format"].value, doc["format_version"].value)
    if fmt != (outdir.IMAGE_FORMAT, outdir.IMAGE_FORMAT_VERSION):
        raise OutputDirError(
            f"{path / outdir.IMAGE} is not a dian image layout of version {outdir.IMAGE_FORMAT_VERSION} "
            f"(format {fmt[0]!r}, version {fmt[1]!r}){_HINT}."
        )
    image_bytes = doc["image_bytes"].as_int(0, MAX_IMAGE_BYTES)
    doc["lanes"].as_int(cfg.lanes, cfg.lanes)
    doc["config_hash"].as_str(64, (config_hash(cfg).hex(),))
    layout: dict[str, Any] = {"image_bytes": image_bytes, "lanes": cfg.lanes, "config_hash": config_hash(cfg).hex()}
    for key, names in (("inputs", graph.inputs), ("outputs", graph.outputs), ("tensors", None)):
        slots = [_slot(s, graph, cfg.lanes, image_bytes, key != "outputs") for s in doc[key].as_list()]
        got = [s["name"] for s in slots]
        if names is not None and got != list(names):
            doc[key].fail(f"one slot per graph {key[:-1]}, in order: {list(names)} (it has {got})")
        if len(set(got)) != len(got):
            doc[key].fail("a list of slots with distinct names")
        layout[key] = slots
    layout["chunks"] = [
        {"addr": c["addr"].as_int(0, image_bytes), "mem": c["mem"].as_int(1), "cmp": c["cmp"].as_int(1)}
        for c in doc["chunks"].as_list(1)
    ]
    return layout


def check_program(path: Path, image: bytes, layout: dict[str, Any], cfg: AccelConfig) -> None:
    """:class:`ProgramError` unless DIR/program.bin's header agrees with image.json: its length, the
    accelerator config it was built for, its chunk table and its input/output table."""
    source = path / outdir.PROGRAM
    if len(image) != layout["image_bytes"]:
        raise ProgramError(
            f"{source} is {len(image):,} bytes; image.json says {layout['image_bytes']:,}: it is truncated or "
            f"was replaced{_HINT}."
        )
    try:
        header = read_header(image, cfg)
    except ProgramError as e:
        raise ProgramError(f"{source}: {e} Recompile the folder with `dian compile`.") from None
    chunks = [{"addr": c.addr, "mem": c.n_mem, "cmp": c.n_cmp} for c in header.chunks]
    io = [(a, list(b)) for a, b in (*header.inputs, *header.outputs)]
    want = [(s["addr"], s["blocked"]) for s in (*layout["inputs"], *layout["outputs"])]
    for what, found, expected in (("chunk table", chunks, layout["chunks"]), ("input/output table", io, want)):
        if found != expected:
            first = min(len(found), len(expected))
            i = next((i for i, (f, e) in enumerate(zip(found, expected, strict=False)) if f != e), first)
            here, there = (found[i] if i < len(found) else "none"), (expected[i] if i < len(expected) else "none")
            raise ProgramError(
                f"{source}: the header's {what} does not match image.json: entry {i} is {here} in program.bin, "
                f"{there} in image.json ({len(found)} and {len(expected)} entries); the image is damaged{_HINT}."
            )
