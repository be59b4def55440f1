"""Hand-built DRAM images for the accelerator top level, and runners that
put them through sim/machine, amaranth.sim and Verilator."""

from __future__ import annotations

import dataclasses

import numpy as np
from amaranth.sim import Simulator
from axi_memory import AxiMemory, MemoryStats

from dian.hwgen.accel_config import AccelConfig
from dian.hwgen.encoding import Encoding
from dian.hwgen.isa import End, Instr
from dian.hwgen.lower.dram_image import ImageBuilder
from dian.sim.machine import Machine


def build_image(cfg: AccelConfig, regions: dict[str, bytes], chunks) -> tuple[bytes, dict[str, int]]:
    """``regions`` are placed first (their addresses returned); ``chunks`` is a
    callable ``addrs -> [(mem instrs, cmp instrs), ...]`` (ENDs appended unless present)."""
    enc = Encoding(cfg)
    img = ImageBuilder(cfg, 0, 0)
    addrs = {name: img.place(data, name) for name, data in regions.items()}
    coded = []
    for mem, cmp in chunks(addrs):
        mem = list(mem) if mem and isinstance(mem[-1], End) else [*mem, End()]
        cmp = list(cmp) if cmp and isinstance(cmp[-1], End) else [*cmp, End()]
        coded.append((enc.encode_stream(mem) + enc.encode_stream(cmp), len(mem), len(cmp)))
    return img.finish(coded, [], []), addrs


def run_machine(cfg: AccelConfig, image: bytes) -> tuple[bytes, dict[str, int]]:
    dram = np.frombuffer(image, dtype=np.uint8).copy()
    c = Machine(cfg, dram).run()
    return dram.tobytes(), {
        "cycles": c.cycles,
        "perf_cycles": c.cycles,
        "perf_busy_pe_cycles": c.busy_pe_cycles,
        "perf_dram_bytes_read": c.dram_bytes_read,
        "perf_dram_bytes_written": c.dram_bytes_written,
    }


def run_amaranth(
    dut,
    cfg: AccelConfig,
    image: bytes,
    max_cycles: int = 5000,
    *,
    memory: str = "ideal",
    seed: int = 0,
    base: int = 0,
    runs: int = 1,
    after_error: int = 0,
    stats_out: list[MemoryStats] | None = None,
    **memory_options,
) -> tuple[bytes, dict[str, int]]:
    """Run ``image`` on ``dut`` (an :class:`~dian.hwgen.rtl.core.AcceleratorCore`) in amaranth.sim
    against tests/hwgen/axi_memory.py's memory (``memory`` ``ideal`` or ``random`` with ``seed``),
    the image placed at ``base``; ``runs`` starts in a row (each after the previous ``done``). The
    DRAM from ``base`` on after the last run, and its counters (``cycles`` is the start-to-done
    edge count the harness measures; ``error_code`` when not 0, with ``done_after``/``busy_after``
    ``after_error`` cycles later). ``memory_options`` go to :class:`AxiMemory`; its statistics
    are appended to ``stats_out``."""
    dram = bytearray(base) + bytearray(image)
    mem = AxiMemory(dram, cfg.bus_bytes, cfg.dram_latency, memory, seed, **memory_options)
    result: dict[str, int] = {}

    async def bench(ctx) -> None:
        ctx.set(dut.base, base)
        clock = Clock()
        for _ in range(runs):
            t = await run_once(ctx, dut, mem, clock, max_cycles)
            result.update({n: ctx.get(getattr(dut, c)) for n, c in _COUNTER_PORTS.items()}, cycles=t)
            assert mem.quiet, "done rose with bus transactions still in flight"
            code = ctx.get(dut.error_code)
            if code:
                result["error_code"] = code
                for _ in range(after_error):
                    await clock.tick(ctx)
                    mem.step(ctx, dut, clock.cycle)
                result.update(done_after=ctx.get(dut.done), busy_after=ctx.get(dut.busy))
                return
            await clock.tick(ctx)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    if stats_out is not None:
        stats_out.append(mem.stats)
    return bytes(dram[base:]), result


class Clock:
    """The testbench's cycle count, kept beside amaranth.sim's ticks (the memory model wants it)."""

    def __init__(self) -> None:
        self.cycle = 0

    async def tick(self, ctx) -> None:
        await ctx.tick()
        self.cycle += 1


