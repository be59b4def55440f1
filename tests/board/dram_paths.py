"""The two ways dian's AXI4 master could reach a LiteX SoC's SDRAM, measured in a Migen simulation of
LiteDRAM's real controller in front of its SDRAM model (SDR, 16 bits, MT48LC16M16 timings at
50 MHz, fewer rows so the model's memory stays small):

* ``crossbar``: what dian builds, a port of the DRAM crossbar of its own (``LiteDRAMAXI2Native``,
  the port converted from the controller's 16 bits to the master's 32);
* ``bus``: ``soc.bus.add_master`` — AXI to Wishbone (``AXI2Wishbone``), the Wishbone width
  converter to 16 bits and ``LiteDRAMWishbone2Native``, as LiteX connects ``main_ram`` without an
  L2 cache (the SoC's arbiter and decoder, which add cycles, left out).

``measure(path)`` is the cycles for 4 bursts of 16 beats (256 bytes) written, then read back and
checked. Run ``python tests/board/dram_paths.py`` for the table."""

from __future__ import annotations

from litedram.core import LiteDRAMCore
from litedram.frontend.axi import LiteDRAMAXI2Native
from litedram.frontend.wishbone import LiteDRAMWishbone2Native
from litedram.modules import MT48LC16M16
from litedram.phy.model import SDRAMPHYModel, get_sdram_phy_settings
from litex.soc.interconnect import wishbone
from litex.soc.interconnect.axi import AXI2Wishbone, AXIInterface
from migen import Module, passive, run_simulation

CLK = 50e6
BURSTS, BEATS = 4, 16


class _Small(MT48LC16M16):
    nrows = 2048  # the simulation model allocates every word (A10 must exist: 11 row bits)
    ncols = 64


class Bench(Module):
    def __init__(self, path: str) -> None:
        module = _Small(CLK, "1:1")
        self.submodules.phy = phy = SDRAMPHYModel(module, _phy_settings(), clk_freq=CLK)
        self.submodules.core = core = LiteDRAMCore(phy, module.geom_settings, module.timing_settings, clk_freq=CLK)
        self.axi = axi = AXIInterface(data_width=32, address_width=32, id_width=1)
        if path == "crossbar":
            port = core.crossbar.get_port(data_width=32)
            self.submodules.front = LiteDRAMAXI2Native(axi, port)
        else:
            wb32 = wishbone.Interface(data_width=32, address_width=32, addressing="word")
            wb16 = wishbone.Interface(data_width=16, address_width=32, addressing="word")
            port = core.crossbar.get_port()
            self.submodules.a2w = AXI2Wishbone(axi, wb32, base_address=0)
            self.submodules.conv = wishbone.Converter(wb32, wb16)
            self.submodules.front = LiteDRAMWishbone2Native(wb16, port)


def _phy_settings():  # type: ignore[no-untyped-def]
    return get_sdram_phy_settings(memtype="SDR", data_width=16, clk_freq=CLK)  # as the ULX3S's GENSDRPHY


def _word(burst: int, beat: int) -> int:
    return (0xD1A0_0000 + burst * 0x100 + beat * 0x11) & 0xFFFF_FFFF


def measure(path: str) -> dict[str, int]:
    """Cycles of the write bursts (first AW to the last B) and of the read bursts (first AR to the
    last beat), with R and B always ready and each burst's address issued as soon as it can be."""
    bench = Bench(path)
    axi = bench.axi
    now = [0]
    got: list[int] = []
    bs = [0]
    cycles: dict[str, int] = {}

    def master():  # type: ignore[no-untyped-def]
        for _ in range(300):  # the controller's start-up and first refresh
            yield
        for phase, ch in (("write", axi.aw), ("read", axi.ar)):
            t0 = now[0]
            for b in range(BURSTS):
                yield ch.valid.eq(1)
                yield ch.addr.eq(b * BEATS * 4)
                yield ch.len.eq(BEATS - 1)
                yield ch.size.eq(2)
                yield ch.burst.eq(1)
                yield
                while not (yield ch.ready):
                    yield
                yield ch.valid.eq(0)
                for i in range(BEATS if phase == "write" else 0):
                    yield axi.w.valid.eq(1)
                    yield axi.w.data.eq(_word(b, i))
                    yield axi.w.strb.eq(0xF)
                    yield axi.w.last.eq(i == BEATS - 1)
                    yield
                    while not (yield axi.w.ready):
                        yield
                yield axi.w.valid.eq(0)
            while (bs[0] if phase == "write" else len(got)) < (BURSTS if phase == "write" else BURSTS * BEATS):
                yield
            cycles[phase] = now[0] - t0

    @passive
    def slave_side():  # type: ignore[no-untyped-def]
        yield axi.r.ready.eq(1)
        yield axi.b.ready.eq(1)
        while True:
            yield
            now[0] += 1
            if (yield axi.r.valid):
                got.append((yield axi.r.data))
            if (yield axi.b.valid):
                bs[0] += 1

    run_simulation(bench, [master(), slave_side()])
    want = [_word(b, i) for b in range(BURSTS) for i in range(BEATS)]
    if got != want:
        raise AssertionError(f"{path}: read back {[hex(x) for x in got[:4]]}..., wrote {[hex(x) for x in want[:4]]}...")
    return cycles


if __name__ == "__main__":
    for p in ("crossbar", "bus"):
        c = measure(p)
        n = BURSTS * BEATS
        print(
            f"{p:9} write {c['write']:5} cycles ({c['write'] / n:.2f}/beat)  "
            f"read {c['read']:5} cycles ({c['read'] / n:.2f}/beat)"
        )
