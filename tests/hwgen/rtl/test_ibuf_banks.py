"""IbufBanks (hwgen/rtl/ibuf_banks.py) in amaranth.sim against a plain list of words: writes land
at their word address whatever bank holds it; read 0 alone returns any word one edge later; with
the further reads enabled, ``banks`` words of distinct banks come back in one cycle, each on its
own port."""

from __future__ import annotations

import dataclasses
import random

import pytest
from amaranth.sim import Simulator

from dian.hwgen.accel_config import Dataflow, validate
from dian.hwgen.presets import PRESETS
from dian.hwgen.rtl.ibuf_banks import IbufBanks


def _word(lanes: int, rng: random.Random) -> int:
    return rng.getrandbits(8 * lanes)


@pytest.mark.parametrize("preset, gemm_only", [("tiny", False), ("small", False), ("tiny", True)])
def test_banked_reads_against_a_list(preset: str, gemm_only: bool) -> None:
    cfg = PRESETS[preset]
    if gemm_only:
        cfg = validate(dataclasses.replace(cfg, dataflows=(Dataflow.GEMM,)))
    dut = IbufBanks(cfg)
    nb, depth, L = cfg.ibuf_banks, cfg.words("ibuf"), cfg.lanes
    assert dut.LATENCY == 1 and nb == (1 if gemm_only else min(4, L // 2))
    rng = random.Random(nb * 100 + L)
    model = [0] * depth
    checked = []

    async def bench(ctx) -> None:
        for a in rng.sample(range(depth), 200):
            value = _word(L, rng)
            ctx.set(dut.w_en, 1)
            ctx.set(dut.w_addr, a)
            ctx.set(dut.w_data, value)
            await ctx.tick()
            model[a] = value
        ctx.set(dut.w_en, 0)
        for _ in range(300):
            base = rng.randrange(depth)
            pitch = 2 * rng.randrange(depth // 2) + 1  # odd: j * pitch distinct modulo the banks
            n = rng.randint(1, nb)
            addrs = [(base + j * pitch) % depth for j in range(nb)]
            for j in range(nb):
                ctx.set(dut.r_addr[j], addrs[j])
            ctx.set(dut.r_en, (1 << n) - 1)
            await ctx.tick()
            got = [ctx.get(dut.r_data[j]) for j in range(n)]
            assert got == [model[a] for a in addrs[:n]], (addrs[:n], n)
            checked.append(n)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert max(checked) == nb  # every bank read at once
