"""Slow tier: the simulated SoC (`dian build --board sim`) in Verilator, driven through UARTBone only,
as a host drives a board: the bridge and CSRs answer, the accelerator's registers sit at board.json's
``accel_regs``, the SDRAM at ``dram.host_base`` holds what the host writes, and the accelerator,
started on program.bin placed there, ends without an error having read and written exactly the
bytes sim/machine counts, leaving the same DRAM image behind, byte for byte (the independent
reference: the machine simulator on the same image)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from soc_sim import SimBus, build

from dian import api
from dian.hwgen.accel_config import accel_config_from_json, config_hash
from dian.hwgen.csr_map import ID, Control, Reg, Status
from dian.hwgen.tools.toolchain import has_tool
from dian.simulate import run_machine

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not has_tool("verilator"), reason="verilator not installed")]


def _csr(out: Path, name: str) -> int:
    for line in (out / "csr.csv").read_text().splitlines():
        if line.startswith(f"csr_register,{name},"):
            return int(line.split(",")[2], 16)
    raise KeyError(name)


def test_the_simulated_soc_runs_the_program_like_the_machine_simulator(lenet_tiny: Path, tmp_path: Path) -> None:
    folder = tmp_path / "lenet"
    shutil.copytree(lenet_tiny, folder, ignore=shutil.ignore_patterns("board"))
    out = api.build_board(folder, "sim").out_dir
    doc = json.loads((out / "board.json").read_text())
    exe = build(out, [folder / "rtl" / "dian_accel.v"], tmp_path / "verilator")
    bus = SimBus(exe, out / "gateware")
    try:
        scratch = _csr(out, "ctrl_scratch")
        bus.write(scratch, 0x1234_5678)
        assert bus.read(scratch) == [0x1234_5678]
        regs = doc["accel_regs"]
        assert bus.read(regs + Reg.ID) == [ID]
        cfg = accel_config_from_json((folder / "accel.json").read_text())
        digest = config_hash(cfg)
        want = [int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4)]
        assert bus.read(regs + Reg.CONFIG_HASH0, 4) == want
        for step in doc["sdram_init"]["steps"]:  # the model needs none, and takes it as a board would
            if step[0] == "write":
                bus.write(step[1], step[2])

        image = (folder / "program.bin").read_bytes()
        image += bytes(-len(image) % 4)
        words = [int.from_bytes(image[i : i + 4], "little") for i in range(0, len(image), 4)]
        host = doc["dram"]["host_base"]
        bus.write(host, words)
        assert bus.read(host, len(words)) == words
        bus.write(regs + Reg.BASE_ADDR, doc["dram"]["accel_base"])
        bus.write(regs + Reg.IRQ_ENABLE, 1)
        bus.write(regs + Reg.CONTROL, int(Control.START))
        for _ in range(10_000):
            status = bus.read(regs + Reg.STATUS)[0]
            if status & Status.DONE:
                break
        assert status & Status.DONE and not status & Status.ERROR, hex(status)
        assert bus.read(doc["accel_irq_csr"]) == [1]

        def counter(lo: Reg) -> int:
            low = bus.read(regs + lo)[0]  # the low word first: its read latches the high word
            return low | bus.read(regs + lo + 4)[0] << 32

        cycles, read, written = (counter(r) for r in (Reg.CYCLES_LO, Reg.BYTES_READ_LO, Reg.BYTES_WRITTEN_LO))
        after = b"".join(w.to_bytes(4, "little") for w in bus.read(host, len(words)))
    finally:
        bus.close()
    dram, machine = run_machine(cfg, np.frombuffer(image, dtype=np.uint8).copy(), 10**8)
    assert after == dram.tobytes()  # every activation the accelerator left in the SDRAM
    assert (read, written) == (machine.dram_bytes_read, machine.dram_bytes_written)
    assert cycles >= machine.cycles  # the ideal memory is the fastest
    print(f"cycles: {cycles:,} on the SDRAM model, {machine.cycles:,} on the ideal memory")


def test_dian_run_on_the_simulated_soc_matches_the_reference(lenet_tiny: Path, tmp_path: Path) -> None:
    """`dian run --on board --board sim`: the host runtime (LitexBus: LiteX's CommUART over the
    harness's socket) replays the SDRAM init, checks, loads, runs and reads back; the outputs must be
    the reference simulator's (run_on raises otherwise) and the byte counters sim/machine's."""
    from dian.runtime.folder import input_bytes, load_accel_folder

    folder = tmp_path / "lenet"
    shutil.copytree(lenet_tiny, folder, ignore=shutil.ignore_patterns("board"))
    api.build_board(folder, "sim")
    x = np.random.default_rng(4).random((1, 1, 8, 8)).astype(np.float32) * 16
    run = api.run_on(folder, x, "board", board="sim")
    np.testing.assert_array_equal(run.inference.output, api.run_model(folder, x))
    acc = load_accel_folder(folder)
    from dian.sim.host import quantize_for

    dram = np.frombuffer(acc.image, dtype=np.uint8).copy()
    for addr, data in input_bytes(acc, quantize_for(acc.graph, x, "x")[1]):
        dram[addr : addr + len(data)] = np.frombuffer(data, dtype=np.uint8)
    _, machine = run_machine(acc.cfg, dram, 10**8)
    c = run.inference.counters
    assert (c.dram_bytes_read, c.dram_bytes_written) == (machine.dram_bytes_read, machine.dram_bytes_written)
    assert c.cycles >= machine.cycles