async def run_once(ctx, dut, mem: AxiMemory, clock: Clock, max_cycles: int, on_cycle=None) -> int:
    """One run of an AcceleratorCore: ``start`` in the first cycle, the memory stepped every cycle,
    until ``done`` (the cycle is left open: its handshakes are made, its edge is not). The cycle
    count from ``start`` to ``done``. ``on_cycle(t)`` may drive other inputs first."""
    for t in range(max_cycles + 1):
        ctx.set(dut.start, t == 0)
        if on_cycle is not None:
            on_cycle(t)
        mem.step(ctx, dut, clock.cycle)
        if t > 0 and ctx.get(dut.done):
            return t
        await clock.tick(ctx)
    raise AssertionError(f"done did not rise within {max_cycles} cycles")


_COUNTER_PORTS = {
    "perf_cycles": "cycles",
    "perf_busy_pe_cycles": "busy_pe",
    "perf_dram_bytes_read": "bytes_read",
    "perf_dram_bytes_written": "bytes_written",
}


def mem_only_program(cfg: AccelConfig):
    """Loads of every kind (with padding) and a store, tokens through a CMP END; two chunks."""
    from dian.hwgen.isa import LoadAct, LoadPrm, LoadWgt, StoreAct, Token

    L = cfg.lanes
    rng = np.random.default_rng(1)
    regions = {
        "act": rng.integers(0, 256, 2 * 3 * 5 * L, dtype=np.uint8).tobytes(),
        "wgt": rng.integers(0, 256, 8 * L, dtype=np.uint8).tobytes(),
        "prm": rng.integers(0, 256, 2 * cfg.pbuf_entry_bytes, dtype=np.uint8).tobytes(),
        "out": bytes(2 * 4 * 6 * L),
    }

    def chunks(a: dict[str, int]):
        c0_mem = [
            LoadAct(a["act"], 3, 2, 4, 7, 1, 0, 1, 1, 15 * L, 5 * L, -128),
            LoadWgt(a["wgt"], 1, 8),
            LoadPrm(a["prm"], 2, 2, signal=Token.LD_CMP),
            StoreAct(a["out"] + L, 5, 2, 3, 4, 24 * L, 6 * L, wait=Token.CMP_ST),
        ]
        c0_cmp = [End(wait=Token.LD_CMP, signal=Token.CMP_ST)]
        c1_mem = [StoreAct(a["out"], 0, 1, 1, 3, 0, 0)]
        return [(c0_mem, c0_cmp), (c1_mem, [])]

    return regions, chunks


def copy_program(cfg: AccelConfig):
    """Loads made visible: COPY of a padded IBUF box, and of a few words with another
    multiplier and clamp, then stores."""
    from dian.hwgen.isa import Copy, LoadAct, LoadPrm, StoreAct, Token

    L = cfg.lanes
    rng = np.random.default_rng(2)
    bias = rng.integers(-3000, 3000, (2, L)).astype("<i4")
    mult = rng.integers(1 << 28, 1 << 30, (2, L)).astype("<i4")
    shift = rng.integers(20, 36, (2, L)).astype(np.int8)
    prm = b"".join(bias[k].tobytes() + mult[k].tobytes() + shift[k].tobytes() for k in range(2))
    regions = {"act": rng.integers(0, 256, 3 * 5 * L, dtype=np.uint8).tobytes(), "prm": prm, "out": bytes(40 * L)}

    def chunks(a: dict[str, int]):
        mem = [
            LoadAct(a["act"], 0, 1, 4, 7, 1, 0, 1, 1, 0, 5 * L, -128),
            LoadPrm(a["prm"], 3, 2, signal=Token.LD_CMP),
            StoreAct(a["out"], 0, 1, 4, 7, 0, 7 * L, wait=Token.CMP_ST),
            StoreAct(a["out"] + 28 * L, 28, 2, 1, 3, 3 * L, 0, wait=Token.CMP_ST),
        ]
        cmp = [
            Copy(0, 0, 28, 1 << 30, 31, -100, 90, wait=Token.LD_CMP, signal=Token.CMP_ST),
            Copy(5, 28, 6, 3 << 29, 30, -128, 100, signal=Token.CMP_ST),
        ]
        return [(mem, cmp)]

    return regions, chunks


