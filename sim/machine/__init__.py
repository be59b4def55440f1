"""dian.sim.machine: executes a compiled Program (its DRAM image) on a model of
the accelerator — buffers, DRAM, the MEM and CMP engines and their tokens —
bit-exact with sim/reference, counting cycles with hwgen/timing.py.

``run_lowered(lowered, inputs)`` is the host's view: pack the inputs into a
copy of the image, run, unpack the outputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from dian.hwgen.lower.graph import Lowered

from .datapath import Datapath
from .engines import Counters, Machine, TraceEntry


@dataclass
class MachineResult:
    outputs: dict[str, np.ndarray]
    counters: Counters
    dram: np.ndarray
    trace: list[TraceEntry]


def run_lowered(lowered: Lowered, inputs: Mapping[str, np.ndarray], keep_trace: bool = False) -> MachineResult:
    dram = np.frombuffer(lowered.image, dtype=np.uint8).copy()
    lowered.write_inputs(dram, inputs)
    m = Machine(lowered.cfg, dram, keep_trace)
    counters = m.run()
    return MachineResult(lowered.read_outputs(dram), counters, dram, m.trace)


__all__ = ["Counters", "Datapath", "Machine", "MachineResult", "TraceEntry", "run_lowered"]
