"""What `dian compile --accel` adds to the output folder: the accelerator config,
one schedule per layer, the DRAM image with its layout, and the RTL (unless
compiled with ``--no-rtl``).

Files (names relative to the output folder; every one is in the manifest)::

    accel.json              the AccelConfig (hwgen.accel_config's JSON form)
    schedules/<layer>.json  the layer's Mapping, loop nest and prediction (ir.schedule.Schedule)
    schedules/<layer>.txt   the same loop nest as text, with predicted cycles, utilization, DRAM traffic
    program.bin             the DRAM image the accelerator runs from (hwgen/lower/dram_image.py)
    image.json              where everything is in program.bin, and how the host fills and reads it
    rtl/*.v                 Verilog of the accelerator (dian.hwgen.rtl.emit; not with --no-rtl)
    rtl/dian_accel.h, .c    register map, image layout and a bare-metal C driver (hwgen/tools/c_driver.py)

This module strings hwgen's stages together and formats their results; the
scheduling, lowering and emission themselves live in hwgen/.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dian.hwgen import timing
from dian.hwgen.accel_config import AccelConfig, config_hash, rtl_misfit
from dian.hwgen.image_format import HEADER_BYTES, IO_ENTRY_BYTES
from dian.hwgen.lower.dram_image import read_header
from dian.hwgen.lower.graph import Lowered, lower_graph
from dian.hwgen.lower.layout import act_bytes
from dian.hwgen.tools.c_driver import ImageTensor, c_driver, c_header

from . import outdir
from .errors import AccelConfigError, ScheduleError
from .ir import Graph, OpKind, op_macs
from .ir.schedule import Level, Prediction, Schedule
from .search.mapper import map_graph


def emit_rtl(cfg: AccelConfig, out_dir: Path) -> str:
    """Write ``cfg``'s Verilog into ``out_dir`` (dian.hwgen.rtl.emit); the top module's name.
    Imported here, not at the top, so that a compile with ``--no-rtl`` never loads Amaranth."""
    from dian.hwgen.rtl.emit import TOP_NAME, emit_verilog

    emit_verilog(cfg, out_dir)
    return TOP_NAME


C_FILES = (f"{outdir.RTL}/dian_accel.h", f"{outdir.RTL}/dian_accel.c")


def fused_schedules(graph: Graph, schedules: tuple[Schedule, ...], lowered: Lowered) -> tuple[Schedule, ...]:
    """The schedules with each fused block's prediction (docs/accelerator.md, "Fusion buffer"): the
    block's exact share on its depthwise layer, whose header names the block; its projection and
    add predict nothing of their own (their work is in the block's)."""
    by_layer = {s.layer: s for s in schedules}
    for block, share in lowered.fused:
        ops = [block.dw.op] + [w.op for w in block.members if w is not block.dw]
        macs = sum(op_macs(graph, op) for op in ops)
        cfg = lowered.cfg
        util = macs / max(1, share.cycles * cfg.pe_rows * cfg.pe_cols)
        t = block.tiling
        note = (
            f"\n  fused block {block.name} through FBUF{' from the expand' if block.expand else ''}: bands of "
            f"{t.rows} rows, depthwise groups of {t.ct}, "
            f"projection tiles of {t.kt} x {t.pct} blocks{', pipelined' if t.pipelined else ''}; the prediction "
            f"is the block's"
        )
        for i, op in enumerate(ops):
            s = by_layer[op.name]
            if i == 0:
                pred = Prediction(share.cycles, macs, util, share.dram_read, share.dram_write)
                by_layer[op.name] = dataclasses.replace(s, header=s.header + note, prediction=pred)
            else:
                pred = Prediction(0, op_macs(graph, op), 0.0, 0, 0)
                by_layer[op.name] = dataclasses.replace(
                    s, header=s.header + f"\n  runs inside fused block {block.name} (predicted there)", prediction=pred
                )
    return tuple(by_layer[s.layer] for s in schedules)


def c_files(cfg: AccelConfig, image: dict[str, Any]) -> dict[str, str]:
    """The C header and driver for ``cfg`` and the image described by ``image`` (image.json's dict)."""
    tensors = [
        ImageTensor(kind, t["name"], t["addr"], t["bytes"], tuple(t["shape"]), t.get("scale"))
        for kind, key in (("input", "inputs"), ("output", "outputs"))
        for t in image[key]
    ]
    return {C_FILES[0]: c_header(cfg, image["image_bytes"], tensors), C_FILES[1]: c_driver(cfg)}


@dataclass(frozen=True)
class AccelBuild:
    """The accelerator part of a compile: files to write and what the summary shows."""

    cfg: AccelConfig
    lowered: Lowered
    schedules: tuple[Schedule, ...]
    files: dict[str, str | bytes]
    manifest: dict[str, Any]
    summary: str


def schedule_file_names(names: list[str]) -> dict[str, str]:
    """A file stem per layer name: safe characters only, unique."""
    stems: dict[str, str] = {}
    used: set[str] = set()
    for name in names:
        stem = re.sub(r"[^A-Za-z0-9_.-]", "_", name).lstrip(".") or "layer"
        base, i = stem, 2
        while stem.lower() in used:
            stem, i = f"{base}_{i}", i + 1
        used.add(stem.lower())
        stems[name] = stem
    return stems


def build(graph: Graph, cfg: AccelConfig, spec: str, rtl: bool = True, objective: str = "latency") -> AccelBuild:
    """Schedule and lower ``graph`` for ``cfg``; with ``rtl``, also emit the RTL.

    Raises IRValidationError when a layer could overflow ``cfg.acc_bits``
    (lower_graph's check), ScheduleError when a layer cannot be mapped onto ``cfg``.
    """
    why = rtl_misfit(cfg) if rtl else ""
    if why:  # before any mapping: the RTL is part of what was asked for
        raise AccelConfigError(f"{why} (`dian compile --no-rtl` skips the RTL)")
    if all(op.kind is OpKind.RESHAPE for op in graph.ops) or set(graph.inputs) & set(graph.outputs):
        what = (
            "returns its input as an output"
            if set(graph.inputs) & set(graph.outputs)
            else "has no layer but reshapes (identities and dropout vanish), so the accelerator would compute nothing"
        )
        raise ScheduleError(
            f"graph '{graph.name}' {what}; dian compiles for an accelerator the outputs that at least one layer "
            f"computes. Compile without --accel for the reference simulator alone."
        )
    for t in graph.activations():  # DRAM holds channel-blocked [N, C, H, W]; [N, F] and [N, C, L] as H = 1
        if len(t.shape) not in (2, 3, 4):
            raise ScheduleError(
                f"tensor '{t.name}' of graph '{graph.name}' is {list(t.shape)} (rank {len(t.shape)}); the accelerator "
                f"holds [N, C, H, W], [N, C, L] and [N, F] activations only. Reshape to one of those, or compile "
                f"without --accel for the reference simulator alone."
            )
    plans = map_graph(graph, cfg, objective)  # type: ignore[arg-type]
    lowered = lower_graph(graph, cfg, plans)
    schedules = fused_schedules(graph, tuple(p.schedule for p in plans), lowered)
    stems = schedule_file_names([s.layer for s in schedules])
    accel_text = cfg.to_json()
    image = image_doc(graph, lowered)
    files: dict[str, str | bytes] = {
        outdir.ACCEL: accel_text,
        outdir.PROGRAM: lowered.image,
        outdir.IMAGE: json.dumps(image, sort_keys=True, indent=1) + "\n",
    }
    for s in schedules:
        files[f"{outdir.SCHEDULES}/{stems[s.layer]}.json"] = s.to_json()
        files[f"{outdir.SCHEDULES}/{stems[s.layer]}.txt"] = s.format() + "\n"
    top: str | None = None
    rtl_files: list[str] = []
    if rtl:
        with tempfile.TemporaryDirectory(prefix="dian-rtl-") as tmp:
            top = emit_rtl(cfg, Path(tmp))
            for f in sorted(Path(tmp).rglob("*")):
                if f.is_file():
                    rel = f"{outdir.RTL}/{f.relative_to(tmp).as_posix()}"
                    files[rel] = f.read_bytes()
                    rtl_files.append(rel)
        files.update(c_files(cfg, image))
    manifest = {
        "spec": spec,
        "name": cfg.name,
        "config_sha256": hashlib.sha256(accel_text.encode()).hexdigest(),
        "image_config_hash": config_hash(cfg).hex(),
        "layers": [{"layer": s.layer, "schedule": f"{outdir.SCHEDULES}/{stems[s.layer]}"} for s in schedules],
        "mapping": {
            "mapper": "search/mapper.py (exact cost model)",
            "objective": objective,
            "boot_and_done_cycles": fixed_cycles(cfg),
            "boot_bytes": timing.boot_bytes(cfg),
        },
        "rtl": {"top": top, "files": rtl_files, "c_driver": sorted(C_FILES)} if rtl else None,
    }
    summary = accel_summary(graph, cfg, lowered, schedules, rtl)
    return AccelBuild(cfg, lowered, schedules, files, manifest, summary)


def image_doc(graph: Graph, lowered: Lowered) -> dict[str, Any]:
    """image.json: the layout of program.bin (its regions, every activation slot, the host's part)."""
    cfg, L = lowered.cfg, lowered.cfg.lanes
    header = read_header(lowered.image, cfg)
    producers = {op.output: op.name for op in graph.ops}

    def slot(name: str) -> dict[str, Any]:
        s = lowered.slots[name]
        t = graph.tensors[name]
        doc: dict[str, Any] = {
            "name": name,
            "addr": s.addr,
            "bytes": act_bytes(s.blocked, L),
            "shape": list(t.shape),
            "blocked": list(s.blocked),
            "producer": producers.get(name),
        }
        if name in lowered.packings:  # the host writes it with the first conv's kernel columns as channels
            doc["packing"] = lowered.packings[name].to_json()
        if t.quant is not None:
            doc["scale"] = t.quant.scale[0]
        return doc

    tensors = [slot(t.name) for t in graph.activations() if t.name in lowered.slots]
    act_lo = min(s["addr"] for s in tensors)
    act_hi = max(s["addr"] + s["bytes"] for s in tensors)
    code_lo = min(c.addr for c in header.chunks)
    table = int.from_bytes(lowered.image[32:36], "little")
    io_bytes = HEADER_BYTES + IO_ENTRY_BYTES * (len(header.inputs) + len(header.outputs))
    regions = [
        {
            "name": "header",
            "addr": 0,
            "bytes": io_bytes,
            "holds": "magic, version, config hash, size, chunk table address, input/output table "
            "(hwgen/lower/dram_image.py)",
        },
        {
            "name": "activations",
            "addr": act_lo,
            "bytes": act_hi - act_lo,
            "holds": "one slot per activation tensor (see 'tensors'); a reshape shares its input's slot, a layer "
            "whose results pass a fused lookup table has none (it writes the pointwise op's)",
        },
        {
            "name": "weights and parameters",
            "addr": act_hi,
            "bytes": code_lo - act_hi,
            "holds": "per layer, in the order the program first loads them: weight tiles, then bias/multiplier/shift",
        },
        {
            "name": "program",
            "addr": code_lo,
            "bytes": table - code_lo,
            "holds": "the chunks: per chunk the MEM stream then the CMP stream, 32-byte instructions",
        },
        {
            "name": "chunk table",
            "addr": table,
            "bytes": len(lowered.image) - table,
            "holds": "per chunk: address, MEM instructions, CMP instructions (3 x uint32)",
        },
    ]
    doc = {
        "format": outdir.IMAGE_FORMAT,
        "format_version": outdir.IMAGE_FORMAT_VERSION,
        "accel": cfg.name,
        "config_hash": config_hash(cfg).hex(),
        "image_bytes": len(lowered.image),
        "lanes": L,
        "layout": f"an activation [N, C, H, W] (or [N, F] as [N, F, 1, 1]) is int8 [N][ceil(C/{L})][H][W][{L}], "
        f"channel-blocked, lanes past C zero (docs/accelerator.md, 'DRAM layout')",
        "host": {
            "input": "q = clip(round_half_even(x / scale), -128, 127) as int8, packed into the input's slot "
            "(an input with 'packing' first gets its conv's kernel columns folded into channels: "
            "hwgen/lower/input_packing.py, docs/accelerator.md 'Shallow input layers')",
            "output": "unpack the output's slot, then y = q * scale as float32",
        },
        "regions": regions,
        "inputs": [slot(s.name) for s in lowered.inputs],
        "outputs": [slot(s.name) for s in lowered.outputs],
        "tensors": tensors,
        "chunks": [{"addr": c.addr, "mem": c.n_mem, "cmp": c.n_cmp} for c in header.chunks],
    }
    return doc


def _tiles(s: Schedule) -> int:
    n = 1
    for lp in s.loops:
        if lp.level is Level.DRAM:
            n *= lp.extent
    return n


def fixed_cycles(cfg: AccelConfig) -> int:
    """Cycles of a run that belong to no layer: the controller's boot and done."""
    return timing.boot_cycles(cfg) + timing.done_cycles(cfg)


def layer_table(cfg: AccelConfig, schedules: tuple[Schedule, ...], macs: int) -> list[str]:
    """The per-layer table of predicted figures, with a boot-and-done line and a totals line.

    A fused block's prediction sits on its depthwise layer, whose utilization counts the block's
    MACs; its other layers show 0 cycles and "fused". So the total's MACs are ``macs``, the graph's,
    not the rows' sum (which would count a block's MACs twice)."""
    rows = [("layer", "kind", "dataflow", "tiles", "tile", "pred. cycles", "util.", "DRAM KiB")]
    fixed = fixed_cycles(cfg)
    total_cycles, total_bytes = fixed, timing.boot_bytes(cfg)
    for s in schedules:
        p = s.prediction
        assert p is not None
        tile = " ".join(f"{d.value}{n}" for d, n in s.mapping.tiles if d.value != "n")
        traffic = p.dram_bytes_read + p.dram_bytes_written
        rows.append(
            (
                s.layer,
                s.op_kind,
                s.mapping.dataflow,
                f"{_tiles(s):,}",
                tile,
                f"{p.cycles:,}",
                ("fused" if not p.cycles else f"{100 * p.utilization:.1f}%") if p.macs else "-",
                f"{traffic / 1024:,.1f}",
            )
        )
        total_cycles, total_bytes = total_cycles + p.cycles, total_bytes + traffic
    rows.append(("(boot, done)", "", "", "", "", f"{fixed:,}", "", f"{timing.boot_bytes(cfg) / 1024:,.1f}"))
    util = macs / max(1, total_cycles * cfg.pe_rows * cfg.pe_cols)
    rows.append(("total", "", "", "", "", f"{total_cycles:,}", f"{100 * util:.1f}%", f"{total_bytes / 1024:,.1f}"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    right = {3, 5, 6, 7}
    out = []
    for j, r in enumerate(rows):
        cells = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))]
        out.append("  ".join(cells).rstrip())
        if j == 0 or j == len(rows) - 2:
            out.append("  ".join("-" * w for w in widths))
    return out


