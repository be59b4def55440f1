"""The SoC side of `dian build --board`: a LiteX SoC with dian's accelerator in it. This module runs
in its own process, started by the generated ``soc.py`` (board/templates/soc.py.j2): it alone
imports LiteX, LiteDRAM and Migen (an import-linter contract), so dian's process never loads them.

The SoC is the board's ``litex_boards`` ``BaseSoC`` (its clocks, SDRAM PHY and pins) with no CPU,
no UART and no timer, plus:

* a UARTBone bridge on the board's ``serial`` pins: the host's way onto the SoC bus;
* the SDRAM through LiteDRAM, at ``main_ram`` (0x40000000) for the host, with no L2 cache, so
  that what the host writes is in the SDRAM when the accelerator reads it;
* the accelerator (``Instance`` of the Verilog of ``DIR/rtl``) with its AXI4 master on a port of
  the DRAM crossbar of its own (``LiteDRAMAXI2Native``; the port converts to the controller's
  width and, when the accelerator has a clock of its own, crosses into ``sys`` with LiteDRAM's
  native-port CDC), where it addresses the SDRAM from 0;
* its AXI4-Lite registers as a 4 KiB region of the SoC bus at ``REGS_ORIGIN`` (LiteX bridges the
  Wishbone bus to AXI-Lite; ``AXILiteClockDomainCrossing`` crosses into the accelerator's clock);
* its ``irq`` as a CSR, ``dian_irq_level``, for a host that polls.

``main`` writes ``gateware/`` (the SoC's Verilog, Yosys/nextpnr/ecppack scripts) without running
the tools, ``csr.csv`` and ``csr.json``, and ``soc-info.json``: what only the built SoC knows and
board.json needs (regions, CSR addresses, the SDRAM's size and power-up sequence).
"""

from __future__ import annotations

import importlib
import json
import math
import os
import re
from importlib.metadata import version
from pathlib import Path
from typing import Any

from litedram.frontend.axi import LiteDRAMAXI2Native
from litex.build.tools import get_litex_git_revision
from litex.gen import LiteXModule
from litex.soc.integration.builder import Builder
from litex.soc.integration.soc import SoCRegion
from litex.soc.interconnect.axi import AXIInterface, AXILiteClockDomainCrossing, AXILiteInterface
from litex.soc.interconnect.csr import CSRStatus
from migen import ClockDomain, ClockDomainsRenamer, ClockSignal, Instance, ResetSignal, Signal
from migen.fhdl.structure import _Value as Value
from migen.genlib.cdc import MultiReg

from .litex_sdram import sdram_init

#: The accelerator's registers on the SoC bus (a 4 KiB region; register ``off`` at REGS_ORIGIN + off).
REGS_ORIGIN = 0x2000_0000
REGS_SIZE = 0x1000
REGS_ADDR_BITS = 12
ACCEL_CD = "accel"
ACCEL_CLK_MARGIN = 0.05
INFO = "soc-info.json"


class DianIrq(LiteXModule):
    """The accelerator's ``irq`` level as a read-only CSR (``dian_irq_level``), in ``sys``."""

    def __init__(self, irq: Any, cd: str) -> None:
        self.level = CSRStatus(1, description="dian's irq: IRQ_STATUS & IRQ_ENABLE (a run ended)")
        if cd == "sys":
            self.comb += self.level.status.eq(irq)
        else:
            self.specials += MultiReg(irq, self.level.status)


def verilog_ports(path: Path, top: str) -> dict[str, tuple[str, int]]:
    """``{port: (direction, width)}`` of module ``top`` in the Verilog file ``path``."""
    text = path.read_text()
    m = re.search(rf"^module {re.escape(top)}\s*\((.*?)\);(.*?)^endmodule", text, re.S | re.M)
    if m is None:
        raise SystemExit(f"dian: no module {top} in {path}")
    ports = {}
    for d, hi, lo, name in re.findall(r"^\s*(input|output)\s+(?:\[(\d+):(\d+)\]\s+)?(\w+);", m.group(2), re.M):
        ports[name] = (d, int(hi) - int(lo) + 1 if hi else 1)
    return ports


