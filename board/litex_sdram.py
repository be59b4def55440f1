"""The SDRAM power-up sequence of a CPU-less LiteX SoC, as data for the host to replay.

With a CPU, LiteX's BIOS (liblitedram ``sdram_init``) takes the SDRAM's DFI interface under
software control, issues the mode-register sequence that ``litedram.init`` derives from the
module and PHY settings (the same list its C and Python header generators print), levels the PHY
when it can be levelled, and hands the DFI back to the controller. Here there is no CPU: this
module turns that sequence into steps over the ``sdram_dfii_*`` CSRs that a host replays through
the bridge. Run in the SoC's process (it needs litedram, hence Migen).
"""

from __future__ import annotations

import math
from typing import Any

from litedram.init import get_sdram_phy_init_sequence

#: liblitedram's (and litedram.init's Python header's) DFII bits.
CONTROL = {"DFII_CONTROL_SEL": 0x01, "DFII_CONTROL_CKE": 0x02, "DFII_CONTROL_ODT": 0x04, "DFII_CONTROL_RESET_N": 0x08}
COMMAND = {
    "DFII_COMMAND_CS": 0x01,
    "DFII_COMMAND_WE": 0x02,
    "DFII_COMMAND_CAS": 0x04,
    "DFII_COMMAND_RAS": 0x08,
    "DFII_COMMAND_WRDATA": 0x10,
    "DFII_COMMAND_RDDATA": 0x20,
}
#: sdram_software_control_on / _off in liblitedram/sdram.c.
SOFTWARE = CONTROL["DFII_CONTROL_CKE"] | CONTROL["DFII_CONTROL_ODT"] | CONTROL["DFII_CONTROL_RESET_N"]
HARDWARE = CONTROL["DFII_CONTROL_SEL"]
REGISTERS = ("control", "pi0_command", "pi0_command_issue", "pi0_address", "pi0_baddress", "pi0_wrdata", "pi0_rddata")
PHY_REGISTERS = (
    *("rst", "dly_sel", "rdly_dq_rst", "rdly_dq_inc", "rdly_dq_bitslip_rst", "rdly_dq_bitslip"),
    *("burstdet_clr", "burstdet_seen", "rdphase", "wrphase"),
)


def _bits(names: str) -> int:
    return sum(CONTROL.get(n, 0) | COMMAND.get(n, 0) for n in names.split("|"))


def sdram_init(soc: Any, csrs: dict[str, int], sys_clk_hz: float) -> dict[str, Any]:
    """``{"steps": [...], "registers": {...}, "leveling": ...}``: ``steps`` are ``["write", address,
    value]`` and ``["wait_us", n]``, from taking the DFI under software control to handing it back.
    The BIOS's ``cdelay(n)`` waits at least n cycles of ``sys``; a wait here is that many cycles in
    microseconds, rounded up."""
    settings = soc.sdram.controller.settings
    phy = settings.phy
    if phy.is_rdimm or phy.is_clam_shell:
        raise SystemExit("dian: registered or clam-shell SDRAM is not supported by the board build")
    # Every DFII register, every phase's (a DDR PHY has several; leveling writes and reads through all).
    reg = {n.removeprefix("sdram_dfii_"): a for n, a in sorted(csrs.items()) if n.startswith("sdram_dfii_")}
    if any(r not in reg for r in REGISTERS):
        raise SystemExit(f"dian: the SoC's DFII lacks {sorted(set(REGISTERS) - set(reg))}")
    steps: list[list[Any]] = [["write", reg["control"], SOFTWARE]]

    def wait(cycles: int) -> None:
        steps.append(["wait_us", max(1, math.ceil(cycles * 1e6 / sys_clk_hz))])

    if "ddrphy_rst" in csrs:  # liblitedram: ddrphy_rst_write(1); cdelay(1000); ddrphy_rst_write(0); cdelay(1000)
        steps += [["write", csrs["ddrphy_rst"], 1]]
        wait(1000)
        steps += [["write", csrs["ddrphy_rst"], 0]]
        wait(1000)
    sequence, _ = get_sdram_phy_init_sequence(phy, settings.timing)
    for _comment, a, ba, cmd, delay in sequence:
        steps += [["write", reg["pi0_address"], a], ["write", reg["pi0_baddress"], ba]]
        if cmd.startswith("DFII_CONTROL"):
            steps.append(["write", reg["control"], _bits(cmd)])
        else:
            steps += [["write", reg["pi0_command"], _bits(cmd)], ["write", reg["pi0_command_issue"], 1]]
        if delay:
            wait(delay)
    levels = bool(getattr(phy, "read_leveling", False) or getattr(phy, "write_leveling", False))
    leveling = None
    if levels:
        leveling = {
            "read": bool(getattr(phy, "read_leveling", False)),
            "write": bool(getattr(phy, "write_leveling", False)),
            "modules": phy.databits // 8,
            "bitslips": getattr(phy, "bitslips", 0),
            "delays": getattr(phy, "delays", 0),
            "registers": {r: csrs[f"ddrphy_{r}"] for r in PHY_REGISTERS if f"ddrphy_{r}" in csrs},
            "between": "after the step list's last mode-register step, before its final write (hardware control)",
        }
    steps.append(["write", reg["control"], HARDWARE])
    return {
        "memtype": phy.memtype,
        "phy": phy.phytype,
        "registers": reg,
        "control_software": SOFTWARE,
        "control_hardware": HARDWARE,
        "steps": steps,
        "leveling": leveling,
    }