def accel_summary(graph: Graph, cfg: AccelConfig, lowered: Lowered, schedules: tuple[Schedule, ...], rtl: bool) -> str:
    total = fixed_cycles(cfg) + sum(s.prediction.cycles for s in schedules if s.prediction is not None)
    macs = sum(op_macs(graph, op) for op in graph.ops)
    b = {n: getattr(cfg, n) for n in ("ibuf", "wbuf", "abuf", "obuf")}
    lines = [
        f"accelerator {cfg.name}: {cfg.pe_rows}x{cfg.pe_cols} PEs ({', '.join(d.value for d in cfg.dataflows)}), "
        + ", ".join(
            f"{n.upper()} {v.bytes // 1024 if v.bytes >= 1024 else v.bytes}{' KiB' if v.bytes >= 1024 else ' B'}"
            for n, v in b.items()
        )
        + f", DRAM bus {cfg.dram_bus_bits} bits latency {cfg.dram_latency}, "
        f"{cfg.target.value} at {cfg.clock_mhz:g} MHz",
        "",
        *layer_table(cfg, schedules, macs),
        "",
        f"predicted {total:,} cycles for {macs:,} MACs = {total / cfg.clock_mhz:,.1f} us at {cfg.clock_mhz:g} MHz "
        f"(exact: the layers' cycles plus {fixed_cycles(cfg)} of boot and done; `dian simulate` measures it)",
        f"program.bin {len(lowered.image):,} bytes: {len(lowered.program.chunks)} program chunk(s), "
        f"{lowered.program.n_instructions:,} instructions; loop nests in schedules/<layer>.txt",
        "RTL: "
        + (
            "rtl/*.v (`dian simulate DIR --rtl` co-simulates it, `dian synth DIR` synthesizes it)"
            if rtl
            else "not written (compiled with --no-rtl)"
        ),
        "Simulate it with",
        "  dian simulate DIR --input X.npy [--output Y.npy]",
    ]
    return "\n".join(lines) + "\n"
