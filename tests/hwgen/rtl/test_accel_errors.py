"""Illegal instructions (hwgen/rtl/controller.py): an engine that meets one halts, the run ends
with DONE and the error code naming the engine (MEM_ILLEGAL, CMP_ILLEGAL), and the Verilator
harness turns the code into an AcceleratorFaultError naming it. The same images are ProgramErrors
in sim/machine, which reads docs/accelerator.md's rules independently. (Bus errors, bad headers
and soft resets: test_core_bus.py.)"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from accel_programs import build_image, run_amaranth
from tool_helpers import needs

from dian.errors import AcceleratorFaultError, ProgramError
from dian.hwgen.accel_config import Dataflow, validate
from dian.hwgen.csr_map import ErrorCode
from dian.hwgen.encoding import Encoding
from dian.hwgen.isa import INSTRUCTION_BYTES, Copy, Dw, End, LoadWgt, Token
from dian.hwgen.lower.dram_image import ImageBuilder
from dian.hwgen.presets import PRESETS
from dian.hwgen.rtl.core import AcceleratorCore
from dian.hwgen.tools.verilator_run import run_harness
from dian.sim.machine import Machine

TINY = PRESETS["tiny"]
RETIRED_REQUANT = 7  # an opcode no instruction has (docs/accelerator.md, "Instructions")


def _copy_in_mem_stream() -> bytes:
    """A load, then a COPY (a CMP instruction) in the MEM stream."""
    regions = {"wgt": bytes(range(4 * TINY.lanes))}
    image, _ = build_image(TINY, regions, lambda a: [([LoadWgt(a["wgt"], 0, 4), Copy(0, 0, 1, 1, 0, -128, 127)], [])])
    return image


def _retired_opcode_in_cmp_stream() -> bytes:
    """The CMP stream: a COPY, then an instruction word with opcode 7 (REQUANT's, retired)."""
    enc = Encoding(TINY)
    bad = RETIRED_REQUANT.to_bytes(INSTRUCTION_BYTES, "little")
    mem = enc.encode_stream([End(signal=Token.LD_CMP)])
    cmp = enc.encode_stream([Copy(0, 0, 2, 1, 0, -128, 127, wait=Token.LD_CMP)]) + bad + enc.encode(End())
    return ImageBuilder(TINY, 0, 0).finish([(mem + cmp, 1, 3)], [], [])


def _machine_rejects(cfg, image: bytes, match: str) -> None:
    with pytest.raises(ProgramError, match=match):
        Machine(cfg, np.frombuffer(image, np.uint8).copy()).run()


def test_the_retired_requant_opcode_is_unknown() -> None:
    with pytest.raises(ProgramError, match="unknown opcode 7"):
        Encoding(TINY).decode(RETIRED_REQUANT.to_bytes(INSTRUCTION_BYTES, "little"))


def test_mem_engine_error_on_a_cmp_instruction_ends_the_run() -> None:
    image = _copy_in_mem_stream()
    _machine_rejects(TINY, image, "COPY is not a MEM instruction")
    _, got = run_amaranth(AcceleratorCore(TINY), TINY, image, after_error=5)
    assert (got["error_code"], got["done_after"], got["busy_after"]) == (ErrorCode.MEM_ILLEGAL, 1, 0)


def test_cmp_engine_error_on_an_unknown_opcode() -> None:
    image = _retired_opcode_in_cmp_stream()
    _machine_rejects(TINY, image, "unknown opcode 7")
    _, got = run_amaranth(AcceleratorCore(TINY), TINY, image, after_error=3)
    assert (got["error_code"], got["done_after"]) == (ErrorCode.CMP_ILLEGAL, 1)


def test_cmp_engine_error_on_dw_without_the_depthwise_dataflow() -> None:
    cfg = validate(dataclasses.replace(TINY, name="tiny-gemm", dataflows=(Dataflow.GEMM,)))
    image, _ = build_image(cfg, {}, lambda a: [([], [Dw(0, 0, 0, 1, 0, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0)])])
    _machine_rejects(cfg, image, "no depthwise dataflow")
    _, got = run_amaranth(AcceleratorCore(cfg), cfg, image)
    assert got["error_code"] == ErrorCode.CMP_ILLEGAL


def test_cmp_engine_error_on_a_lookup_without_an_lbuf() -> None:
    # lut_tables = 0: no LBUF, so a COPY through table 0 cannot run (in either model)
    cfg = validate(dataclasses.replace(TINY, name="tiny-nolut", lut_tables=0))
    image, _ = build_image(cfg, {}, lambda a: [([], [Copy(0, 0, 1, 1, 0, -128, 127, lut=1)])])
    _machine_rejects(cfg, image, "LBUF")
    _, got = run_amaranth(AcceleratorCore(cfg), cfg, image)
    assert got["error_code"] == ErrorCode.CMP_ILLEGAL
    plain, _ = build_image(cfg, {}, lambda a: [([], [Copy(0, 0, 1, 1, 0, -128, 127)])])  # the same COPY without
    _, ok = run_amaranth(AcceleratorCore(cfg), cfg, plain)
    assert "error_code" not in ok  # present only when not 0


@needs("verilator")
@pytest.mark.parametrize(
    "image, name", [(_copy_in_mem_stream, "MEM_ILLEGAL"), (_retired_opcode_in_cmp_stream, "CMP_ILLEGAL")]
)
def test_verilator_harness_names_the_error_code(tiny_harness, image, name: str) -> None:
    with pytest.raises(AcceleratorFaultError, match=f"ended with error code \\d, {name}") as e:
        run_harness(tiny_harness, image(), max_cycles=100_000)
    assert e.value.name == name
