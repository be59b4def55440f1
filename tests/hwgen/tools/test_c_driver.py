"""The C header and driver (hwgen/tools/c_driver.py), compiled with the machine's gcc.

The driver runs against a fake register block (a C array) whose contents come from the issue 13
register spec written out here (offsets, ID, bit positions), not from hwgen/csr_map.py, so a
header that disagrees with the spec fails. It must build warning-free as C99 with -pedantic.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from dian.hwgen.accel_config import config_hash
from dian.hwgen.presets import PRESETS
from dian.hwgen.tools.c_driver import ImageTensor, c_driver, c_header

GCC = shutil.which("gcc")
needs_gcc = pytest.mark.skipif(GCC is None, reason="no gcc on this machine")

# The spec's offsets and constants (independent of csr_map.py).
ID, VERSION, HASH0, CONTROL, STATUS, IRQ_ENABLE, IRQ_STATUS, BASE_ADDR, CYCLES_LO = (
    0x00, 0x04, 0x08, 0x18, 0x1C, 0x20, 0x24, 0x28, 0x30,
)  # fmt: skip
ID_DIAN, VERSION_1_0 = 0x4E414944, 0x00010000
START, DONE, ERROR_CODE_SHIFT = 1, 2, 8

MAIN = r"""
#include <stdio.h>
#include <string.h>
#include "dian_accel.h"

static uint32_t fake[32];

int main(void)
{
    volatile uint32_t *regs = fake;
    fake[0x%(ID)X / 4] = 0x%(ID_DIAN)Xu;
    fake[0x%(VERSION)X / 4] = 0x%(VERSION_1_0)Xu;
    %(hash)s
    printf("check %%d\n", dian_check(regs));
    fake[0x%(HASH0)X / 4 + 3] ^= 1u;
    printf("check_other_hash %%d\n", dian_check(regs));
    fake[0x%(HASH0)X / 4 + 3] ^= 1u;
    fake[0x%(ID)X / 4] = 0;
    printf("check_not_dian %%d\n", dian_check(regs));
    dian_start(regs, 0x40002000u);
    printf("start %%X %%X\n", fake[0x%(BASE_ADDR)X / 4], fake[0x%(CONTROL)X / 4]);
    fake[0x%(STATUS)X / 4] = %(DONE)du | (5u << %(ERROR_CODE_SHIFT)d);
    printf("wait %%d\n", dian_wait(regs));
    fake[0x%(CYCLES_LO)X / 4] = 0x89ABCDEFu;
    fake[0x%(CYCLES_LO)X / 4 + 1] = 0x01234567u;
    printf("cycles %%llX\n", (unsigned long long)dian_counter(regs, DIAN_REG_CYCLES_LO));
    dian_irq_enable(regs, 1);
    dian_irq_clear(regs);
    printf("irq %%X %%X\n", fake[0x%(IRQ_ENABLE)X / 4], fake[0x%(IRQ_STATUS)X / 4]);
    printf("error2 %%s\n", dian_error_name(2));
    printf("input %%u %%u output %%u\n", DIAN_INPUT_X_OFFSET, DIAN_INPUT_X_BYTES, DIAN_OUTPUT_FC2_OFFSET);
    return 0;
}
"""


@needs_gcc
def test_header_and_driver_build_and_drive_the_spec_registers(tmp_path: Path) -> None:
    cfg = PRESETS["tiny"]
    tensors = [
        ImageTensor("input", "x", 104, 256, (1, 1, 8, 8), 0.0078740157),
        ImageTensor("output", "fc2", 1352, 12, (1, 10), 0.36),
    ]
    (tmp_path / "dian_accel.h").write_text(c_header(cfg, 8416, tensors))
    (tmp_path / "dian_accel.c").write_text(c_driver(cfg))
    h = config_hash(cfg)
    words = [int.from_bytes(h[i : i + 4], "little") for i in range(0, 16, 4)]  # spec: word i = bytes 4i..4i+3
    hash_c = " ".join(f"fake[0x{HASH0:X} / 4 + {i}] = 0x{w:08X}u;" for i, w in enumerate(words))
    (tmp_path / "main.c").write_text(MAIN % (globals() | {"hash": hash_c}))
    flags = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"]
    exe = tmp_path / "main"
    subprocess.run([GCC, *flags, "-o", str(exe), "main.c", "dian_accel.c"], cwd=tmp_path, check=True)
    printed = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout
    out = dict(line.split(" ", 1) for line in printed.splitlines())
    assert out["check"] == "0"
    assert out["check_other_hash"] == "-2"
    assert out["check_not_dian"] == "-1"
    assert out["start"] == f"40002000 {START:X}"
    assert out["wait"] == "5"
    assert out["cycles"] == "123456789ABCDEF"
    assert out["irq"] == "1 1"
    assert "another accelerator config" in out["error2"]
    assert out["input"] == "104 256 output 1352"


def test_tensor_names_become_unique_c_identifiers() -> None:
    cfg = PRESETS["tiny"]
    tensors = [
        ImageTensor("output", "fc.out", 0, 4, (1, 4), None),
        ImageTensor("output", "fc_out", 4, 4, (1, 4), None),
        ImageTensor("input", "0in", 8, 4, (1, 4), None),
    ]
    text = c_header(cfg, 16, tensors)
    for name in ("DIAN_OUTPUT_FC_OUT_OFFSET 0u", "DIAN_OUTPUT_FC_OUT_2_OFFSET 4u", "DIAN_INPUT_T_0IN_OFFSET 8u"):
        assert f"#define {name}" in text
