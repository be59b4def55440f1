"""The harness's AXI4 slave memory and AXI4-Lite master (rtl_templates/axi_memory.h, axil_master.h)
on their own: axi_memory_test.cpp, built with g++ from the headers as dian ships them, plays scripted
masters (and slaves) against them: the ideal timing cycle by cycle against hand-computed expectations,
data integrity in random mode over many seeds, the adversary's tricks showing up, and every protocol
violation caught with its one-line message."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from dian.hwgen.tools.templates import package_text
from dian.hwgen.tools.verilator_run import HEADERS

TEST_SOURCE = Path(__file__).with_name("axi_memory_test.cpp")
CASES = [
    "ideal_read_timing",
    "ideal_write_timing",
    "ideal_write_visibility",
    "random_integrity",
    "random_adversary_shows_up",
    "random_read_before_b_sees_old_data",
    "random_is_deterministic",
    "violation_4k",
    "violation_burst_length",
    "violation_unaligned",
    "violation_size_burst_cache_prot",
    "violation_wlast",
    "violation_valid_dropped_or_changed",
    "out_of_range_decerr",
    "lite_master_random",
    "lite_master_catches_the_slave",
]

pytestmark = pytest.mark.skipif(
    shutil.which("g++") is None and not os.environ.get("CI"), reason="g++ not installed (Verilator needs it too)"
)


@pytest.fixture(scope="module")
def program(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("axi_memory")
    for name in HEADERS:
        (folder / name).write_text(package_text(name))
    exe = folder / "axi_memory_test"
    cmd = [
        "g++",
        "-std=c++17",
        "-O2",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-I",
        str(folder),
        str(TEST_SOURCE),
        "-o",
        str(exe),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return exe


def test_every_case_is_run(program: Path) -> None:
    listed = subprocess.run([str(program), "list"], capture_output=True, text=True, check=True).stdout.split()
    assert sorted(listed) == sorted(CASES)


@pytest.mark.parametrize("case", CASES)
def test_case(program: Path, case: str) -> None:
    done = subprocess.run([str(program), case], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout == "ok\n", done.stdout + done.stderr