def accel_instance(soc: Any, params: dict[str, Any], cd: str) -> Instance:
    """The accelerator, its AXI4 master on the DRAM crossbar and its AXI4-Lite slave on the SoC bus."""
    bits = params["bus_bits"]
    # AXI4 master -> native port of the DRAM crossbar (width converted, CDC'd into sys when cd != sys).
    axi = AXIInterface(data_width=bits, address_width=32, id_width=1, clock_domain=cd)
    port = soc.sdram.crossbar.get_port(mode="both", data_width=bits, clock_domain=cd)
    soc.submodules.dian_dram = ClockDomainsRenamer(cd)(LiteDRAMAXI2Native(axi, port, base_address=0))
    # AXI4-Lite slave: a region of the SoC bus, then (maybe) across into cd.
    regs = AXILiteInterface(data_width=32, address_width=32)
    soc.bus.add_slave(name="dian", slave=regs, region=SoCRegion(origin=REGS_ORIGIN, size=REGS_SIZE, cached=False))
    if cd != "sys":
        near = AXILiteInterface(data_width=32, address_width=32, clock_domain=cd)
        soc.submodules.dian_regs_cdc = AXILiteClockDomainCrossing(regs, near, cd_from="sys", cd_to=cd)
        regs = near
    conn: dict[str, Any] = {"i_clk": ClockSignal(cd), "i_rst": ResetSignal(cd)}
    for ch in ("aw", "ar"):
        a = getattr(axi, ch)
        for f in ("valid", "id", "addr", "len", "size", "burst", "cache", "prot"):
            conn[f"o_m_axi_{ch}{f}"] = getattr(a, f)
        conn[f"i_m_axi_{ch}ready"] = a.ready
    conn |= {f"o_m_axi_w{f}": getattr(axi.w, f) for f in ("valid", "data", "strb", "last")}
    conn |= {"i_m_axi_wready": axi.w.ready, "o_m_axi_rready": axi.r.ready, "o_m_axi_bready": axi.b.ready}
    conn |= {f"i_m_axi_r{f}": getattr(axi.r, f) for f in ("valid", "id", "data", "resp", "last")}
    conn |= {f"i_m_axi_b{f}": getattr(axi.b, f) for f in ("valid", "id", "resp")}
    for ch, fields in (("aw", ("addr",)), ("w", ("data", "strb")), ("ar", ("addr",))):
        c = getattr(regs, ch)
        conn[f"i_s_axil_{ch}valid"] = c.valid
        conn[f"o_s_axil_{ch}ready"] = c.ready
        for f in fields:
            conn[f"i_s_axil_{ch}{f}"] = c.addr[:REGS_ADDR_BITS] if f == "addr" else getattr(c, f)
    for ch, fields in (("b", ("resp",)), ("r", ("data", "resp"))):
        c = getattr(regs, ch)
        conn[f"o_s_axil_{ch}valid"] = c.valid
        conn[f"i_s_axil_{ch}ready"] = c.ready
        conn |= {f"o_s_axil_{ch}{f}": getattr(c, f) for f in fields}
    irq_sig = Signal()
    conn["o_irq"] = irq_sig
    soc.dian_irq = DianIrq(irq_sig, cd)
    _check_ports(params, conn)
    return Instance(params["accel_top"], name="dian_accel", **conn)


def _check_ports(params: dict[str, Any], conn: dict[str, Any]) -> None:
    """Every port of the accelerator's top level is connected, in its direction and width."""
    ports = verilog_ports(Path(params["accel_sources"][0]), params["accel_top"])
    given = {
        k[2:]: ("input" if k[0] == "i" else "output", len(v) if isinstance(v, Value) else 1) for k, v in conn.items()
    }
    if given != ports:
        diff = sorted(set(given.items()) ^ set(ports.items()))
        raise SystemExit(f"dian: the accelerator's ports and the SoC's wiring differ: {diff}")


