"""Slow tier (about 3.5 min): why the board build puts the accelerator's AXI4 master on a DRAM
crossbar port of its own rather than on the SoC bus (tests/board/dram_paths.py simulates both
in front of LiteDRAM's controller and SDRAM model). Measured here: crossbar 3.3 cycles a 32-bit
beat written and 3.2 read (the 16-bit SDR SDRAM's floor is 2), the bus path 10.7 and 18.4."""

from __future__ import annotations

import pytest
from dram_paths import BEATS, BURSTS, measure

pytestmark = pytest.mark.slow


def test_the_crossbar_port_is_much_faster_than_the_bus() -> None:
    crossbar, bus = measure("crossbar"), measure("bus")  # each also checks the data read back
    beats = BURSTS * BEATS
    for phase in ("write", "read"):
        assert 2 * beats <= crossbar[phase] < 4 * beats  # two SDRAM cycles a beat at best
        assert bus[phase] > 3 * crossbar[phase], (phase, crossbar, bus)
