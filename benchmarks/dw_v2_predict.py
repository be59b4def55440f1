"""Depthwise v2, predicted from its formulas (docs/accelerator.md, "Depthwise v2"): MobileNetV2's
17 depthwise layers (224x224 input) on the presets, the CMP side from hwgen/timing.py's DW
formula and the tap groups of hwgen/lower/layout.py, the DRAM side from the words every layer
must move at least once (its input, its output, its weights and parameters) over the MEM engine's
one bus beat a cycle.

An idealized lower bound, not a schedule: one output tile per channel block (no halo rows read
twice, no per-tile load latency), every DW instruction and the requantization drain of the last
one counted, the MEM engine's loads and stores back to back. The exact figures, tiles and all,
are the cost model's (benchmarks/bench_accelerator.py).

    .venv/bin/python benchmarks/dw_v2_predict.py [--presets default,small,tiny]
"""

from __future__ import annotations

import argparse

from dian.hwgen import timing
from dian.hwgen.isa import dw_keep
from dian.hwgen.lower.layout import dw_groups, dw_pitch
from dian.hwgen.presets import PRESETS

#: (channels, input height = width, stride) of MobileNetV2's depthwise 3x3 convs at 224x224.
MOBILENETV2_DW = [
    (32, 112, 1),
    (96, 112, 2),
    (144, 56, 1),
    (144, 56, 2),
    (192, 28, 1),
    (192, 28, 1),
    (192, 28, 2),
    *[(384, 14, 1)] * 4,
    *[(576, 14, 1)] * 2,
    (576, 14, 2),
    *[(960, 7, 1)] * 3,
]


def layer(cfg, c: int, h: int, s: int, f: int = 3) -> dict[str, float]:
    """Cycles of one depthwise f x f layer (padding f // 2) by the formulas: CMP and MEM sides."""
    L, banks = cfg.lanes, cfg.ibuf_banks
    o = (h + 2 * (f // 2) - f) // s + 1
    cb = -(-c // L)
    groups = dw_groups(f, f, 1, L, banks)
    nx = (o - 1) * s + f
    pitch = dw_pitch(nx, f, f, 1, L, banks)
    ny = nx
    per_block = timing.RQ_DRAIN + (len(groups) - 1) * timing.ISSUE_GAP
    for _fy0, gy, _fx0, gx in groups:
        keep = dw_keep(gx, 1, s)
        per_block += timing.dw_cycles(cfg, gy * gx, timing.dw_columns(o, o, gx, keep))
    cmp = cb * (per_block + timing.ISSUE_GAP)
    words_in, words_out = cb * ny * pitch, cb * o * o
    words_w = cb * len(groups) * L + cb * cfg.pbuf_entry_bytes // cfg.word_bytes
    mem = timing.beats(cfg) * (words_in + words_out + words_w)
    macs = c * o * o * f * f
    return {"macs": macs, "cmp": cmp, "mem": mem, "groups": len(groups), "o": o}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", default="default,small,tiny")
    args = ap.parse_args()
    for name in args.presets.split(","):
        cfg = PRESETS[name]
        pes = cfg.lanes * cfg.lanes
        print(f"\n{name}: {cfg.lanes}x{cfg.lanes} PEs, {cfg.ibuf_banks} IBUF banks, bus {cfg.dram_bus_bits} bits\n")
        print("| layer | groups | CMP cycles | util. (CMP) | MEM cycles (bound) | util. (max of both) |")
        print("|---|---:|---:|---:|---:|---:|")
        tot = {"macs": 0.0, "cmp": 0.0, "mem": 0.0, "both": 0.0}
        for c, h, s in MOBILENETV2_DW:
            r = layer(cfg, c, h, s)
            both = max(r["cmp"], r["mem"])
            for k, v in (("macs", r["macs"]), ("cmp", r["cmp"]), ("mem", r["mem"]), ("both", both)):
                tot[k] += v
            print(
                f"| {c}x{h}x{h} s{s} | {r['groups']} | {r['cmp']:,} | {r['macs'] / (r['cmp'] * pes):.1%} | "
                f"{r['mem']:,} | {r['macs'] / (both * pes):.1%} |"
            )
        print(
            f"| **all 17** | | {tot['cmp']:,.0f} | {tot['macs'] / (tot['cmp'] * pes):.1%} | {tot['mem']:,.0f} | "
            f"{tot['macs'] / (tot['both'] * pes):.1%} |"
        )


if __name__ == "__main__":
    main()