def _gemm_regions(cfg: AccelConfig, seed: int, out_words: int) -> dict[str, bytes]:
    """An input box of 2 channel blocks x 7 rows x 8 words, 24 weight blocks, 2 PBUF entries
    (random), and ``out_words`` words of output."""
    L = cfg.lanes
    rng = np.random.default_rng(seed)
    bias = rng.integers(-3000, 3000, (2, L)).astype("<i4")
    mult = rng.integers(1 << 29, 1 << 30, (2, L)).astype("<i4")
    shift = rng.integers(36, 40, (2, L)).astype(np.int8)
    prm = b"".join(bias[k].tobytes() + mult[k].tobytes() + shift[k].tobytes() for k in range(2))
    return {
        "act": rng.integers(0, 256, 2 * 7 * 8 * L, dtype=np.uint8).tobytes(),
        "wgt": rng.integers(0, 256, 24 * L * L, dtype=np.uint8).tobytes(),
        "prm": prm,
        "out": bytes(out_words * L),
    }


def _gemm_loads_and_store(cfg: AccelConfig, a: dict[str, int], out_words: int) -> list[Instr]:
    """The MEM stream for :func:`_gemm_regions`: load everything, then store OBUF 0.. to ``out``."""
    from dian.hwgen.isa import LoadAct, LoadPrm, LoadWgt, StoreAct, Token

    L = cfg.lanes
    return [
        LoadAct(a["act"], 0, 2, 7, 8, 0, 0, 0, 0, 7 * 8 * L, 8 * L),
        LoadWgt(a["wgt"], 0, 24 * L),
        LoadPrm(a["prm"], 0, 2, signal=Token.LD_CMP),
        StoreAct(a["out"], 0, 1, 1, out_words, 0, 0, wait=Token.CMP_ST),
    ]


def gemm_program(cfg: AccelConfig):
    """GEMMs of every addressing shape on one input box (2 channel blocks x 7
    rows x 8 words in IBUF): a 3x3 stride-2 conv over both channel blocks (18
    weight blocks), a dilated one, an accumulation onto the first (reset
    clear), short pixel streams (1 and 2 pixels, P < L) over several blocks,
    a single pixel of a single block; the last instruction to write each ABUF
    word requantizes it into OBUF (PBUF entries 0 and 1, several clamps); then a
    store of the 17 OBUF words."""
    from dian.hwgen.isa import Gemm, Token

    L = cfg.lanes
    regions = _gemm_regions(cfg, 3, 17)

    def chunks(a: dict[str, int]):
        mem = _gemm_loads_and_store(cfg, a, 17)
        cmp = [
            Gemm(0, 0, 0, 1, 2, 3, 3, 3, 3, 56, 8, 1, 16, 2, 3, 1, wait=Token.LD_CMP),  # 3x3 stride 2
            Gemm(4 * L, 1, 9, 1, 1, 2, 3, 2, 2, 0, 16, 2, 8, 1, 2, 1, 1, 9, 0, -128, 127),  # dilation 2
            Gemm(20 * L, 60, 0, 0, 1, 1, 1, 3, 3, 0, 0, 0, 8, 1, 3, 1, 1, 0, 1, -100, 100),  # accumulate
            Gemm(L, 5, 13, 1, 1, 1, 5, 1, 1, 0, 0, 3, 0, 0, 0, 0, 1, 13, 0, 0, 127),  # P = 1, 5 blocks
            Gemm(7 * L, 9, 14, 1, 3, 1, 1, 1, 2, 50, 0, 0, 0, 7, 0, 1),  # P = 2, 3 blocks
            Gemm(2 * L, 70, 14, 0, 1, 1, 2, 1, 2, 0, 0, 1, 0, 9, 0, 1, 1, 14, 1, -128, 127),  # P = 2, accumulate
            Gemm(23 * L, 111, 16, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 16, 0, -20, 20),  # P = 1, 1 block
        ]
        cmp[-1] = cmp[-1].with_tokens(signal=Token.CMP_ST)
        return [(mem, cmp)]

    return regions, chunks