def make_soc(params: dict[str, Any]) -> Any:
    """The SoC for ``params`` (what dian.board.build writes into soc.py): the board's, or the
    simulation's (board/litex_sim.py) when ``litex_target`` is ``sim``, with the accelerator."""
    if params["litex_target"] == "sim":
        from .litex_sim import sim_soc

        soc, cd = sim_soc(params, ACCEL_CD)
    else:
        soc, cd = board_soc(params)
    for src in params["accel_sources"]:
        soc.platform.add_source(os.path.abspath(src))
    soc.specials += accel_instance(soc, params, cd)
    return soc


def board_soc(params: dict[str, Any]) -> tuple[Any, str]:
    """The board's litex-boards SoC with no CPU, UART or timer, its UARTBone and (maybe) the
    accelerator's clock; and the accelerator's clock domain."""
    target = importlib.import_module(f"litex_boards.targets.{params['litex_target']}")
    soc = target.BaseSoC(
        sys_clk_freq=params["sys_clk_hz"],
        toolchain="trellis",
        cpu_type=None,
        with_uart=False,
        with_timer=False,
        integrated_sram_size=0,
        l2_size=0,  # the host's writes go straight to the SDRAM, where the accelerator reads them
        **params["target_args"],
    )
    if params["serial_extension"]:
        platform_module = importlib.import_module(type(soc.platform).__module__)
        soc.platform.add_extension(getattr(platform_module, params["serial_extension"]))
    soc.add_uartbone(name="uartbone", uart_name="serial", baudrate=params["baudrate"])
    cd = "sys"
    if params["accel_clk_hz"] != params["sys_clk_hz"]:
        cd = ACCEL_CD
        soc.crg.cd_accel = ClockDomain(ACCEL_CD)
        soc.dian_accel_clkout = soc.crg.pll.nclkouts
        # The board's PLL also makes its own clocks: take the nearest output within ACCEL_CLK_MARGIN.
        pll = soc.crg.pll
        pll.create_clkout(soc.crg.cd_accel, params["accel_clk_hz"], margin=ACCEL_CLK_MARGIN)
        compute = pll.compute_config  # keep the configuration the PLL is finalized with (not recomputable)

        def remember() -> dict[str, Any]:
            pll.dian_config = compute()
            return pll.dian_config

        pll.compute_config = remember
    return soc, cd


def csr_addresses(soc: Any) -> dict[str, int]:
    """Byte address of every CSR register, as the SoC's CSR bank decodes them."""
    align = soc.constants.get("CONFIG_CSR_ALIGNMENT", 32) // 8
    found = {}
    for name, region in soc.csr_regions.items():
        if not isinstance(region.obj, list):
            continue
        addr = region.origin
        for csr in region.obj:
            found[f"{name}_{csr.name}"] = addr
            addr += align * math.ceil(csr.size / region.busword)
    return found


_DATE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")


def _litex_stamps() -> re.Pattern[str]:
    """Where LiteX stamps "its git revision": that of the repository around the litex package, which
    for a pip install inside a project's checkout is the project's commit, not LiteX's."""
    rev = re.escape(get_litex_git_revision())
    return re.compile(rf"(LiteX sha1 : |LiteX / git: |LiteX \(|LITEX_GIT_SHA1 \"){rev}")


_TREE_LINE = re.compile(r"^((?:│    )*)└─── (.*)$")


def _sorted_leaves(verilog: str) -> str:
    """LiteX's module-tree comment lists each module's primitive instances (``[EHXPLLL]``, I/O and
    DDR cells) in the order of a Python set, which changes from run to run: list each module's
    sorted, in the same places."""
    lines = verilog.split("\n")
    groups: dict[tuple[int, int], list[int]] = {}
    parents: list[int] = []  # the last line seen at each depth
    for i, line in enumerate(lines):
        m = _TREE_LINE.match(line)
        if m is None:
            continue
        depth = len(m.group(1)) // len("│    ")
        del parents[depth:]
        if re.fullmatch(r"\[\w+\]", m.group(2)):
            groups.setdefault((parents[-1] if parents else -1, depth), []).append(i)
        parents.append(i)
    for at in groups.values():
        for i, line in zip(at, sorted(lines[i] for i in at), strict=True):
            lines[i] = line
    return "\n".join(lines)


