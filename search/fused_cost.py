"""The cost model's price of fused blocks (docs/accelerator.md, "Fusion buffer"): a depthwise conv,
its 1x1 projection and the optional residual add that the lowering runs as one work through FBUF.

The replay (replay.py) has no closed form for fused steps yet, so a block is priced as the lowering
chooses and times it: the blocks that fuse are hwgen/lower/fused_choice.py's (the same function the
lowering calls, on the same plans, so the cost model fuses exactly the blocks the program fuses),
and each block's program, assembled in a scratch DRAM layout, is timed without data by
hwgen/lower/program_timing.py, the timing contract that sim/machine implements and tests/search
check against it. The counters are those of :class:`LayerCost` for the block compiled alone (boot
and done included), so :func:`cost_model.network_cost` sums them like any layer's.

Energy (search/energy.py) is charged on the same access counts as the replay's steps: busy-PE
cycles and DRAM bytes exactly, and the on-chip bytes each instruction reads or writes by the
replay's per-buffer rules (steps_gemm.py, steps_blocked.py), with FBUF as one more buffer
(``"fbuf"``: the depthwise output written, the projection's operand read, the tile before the add
written and read). Its cost is seconds for a network: it builds and times every candidate tiling's
program, as the lowering does.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from dian.hwgen import timing
from dian.hwgen.accel_config import AccelConfig
from dian.hwgen.isa import AddI, Dw, Gemm, Instr, LoadAct, LoadLut, LoadPrm, LoadWgt, StoreAct, dw_keep
from dian.hwgen.lower.fused_choice import fused_blocks, scratch_ctx
from dian.hwgen.lower.fused_steps import fused_steps
from dian.hwgen.lower.fusion import FusedBlock, TilingChooser
from dian.hwgen.lower.gathers import accelerator_form
from dian.hwgen.lower.program import Assembler, Program
from dian.hwgen.lower.program_timing import work_share
from dian.hwgen.lower.scheduler import LayerPlan
from dian.hwgen.lower.workload import tensor_regions
from dian.ir import Graph
from dian.ir.schedule import Prediction

from .replay import LayerCost

#: The on-chip buffers a fused program touches, for the energy model (FBUF added to the replay's).
SRAM_BUFFERS = ("ibuf", "wbuf", "abuf", "pbuf", "obuf", "lbuf", "fbuf")


def fused_costs(
    packed: Graph, cfg: AccelConfig, plans: list[LayerPlan], tiling: TilingChooser | None = None
) -> dict[str, tuple[FusedBlock, LayerCost]]:
    """The blocks of ``plans`` that run fused on ``cfg`` (none without an FBUF), by the name of their
    depthwise op, each with its counters compiled alone. ``packed``: the graph in accelerator form
    (hwgen/lower/gathers.py), as the plans are; ``tiling``: as for hwgen/lower/graph.py's
    ``lower_graph`` (tests pick the fused tilings; None: the lowering's timed choice)."""
    if not cfg.fbuf.bytes:
        return {}
    regions = tensor_regions(packed)
    out = {}
    for name, block in fused_blocks(packed, cfg, plans, regions, tiling).items():
        asm = Assembler(cfg)
        for s in fused_steps(scratch_ctx(packed, cfg, regions), block):
            asm.add(s)
        out[name] = (block, program_cost(asm.program(), cfg))
    return out


def program_cost(program: Program, cfg: AccelConfig) -> LayerCost:
    """The counters of ``program`` (one work's chunks) run alone, as a one-entry :class:`LayerCost`."""
    share = work_share(program, cfg)
    fixed = timing.boot_cycles(cfg) + timing.done_cycles(cfg)
    fetch = sum(timing.chunk_fetch_cycles(cfg, len(c)) for c in program.chunks)
    instrs = [ins for c in program.chunks for ins in (*c.mem, *c.cmp)]
    sram = dict.fromkeys(SRAM_BUFFERS, 0)
    for ins in instrs:
        for buf, n in sram_bytes(ins, cfg).items():
            sram[buf] += n

    def one(v: int) -> np.ndarray:
        return np.array([v], np.int64)

    return LayerCost(
        cycles=one(share.cycles + fixed),
        dram_read=one(share.dram_read + timing.boot_bytes(cfg)),
        dram_write=one(share.dram_write),
        busy_pe=one(sum(timing.busy_pe(ins, cfg) for ins in instrs)),
        instructions=one(program.n_instructions),
        chunks=one(len(program.chunks)),
        compute_cycles=one(share.cycles - fetch),
        fetch_cycles=one(fetch),
        sram_bytes={b: one(n) for b, n in sram.items()},
        replayed_steps=one(0),
    )


def sram_bytes(ins: Instr, cfg: AccelConfig) -> dict[str, int]:
    """On-chip bytes ``ins`` reads or writes, per buffer, by the replay's rules: a load writes its
    whole box (padding included); a GEMM reads an operand word a pixel per weight block, the block's
    weights once, read-modify-writes an ABUF word a pixel per block and, requantizing, reads its
    parameters and writes a word a pixel; a DW reads its window columns' rows, its weights, and
    likewise; an ADD reads two words and writes one a pixel; a store reads its box from OBUF."""
    L, acc = cfg.lanes, cfg.acc_word_bytes
    if isinstance(ins, LoadAct):
        return {"ibuf": ins.n_c * ins.n_y * ins.n_x * L}
    if isinstance(ins, LoadWgt):
        return {"wbuf": ins.n_words * L}
    if isinstance(ins, LoadPrm):
        return {"pbuf": ins.n_entries * cfg.pbuf_entry_bytes}
    if isinstance(ins, LoadLut):
        return {"lbuf": ins.n_tables * timing.LUT_WORDS * L}
    if isinstance(ins, StoreAct):
        return {"obuf": ins.n_c * ins.n_y * ins.n_x * L}
    if isinstance(ins, Gemm):
        nb, pix = ins.n_c * ins.n_fy * ins.n_fx, ins.n_oy * ins.n_ox
        out = {"fbuf" if ins.sfb else "ibuf": nb * pix * L, "wbuf": nb * L * L, "abuf": nb * pix * 2 * acc}
        return _requant(out, ins.rq, ins.ofb, pix, cfg)
    if isinstance(ins, Dw):
        pix = ins.n_oy * ins.n_ox
        columns = timing.dw_columns(ins.n_oy, ins.n_ox, ins.n_gx, dw_keep(ins.n_gx, ins.s_fx, ins.s_ox))
        out = {"fbuf" if ins.sfb else "ibuf": ins.n_gy * int(columns) * L, "wbuf": L * L, "abuf": pix * 2 * acc}
        return _requant(out, ins.rq, ins.ofb, pix, cfg)
    if isinstance(ins, AddI):
        out = {"ibuf": ins.n * L, "obuf": ins.n * L}
        b = "fbuf" if ins.bfb else "ibuf"
        out[b] = out.get(b, 0) + ins.n * L
        return out
    return {}


def _requant(out: dict[str, int], rq: int, ofb: int, pix: int, cfg: AccelConfig) -> dict[str, int]:
    """``out`` with a requantizing instruction's parameter read and output writes."""
    if rq:
        out["pbuf"] = cfg.pbuf_entry_bytes
        out["fbuf" if ofb else "obuf"] = out.get("fbuf" if ofb else "obuf", 0) + pix * cfg.lanes
    return out


def with_fused_shares(graph: Graph, cfg: AccelConfig, plans: list[LayerPlan]) -> list[LayerPlan]:
    """``plans`` with the predictions of the blocks that run fused on ``cfg`` (none without an FBUF):
    a block's exact share on its depthwise layer, nothing on its projection and add (their work is in
    the block's), as ``dian compile``'s schedules show them; the tilings are unchanged, so the
    lowering fuses the same blocks, and the predictions sum to the network's cycles."""
    if not cfg.fbuf.bytes:
        return plans
    packed, _ = accelerator_form(graph, cfg)
    blocks = fused_costs(packed, cfg, plans)
    boot, done, boot_bytes = timing.boot_cycles(cfg), timing.done_cycles(cfg), timing.boot_bytes(cfg)
    shares = {
        name: (int(c.cycles[0]) - boot - done, int(c.dram_read[0]) - boot_bytes, int(c.dram_write[0]))
        for name, (_, c) in blocks.items()
    }
    for b, _ in blocks.values():
        shares.update({w.op.name: (0, 0, 0) for w in b.members if w is not b.dw})
    out = []
    for p in plans:
        share = shares.get(p.work.op.name)
        if share is not None:
            cycles, read, write = share
            pred = p.schedule.prediction
            assert pred is not None
            util = pred.macs / max(1, cycles * cfg.pe_rows * cfg.pe_cols) if cycles else 0.0
            p = dataclasses.replace(
                p,
                tiling=dataclasses.replace(p.tiling, cycles=cycles, dram_read=read, dram_write=write),
                schedule=dataclasses.replace(p.schedule, prediction=Prediction(cycles, pred.macs, util, read, write)),
            )
        out.append(p)
    return out
