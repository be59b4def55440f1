"""Lowering: Graph + AccelConfig (+ the scheduler's plans) -> Program + DRAM image.

Every activation tensor gets its own word-aligned DRAM slot in the
channel-blocked layout (a Reshape output shares its input's slot); weights
and per-channel parameters are placed per layer in the order the program
first loads them; the program is split into IMEM-sized chunks
(program.py); the header records the chunks and the input/output slots.
The host's part is only packing inputs into their slots (for a shallow
first conv, with its kernel columns folded into channels: input_packing.py)
and unpacking the outputs (:meth:`Lowered.write_inputs`, :meth:`Lowered.read_outputs`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from dian.errors import InputShapeError
from dian.ir import Graph, Reshape, verify

from ..accel_config import AccelConfig
from ..encoding import Encoding
from .dram_image import ImageBuilder, TensorSlot
from .fused_choice import block_share, fused_blocks
from .fused_steps import fused_steps
from .fusion import FusedBlock, TilingChooser
from .gathers import accelerator_form
from .input_packing import InputPacking
from .layout import act_bytes, pack_act, unpack_act
from .op_steps import ActRef, LowerCtx
from .ppu_steps import STEPS
from .program import Assembler, Program
from .program_timing import WorkShare
from .scheduler import LayerPlan, plan_graph
from .workload import fused_away, tensor_regions


@dataclass(frozen=True)
class Lowered:
    """A compiled network: the program, its DRAM image and where the inputs and outputs live."""

    cfg: AccelConfig
    graph_name: str
    plans: tuple[LayerPlan, ...]
    program: Program
    image: bytes
    inputs: tuple[TensorSlot, ...]
    outputs: tuple[TensorSlot, ...]
    slots: Mapping[str, TensorSlot]  # every activation (for locating the first differing layer)
    packings: Mapping[str, InputPacking] = field(default_factory=dict)  # inputs the host packs (input_packing.py)
    #: The blocks that run fused (fusion.py), each with its exact share of the counters (its prediction).
    fused: tuple[tuple[FusedBlock, WorkShare], ...] = ()

    def write_inputs(self, dram: np.ndarray, inputs: Mapping[str, np.ndarray]) -> None:
        """Host side: pack int8 inputs into their DRAM slots."""
        for slot in self.inputs:
            if slot.name not in inputs:
                raise InputShapeError(f"graph '{self.graph_name}' needs input '{slot.name}'; given {sorted(inputs)}.")
            x = np.asarray(inputs[slot.name])
            packing = self.packings.get(slot.name)
            shape = slot.shape if packing is None else packing.shape
            if tuple(x.shape) != shape or x.dtype != np.int8:
                raise InputShapeError(
                    f"input '{slot.name}' must be int8 of shape {list(shape)}; got {x.dtype} {list(x.shape)}."
                )
            data = pack_act(x if packing is None else packing.apply(x), self.cfg.lanes)
            dram[slot.addr : slot.addr + data.size] = data

    def read_tensor(self, dram: np.ndarray, name: str) -> np.ndarray:
        """Unpack tensor ``name`` from ``dram`` (a packed input as the packed array)."""
        slot = self.slots[name]
        n = act_bytes(slot.blocked, self.cfg.lanes)
        x = unpack_act(dram[slot.addr : slot.addr + n], slot.blocked, self.cfg.lanes)
        return x.reshape(slot.shape)

    def read_outputs(self, dram: np.ndarray) -> dict[str, np.ndarray]:
        """Host side: unpack the outputs from their DRAM slots."""
        return {s.name: self.read_tensor(dram, s.name) for s in self.outputs}


def lower_graph(
    graph: Graph,
    cfg: AccelConfig,
    plans: list[LayerPlan] | None = None,
    fuse: bool = True,
    tiling: TilingChooser | None = None,
) -> Lowered:
    """Schedule (unless ``plans`` are given, from :func:`plan_graph` of the same
    graph) and lower ``graph`` for ``cfg``. With a fusion buffer (``cfg.fbuf``; ``fuse=False``
    turns it off, for debugging; ``tiling`` picks the fused tilings, for tests), every depthwise ->
    1x1 projection (-> residual add) block that runs faster fused (fusion.py, fused_choice.py) runs
    fused: the block's inner tensors get no DRAM slot.

    Raises IRValidationError when a layer could overflow an accumulator
    narrower than the 32 bits the frontend proved (the hardware would wrap)."""
    if cfg.acc_bits != 32:
        verify(graph, acc_bits=cfg.acc_bits)
    plans = plans if plans is not None else plan_graph(graph, cfg)
    graph, packings = accelerator_form(graph, cfg)
    enc = Encoding(cfg)
    regions = tensor_regions(graph)
    blocks = fused_blocks(graph, cfg, plans, regions, tiling) if fuse else {}
    inner = {t for b in blocks.values() for t in b.hidden}  # a fused block's inner tensors
    skip = {w.op.name for b in blocks.values() for w in b.members if w is not b.dw}
    img = ImageBuilder(cfg, len(graph.inputs), len(graph.outputs))
    acts: dict[str, ActRef] = {}
    slots: dict[str, TensorSlot] = {}
    for t in graph.activations():
        reg = regions[t.name]
        if reg.root == t.name and t.name not in inner:
            acts[t.name] = ActRef(img.alloc(act_bytes(reg.blocked, cfg.lanes), f"tensor {t.name}"), reg.blocked)
    # A layer's output that goes through its fused lookup table never reaches DRAM, nor does a fused block's inside.
    hidden = fused_away(graph) | inner
    for t in graph.activations():
        reg = regions[t.name]
        if t.name not in hidden:
            slots[t.name] = TensorSlot(t.name, acts[reg.root].addr, t.shape, reg.blocked)

    def place(data: np.ndarray, what: str) -> int:
        return img.place(np.ascontiguousarray(data).view(np.uint8).reshape(-1), what)

    ctx = LowerCtx(cfg, graph, regions, acts, place)
    asm = Assembler(cfg)
    for plan in plans:
        name = plan.work.op.name
        if isinstance(plan.work.op, Reshape) or name in skip:
            continue
        steps = fused_steps(ctx, blocks[name]) if name in blocks else STEPS[plan.work.kind](ctx, plan.work, plan.tiling)
        for step in steps:
            asm.add(step)
    program = asm.program()
    chunks = [(enc.encode_stream(c.mem) + enc.encode_stream(c.cmp), len(c.mem), len(c.cmp)) for c in program.chunks]
    ins = tuple(slots[n] for n in graph.inputs)
    outs = tuple(slots[n] for n in graph.outputs)
    image = img.finish(chunks, list(ins), list(outs))
    fused = tuple((b, block_share(graph, cfg, regions, b)) for b in blocks.values())
    return Lowered(cfg, graph.name, tuple(plans), program, image, ins, outs, slots, packings, fused)
