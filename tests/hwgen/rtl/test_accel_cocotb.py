"""The whole accelerator (hwgen/rtl/top.py, ``tiny``) on Verilator against cocotbext-axi's AxiRam and
AxiLiteMaster, bus models that dian did not write (cocotb_accel.py): a compiled zoo LeNet runs
three times at two bases, once more after soft resets in mid-run and after a run with a damaged
header; the DRAM must be sim/machine's byte for byte, the byte counters sim/machine's, and the
outputs sim/reference's.

The top connects to them as it is: cocotbext-axi's AXI4 slave requires the ID ports, which the
single-ID master has (hwgen/rtl/axi_ports.py). Measured on the shared
2-core machine: lowering the zoo LeNet about 8 s (torch calibration), the Verilator build about
50 s, the three cocotb tests about 25 s.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from accel_programs import run_machine
from cocotb_run import run_cocotb
from machine_cases import random_inputs, zoo_graph
from tool_helpers import needs

from dian.hwgen.accel_config import config_hash
from dian.hwgen.csr_map import COUNTERS
from dian.hwgen.lower.graph import lower_graph
from dian.hwgen.presets import PRESETS
from dian.hwgen.rtl.top import TOP_NAME, Accelerator
from dian.sim.reference import run_graph

TINY = PRESETS["tiny"]
#: sim/machine's names (``perf_…``) of the registers' counters (csr_map.COUNTERS).
COUNTERS_MACHINE = ("cycles", "busy_pe_cycles", "dram_bytes_read", "dram_bytes_written")


@needs("verilator")
def test_accelerator_against_cocotbext_axi(tmp_path: Path) -> None:
    graph = zoo_graph("lenet")
    x = random_inputs(graph, seed=0)
    low = lower_graph(graph, TINY)
    dram = np.frombuffer(low.image, dtype=np.uint8).copy()
    low.write_inputs(dram, x)
    image = dram.tobytes()
    want_dram, want = run_machine(TINY, image)
    files = {"image": image, "expected": want_dram}
    for name, data in files.items():
        (tmp_path / f"{name}.bin").write_bytes(data)
    machine = {reg: want[f"perf_{counter}"] for reg, counter in zip(COUNTERS, COUNTERS_MACHINE, strict=True)}
    (tmp_path / "machine.json").write_text(json.dumps(machine))
    env = {f"ACCEL_{name.upper()}": str(tmp_path / f"{name}.bin") for name in files}
    env |= {
        "ACCEL_MACHINE": str(tmp_path / "machine.json"),
        "ACCEL_FINAL": str(tmp_path / "final.bin"),
        "CONFIG_HASH": config_hash(TINY).hex(),
    }
    run = run_cocotb(
        Accelerator(TINY), TOP_NAME, Path(__file__).with_name("cocotb_accel.py"), tmp_path / "sim", env=env
    )
    assert run.tests == 3
    final = np.frombuffer((tmp_path / "final.bin").read_bytes(), dtype=np.uint8)
    ref = run_graph(graph, x)
    for name, got in low.read_outputs(final).items():
        assert np.array_equal(got, ref[name]), f"output {name} differs from sim/reference"