def dw_program(cfg: AccelConfig):
    """DW instructions (docs/accelerator.md, "Depthwise v2") on a zero-padded box (2 channel
    blocks x 7 x 9 words in IBUF: an odd row pitch, so kernel rows sit in distinct banks): a 3x3
    stride-1 conv in the tap groups of hwgen/lower/layout.py (reset, then accumulate), a 3x3
    stride-2 dilation-2 one (a column kept from pixel to pixel), a single pixel of a single tap, a
    3x1 kernel whose group reads several kernel rows at once (one bank each), and a 2x2 group
    (rows and a kept column); the last instruction to write each ABUF word requantizes it into
    OBUF; then a store. Weight rows are packed: a group's rows follow the previous group's."""
    from dian.hwgen.isa import Dw, LoadAct, LoadPrm, LoadWgt, StoreAct, Token
    from dian.hwgen.lower.layout import dw_groups

    L, banks = cfg.lanes, cfg.ibuf_banks
    rng = np.random.default_rng(5)
    bias = rng.integers(-3000, 3000, L).astype("<i4")
    mult = rng.integers(1 << 29, 1 << 30, L).astype("<i4")
    shift = rng.integers(36, 40, L).astype(np.int8)
    out_words = 12 + 4 + 1 + 4 + 6
    regions = {
        "act": rng.integers(0, 256, 2 * 6 * 6 * L, dtype=np.uint8).tobytes(),
        "wgt": rng.integers(0, 256, 16 * L, dtype=np.uint8).tobytes(),
        "prm": bias.tobytes() + mult.tobytes() + shift.tobytes(),
        "out": bytes(out_words * L),
    }

    def chunks(a: dict[str, int]):
        mem = [
            LoadAct(a["act"], 0, 2, 7, 9, 1, 0, 1, 2, 36 * L, 6 * L),
            LoadWgt(a["wgt"], 0, 16),
            LoadPrm(a["prm"], 0, 1, signal=Token.LD_CMP),
            StoreAct(a["out"], 0, 1, 1, out_words, 0, 0, wait=Token.CMP_ST),
        ]

        def conv(base, src, dst, dy, dx, n_oy, n_ox, s_oy, s_ox, lo=-128, hi=127):
            groups = dw_groups(3, 3, dy, L, banks)
            out, wgt = [], base
            for g, (fy0, gy, fx0, gx) in enumerate(groups):
                rq = (1, dst, 0, lo, hi) if g == len(groups) - 1 else ()
                s_fy = 9 * dy if gy > 1 else 0
                at = src + fy0 * 9 * dy + fx0 * dx
                out.append(Dw(wgt, at, dst, int(g == 0), gy, gx, s_fy, dx, n_oy, n_ox, s_oy, s_ox, n_ox, 1, *rq))
                wgt += gy * gx
            return out

        cmp = conv(0, 0, 0, 1, 1, 3, 4, 9, 1)  # 3x3 stride 1 on channel block 0
        cmp += conv(1, 63, 12, 2, 2, 2, 2, 18, 2, -60, 90)  # stride 2, dilation 2, channel block 1
        cmp += [Dw(9, 68, 16, 1, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 1, 16, 0, -128, 127)]  # 1 pixel, 1 tap
        gy = min(banks, 3)  # a 3x1 kernel: a group of gy rows (one bank each), then the rest
        col = [Dw(3, 10, 17, 1, gy, 1, 9 if gy > 1 else 0, 0, 2, 2, 9, 1, 2, 1)]
        for y in range(gy, 3, gy):
            n = min(gy, 3 - y)
            col.append(Dw(3 + y, 10 + 9 * y, 17, 0, n, 1, 9 if n > 1 else 0, 0, 2, 2, 9, 1, 2, 1))
        cmp += [*col[:-1], dataclasses.replace(col[-1], rq=1, odst=17)]
        two = 2 if banks >= 2 and L >= 4 else 1  # a 2x2 group (rows 9 words apart, a column kept)
        cmp += [Dw(5, 1, 21, 1, two, 2, 9 if two > 1 else 0, 1, 2, 3, 9, 1, 3, 1, 1, 21, 0, -128, 127)]
        cmp[0] = cmp[0].with_tokens(wait=Token.LD_CMP)
        cmp[-1] = cmp[-1].with_tokens(signal=Token.CMP_ST)
        return [(mem, cmp)]

    return regions, chunks


