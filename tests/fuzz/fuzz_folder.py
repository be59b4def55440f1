"""The folder the read-side fuzzer damages: the digits LeNet compiled for the tiny accelerator
(without rtl/: nothing here needs Verilog), with a board build's board.json and a synthesis
report planted beside it so that every artifact dian reads from a folder is there to damage."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

SHAPE = (1, 1, 8, 8)
BOARD = "testboard"
#: Every artifact a read command opens, relative to the folder.
ARTIFACTS = (
    "manifest.json",
    "model.ir.json",
    "model.float.ir.json",
    "accel.json",
    "image.json",
    "program.bin",
    "schedules/conv1.json",
    "schedules/fc2.json",
    "summary.txt",
    f"board/{BOARD}/board.json",
    "synth/ecp5-25k/report.json",
)


def plant_records(folder: Path) -> None:
    """A board.json the runtime accepts (tests/runtime's form) and a synthesis report `dian info` lists."""
    digest = hashlib.sha256((folder / "accel.json").read_bytes()).hexdigest()
    board = {
        "format": "dian.board",
        "format_version": 1,
        "board": BOARD,
        "accel_regs": 0xF000_0000,
        "dram": {"host_base": 0x4000_0000, "accel_base": 0, "size": 1 << 20},
        "sdram_init": {"steps": [["write", 0xF000_1000, 14], ["wait_us", 10]]},
        "clocks": {"sys_hz": 50_000_000},
        "rtl_sha256": {"accel.json": digest},
    }
    (folder / "board" / BOARD).mkdir(parents=True)
    (folder / "board" / BOARD / "board.json").write_text(json.dumps(board, indent=1))
    report = {"format": "dian.synth", "format_version": 1, "target": "ecp5-25k", "rtl_sha256": {"accel.json": digest}}
    (folder / "synth" / "ecp5-25k").mkdir(parents=True)
    (folder / "synth" / "ecp5-25k" / "report.json").write_text(json.dumps(report, indent=1))
