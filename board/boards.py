"""The ECP5 boards `dian build --board` knows: which LiteX board target builds each, its FPGA,
its SDRAM and what the host plugs into for the UARTBone bridge. Plain data, read by dian's own
process and by the SoC script (board/litex_soc.py) alike.

Sizes and parts are the boards' own: ULX3S (Radiona, rev 2.0) has a 32 MiB SDR SDRAM
(MT48LC16M16, 16 bits) and an FTDI FT231X on its USB port US1; OrangeCrab (rev 0.2) has a
128 MiB DDR3L (MT41K64M16, 16 bits) and its USB port wired straight to the FPGA.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dian.hwgen.targets import Target

__all__ = ["BOARDS", "Board", "board_names"]


@dataclass(frozen=True)
class Board:
    """One board: ``litex_target`` is the module of ``litex_boards.targets`` whose ``BaseSoC`` (its
    clocks, SDRAM PHY and pins) the SoC extends, built with ``target_args``; ``fpga`` is the dian
    target whose block RAM, LUTs and DSPs bound the accelerator; ``serial_extension`` names a
    ``litex_boards.platforms`` attribute that adds the ``serial`` pins the board file lacks."""

    name: str
    title: str
    litex_target: str
    target_args: dict[str, str] = field(hash=False)
    device: str  # the part as LiteX names it
    package: str  # as nextpnr names it
    speed: int
    fpga: Target
    sdram_module: str  # a litedram.modules class
    sdram_bytes: int
    sys_clk_hz: float  # LiteX's default for the board
    serial: str  # what the host connects to
    accel_clk_hz: float  # the accelerator's default clock at most (the config's, if lower)
    serial_extension: str | None = None
    baudrate: int | None = 115200  # None: a byte stream, no UART
    simulation: bool = False  # LiteX's SimPlatform: Verilog only, no bitstream


def _ulx3s(size: str, fpga: Target) -> Board:
    return Board(
        name=f"ulx3s-{size.lower()}",
        title=f"Radiona ULX3S rev 2.0, LFE5U-{size}",
        litex_target="radiona_ulx3s",
        target_args={"device": f"LFE5U-{size}", "revision": "2.0", "sdram_module_cls": "MT48LC16M16"},
        device=f"LFE5U-{size}-6BG381C",
        package="CABGA381",
        speed=6,
        fpga=fpga,
        sdram_module="MT48LC16M16",
        sdram_bytes=32 << 20,
        sys_clk_hz=50e6,
        accel_clk_hz=75e6,  # tiny in this SoC on the speed-6 part: 78.6 MHz routed (seed 1)
        serial="the USB port US1 (FTDI FT231X, e.g. /dev/ttyUSB0)",
    )


def _orangecrab(size: str, fpga: Target) -> Board:
    return Board(
        name=f"orangecrab-{size.lower()}",
        title=f"Good Stuff Department OrangeCrab rev 0.2, LFE5U-{size}",
        litex_target="gsd_orangecrab",
        target_args={"device": size, "revision": "0.2", "sdram_device": "MT41K64M16"},
        device=f"LFE5U-{size}-8MG285C",
        package="CSFBGA285",
        speed=8,
        fpga=fpga,
        sdram_module="MT41K64M16",
        sdram_bytes=128 << 20,
        sys_clk_hz=48e6,
        accel_clk_hz=75e6,
        serial=(
            "a 3.3 V USB-serial adapter on the Feather header: its RX to pin 1 (the FPGA's TX), "
            "its TX to pin 0 (the FPGA's RX), and GND (the board's own USB port needs ValentyUSB, "
            "which is not on PyPI)"
        ),
        serial_extension="feather_serial",
    )


BOARDS: dict[str, Board] = {
    b.name: b
    for b in (
        _ulx3s("85F", Target.ECP5_85K),
        _ulx3s("25F", Target.ECP5_25K),
        _orangecrab("25F", Target.ECP5_25K),
        _orangecrab("85F", Target.ECP5_85K),
        Board(
            name="sim",
            title="LiteX SimPlatform with LiteDRAM's SDRAM model (MT48LC16M16, 16-bit SDR)",
            litex_target="sim",
            target_args={},
            device="simulation",
            package="",
            speed=0,
            fpga=Target.GENERIC,
            sdram_module="MT48LC16M16",
            sdram_bytes=32 << 20,
            sys_clk_hz=50e6,
            accel_clk_hz=50e6,  # one clock domain unless asked: one clock for a Verilator harness to drive
            serial=(
                "the top-level byte streams serial_sink_* (into the SoC) and serial_source_* (out of it), "
                "one byte per valid/ready handshake"
            ),
            baudrate=None,
            simulation=True,
        ),
    )
}


def board_names() -> tuple[str, ...]:
    return tuple(BOARDS)