def fused_requant_program(cfg: AccelConfig):
    """Convolutions whose requantization is fused (``rq``), for :func:`fused_requant_expected`:
    a 3x3 stride-2 conv of both input channel blocks (18 weight blocks) into OBUF 0..8, a 3x3
    depthwise conv of channel block 0 in tap groups (only the last fuses) into OBUF 9..20, a 1x5
    conv of one pixel (5 blocks: the drain right after a short stream) into OBUF 21, with
    different PBUF entries and clamps; then a store of those 22 words to ``out``."""
    from dian.hwgen.isa import Dw, Gemm, Token

    L = cfg.lanes
    regions = _gemm_regions(cfg, 7, FUSED_WORDS)
    # Shifts for sums of 18 L (PBUF entry 0: the 3x3 conv) and of 9 or 5 L products (entry 1): most
    # outputs fall inside the clamps, so the comparison sees the arithmetic, not only saturation.
    prm = bytearray(regions["prm"])
    for e, shift in ((0, 40), (1, 38)):
        prm[9 * L * e + 8 * L : 9 * L * (e + 1)] = bytes([shift]) * L
    regions["prm"] = bytes(prm)

    def chunks(a: dict[str, int]):
        mem = _gemm_loads_and_store(cfg, a, FUSED_WORDS)
        cmp = [Gemm(0, 0, 0, 1, 2, 3, 3, 3, 3, 56, 8, 1, 16, 2, 3, 1, 1, 0, 0, -128, 127, wait=Token.LD_CMP)]
        cmp += [  # a kernel row a tap group (one row of the even-pitched box a group: no bank clash)
            Dw(
                3 * fy,
                8 * fy,
                20,
                int(fy == 0),
                1,
                3,
                0,
                1,
                3,
                4,
                8,
                1,
                4,
                1,
                *((1, 9, 1, -100, 100) if fy == 2 else ()),
            )
            for fy in range(3)
        ]
        cmp += [Gemm(L, 1, 40, 1, 1, 1, 5, 1, 1, 0, 0, 1, 0, 0, 0, 0, 1, 21, 1, -110, 120, signal=Token.CMP_ST)]
        return [(mem, cmp)]

    return regions, chunks


#: OBUF words fused_requant_program stores.
FUSED_WORDS = 22


def fused_requant_expected(cfg: AccelConfig, regions: dict[str, bytes]) -> bytes:
    """The ``out`` bytes fused_requant_program must leave, from sim/reference's own convolution
    and requantization (dian.sim.windows, dian.sim.reference.requantize) on the input, weight and
    parameter bytes read as docs/accelerator.md lays them out — not from sim/machine."""
    from dian.ir import Requant
    from dian.sim.reference import requantize
    from dian.sim.windows import conv2d

    L = cfg.lanes
    # IBUF box [c][y][x] words of L lanes: channel c*L + lane.
    x = np.frombuffer(regions["act"], np.int8).reshape(2, 7, 8, L).transpose(0, 3, 1, 2).reshape(1, 2 * L, 7, 8)
    words = np.frombuffer(regions["wgt"], np.int8).reshape(-1, L)  # WBUF words
    blocks = words.reshape(-1, L, L)  # GEMM weight block b: word r (input channel), byte k (output channel)
    prm = np.frombuffer(regions["prm"], np.uint8).reshape(2, 9 * L)
    bias = [prm[e, : 4 * L].view("<i4").astype(np.int64) for e in range(2)]
    rq = [
        Requant(tuple(prm[e, 4 * L : 8 * L].view("<i4").tolist()), tuple(prm[e, 8 * L :].view(np.int8).tolist()))
        for e in range(2)
    ]

    def finish(acc: np.ndarray, e: int, lo: int, hi: int) -> np.ndarray:
        """``acc`` [L, pixels] through PBUF entry ``e``'s bias and requantization, as [pixels, L]."""
        return requantize(acc.astype(np.int64) + bias[e][:, None], rq[e], 0, lo, hi).T

    f = np.float64
    # 3x3 stride 2 over both channel blocks: block (cb, fy, fx) = (cb*3 + fy)*3 + fx.
    w_a = blocks[:18].reshape(2, 3, 3, L, L).transpose(4, 0, 3, 1, 2).reshape(L, 2 * L, 3, 3)
    a = conv2d(x.astype(f), w_a.astype(f), (2, 2), (0, 0), (1, 1), 1)[0]  # [L, 3, 3]
    # depthwise 3x3 of channel block 0: tap t is WBUF word t, lane c channel c; pixels 3 x 4 of 5 x 6.
    w_b = words[:9].T.reshape(L, 1, 3, 3)
    b = conv2d(x[:, :L].astype(f), w_b.astype(f), (1, 1), (0, 0), (1, 1), L)[0, :, :3, :4]
    # 1x5 at row 0, columns 1..5 of channel block 0: blocks 1..5.
    w_c = blocks[1:6].transpose(2, 1, 0)[:, :, None, :]  # [k, r, 1, fx]
    c = conv2d(x[:, :L, :1, 1:6].astype(f), w_c.astype(f), (1, 1), (0, 0), (1, 1), 1)[0]
    out = np.concatenate(
        [
            finish(a.reshape(L, -1), 0, -128, 127),
            finish(b.reshape(L, -1), 1, -100, 100),
            finish(c.reshape(L, -1), 1, -110, 120),
        ]
    )
    assert out.shape == (FUSED_WORDS, L)
    return out.astype(np.int8).tobytes()