def _reproducible(folder: Path, params: dict[str, Any]) -> None:
    """Drop LiteX's build dates and revision stamps from what it wrote (Verilog banners, csr.csv,
    headers), put its Verilog's module tree in a stable order, and make the
    Yosys script read its sources by paths relative to gateware/: YoWASP tools see /tmp as a private
    folder, so an absolute path under /tmp names nothing for them, and relative paths keep the folder
    buildable wherever it is moved."""
    gateware = (folder / "gateware").resolve()
    for path in sorted(folder.rglob("*")):
        if path.suffix in (".v", ".csv", ".h", ".json", ".ld", ".mak", ".ys", ".sh") and path.is_file():
            text = path.read_text()
            new = _DATE.sub("(date not recorded)", text) if path.suffix != ".json" else text
            new = _litex_stamps().sub(lambda m: m.group(1) + f"litex {version('litex')}", new)
            if path.suffix == ".v":
                new = _sorted_leaves(new)
            if path.suffix == ".ys":
                new = re.sub(
                    r"^(read_\S+(?: -\S+)*) (/\S+)$",
                    lambda m: f"{m.group(1)} {os.path.relpath(m.group(2), gateware)}",
                    new,
                    flags=re.M,
                )
            if new != text:
                path.write_text(new)


def soc_info(soc: Any, params: dict[str, Any]) -> dict[str, Any]:
    regions = {n: {"origin": r.origin, "size": r.size} for n, r in sorted(soc.bus.regions.items())}
    csrs = csr_addresses(soc)
    settings = soc.sdram.controller.settings
    geom = settings.geom
    size = 2 ** (geom.bankbits + geom.rowbits + geom.colbits) * settings.phy.nranks * settings.phy.databits // 8
    accel_hz = params["sys_clk_hz"] if params["accel_clk_hz"] == params["sys_clk_hz"] else params["accel_clk_hz"]
    if hasattr(soc, "dian_accel_clkout"):
        accel_hz = soc.crg.pll.dian_config[f"clko{soc.dian_accel_clkout}_freq"]
    return {
        "accel_clk_hz": round(accel_hz),
        "regions": regions,
        "csr": dict(sorted(csrs.items())),
        "accel_clock_domain": "sys" if params["accel_clk_hz"] == params["sys_clk_hz"] else ACCEL_CD,
        "dram_bytes": size,
        "dram_controller_bits": soc.sdram.crossbar.controller.data_width,
        "sdram_init": sdram_init(soc, csrs, params["sys_clk_hz"]),
    }


def main(params: dict[str, Any], argv: list[str], here: Path) -> int:
    """Write the SoC's gateware/ (scripts, not run), csr.csv, csr.json and soc-info.json into ``here``."""
    if argv not in ([], ["--no-compile"]):
        print("usage: python soc.py   (regenerates gateware/ and the CSR map; gateware/build_*.sh runs the tools)")
        return 2
    os.chdir(here)
    soc = make_soc(params)
    builder = Builder(
        soc,
        output_dir=".",
        csr_csv="csr.csv",
        csr_json="csr.json",
        compile_software=False,
        compile_gateware=False,
    )
    if params["litex_target"] == "sim":
        builder.build(build_name=params["build_name"], run=False)
    else:
        soc.platform.toolchain._pnr_opts += f" --report {params['build_name']}_report.json"
        builder.build(build_name=params["build_name"], run=False, seed=params["seed"])
    _reproducible(here, params)
    Path(INFO).write_text(json.dumps(soc_info(soc, params), sort_keys=True, indent=1) + "\n")
    return 0