def pool_program(cfg: AccelConfig):
    """POOL on a padded box (pad value -128, 2 channel blocks x 7 x 8): a 3x3
    stride-2 max pool over both channel blocks, a 2x3 average with its
    multiplier and shift, a 1x1 window (a copy) and a whole-plane sum; then a store."""
    from dian.hwgen.isa import LoadAct, Pool, PoolMode, StoreAct, Token

    L = cfg.lanes
    rng = np.random.default_rng(4)
    regions = {"act": rng.integers(0, 256, 2 * 6 * 7 * L, dtype=np.uint8).tobytes(), "out": bytes(30 * L)}

    def chunks(a: dict[str, int]):
        mem = [
            LoadAct(a["act"], 0, 2, 7, 8, 1, 0, 1, 0, 42 * L, 7 * L, -128, signal=Token.LD_CMP),
            StoreAct(a["out"], 0, 1, 1, 30, 0, 0, wait=Token.CMP_ST),
        ]
        cmp = [
            Pool(0, 0, PoolMode.MAX, 2, 3, 3, 3, 3, 56, 16, 2, 8, 1, wait=Token.LD_CMP),
            Pool(9, 18, PoolMode.AVG, 1, 2, 2, 2, 3, 0, 24, 3, 8, 1, 1431655765, 32),
            Pool(60, 22, PoolMode.AVG, 2, 1, 3, 1, 1, 56, 0, 5, 0, 0, 1 << 30, 30),
            Pool(8, 28, PoolMode.AVG, 2, 1, 1, 6, 7, 56, 0, 0, 8, 1, 1 << 30, 34),
            Pool(0, 29, PoolMode.MAX, 1, 1, 1, 7, 8, 0, 0, 0, 8, 1, signal=Token.CMP_ST),
        ]
        return [(mem, cmp)]

    return regions, chunks


def add_program(cfg: AccelConfig):
    """ADD of two IBUF boxes with per-tensor multipliers, a ReLU-style clamp and
    a saturating one, and MUL of two boxes and of a box by one (broadcast) word, then a store."""
    from dian.hwgen.isa import AddI, LoadAct, MulI, StoreAct, Token

    L = cfg.lanes
    rng = np.random.default_rng(5)
    regions = {"act": rng.integers(0, 256, 24 * L, dtype=np.uint8).tobytes(), "out": bytes(22 * L)}

    def chunks(a: dict[str, int]):
        mem = [
            LoadAct(a["act"], 0, 1, 1, 24, 0, 0, 0, 0, 0, 0, signal=Token.LD_CMP),
            StoreAct(a["out"], 0, 1, 1, 22, 0, 0, wait=Token.CMP_ST),
        ]
        cmp = [
            AddI(0, 12, 0, 12, 1518500250, 1073741824, 31, 0, 127, wait=Token.LD_CMP),
            AddI(3, 20, 12, 4, 2147483647, 1717986918, 29, -128, 127),
            AddI(23, 23, 16, 1, 5, 7, 0, -20, 20),
            MulI(0, 12, 17, 3, 1 << 30, 36, -128, 127),
            MulI(5, 20, 20, 2, 3 << 28, 33, -100, 100, bcast=1, signal=Token.CMP_ST),
        ]
        return [(mem, cmp)]

    return regions, chunks


#: Every hand-built program above, for tests that run them all.
PROGRAMS = (mem_only_program, copy_program, gemm_program, dw_program, fused_requant_program, pool_program, add_program)
