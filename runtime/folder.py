"""An output folder compiled with ``--accel``, as a host sees it: the image to
place in memory, where each input goes and each output comes from, and the
counters a run reports. `dian simulate` and every runtime backend read a
folder through here, so that the host's byte rules are written once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dian import outdir
from dian.artifact_io import read_bytes, read_json
from dian.errors import OutputDirError, ProgramError
from dian.hwgen.accel_config import AccelConfig, accel_config_from_file
from dian.hwgen.image_format import MAX_IMAGE_BYTES
from dian.hwgen.lower.input_packing import InputPacking
from dian.hwgen.lower.layout import pack_act, unpack_act
from dian.ir import Graph, load_graph

from .image_layout import check_program, read_layout

__all__ = [
    "AccelFolder",
    "PredictedCounters",
    "RunCounters",
    "host_form",
    "input_bytes",
    "load_accel_folder",
    "predicted_counters",
    "read_slot",
    "slot_tensor",
]

_RECOMPILE = "; recompile the folder with `dian compile`"


@dataclass(frozen=True)
class RunCounters:
    """The accelerator's performance counters (docs/accelerator.md, "Timing contract")."""

    cycles: int
    busy_pe_cycles: int
    dram_bytes_read: int
    dram_bytes_written: int

    def utilization(self, cfg: AccelConfig) -> float:
        return self.busy_pe_cycles / max(1, self.cycles * cfg.pe_rows * cfg.pe_cols)


@dataclass(frozen=True)
class PredictedCounters:
    """What the schedules predict (DIR/schedules/<layer>.json, summed): the counters a
    schedule records. Busy-PE cycles are not among them, so there is no field for them."""

    cycles: int
    dram_bytes_read: int
    dram_bytes_written: int


@dataclass(frozen=True)
class AccelFolder:
    """The parts of an output folder compiled with --accel that a run needs."""

    path: Path
    manifest: dict[str, Any]
    graph: Graph
    cfg: AccelConfig
    image: bytes
    layout: dict[str, Any]
    modified: tuple[str, ...]  # files changed since compile (a run uses them as they are)


def load_accel_folder(out_dir: str | Path) -> AccelFolder:
    """The folder's program, config and image layout, each checked (:mod:`dian.artifact_io`,
    :mod:`.image_layout`), or the error of the first damaged one naming the file and the field."""
    path = Path(out_dir)
    manifest = outdir.read_manifest(path)
    outdir.accel_entry(path, manifest, "program for the accelerator")
    graph = load_graph(path / outdir.INT_IR)
    cfg = accel_config_from_file(path / outdir.ACCEL)
    layout = read_layout(path, graph, cfg)
    image = read_bytes(path / outdir.PROGRAM, ProgramError, limit=MAX_IMAGE_BYTES)
    check_program(path, image, layout, cfg)
    return AccelFolder(path, manifest, graph, cfg, image, layout, outdir.modified_files(path, manifest))


def host_form(slot: dict[str, Any], q: np.ndarray) -> np.ndarray:
    """What the host writes into ``slot`` for the int8 tensor ``q`` (before channel blocking)."""
    q = q.reshape(slot["shape"])
    return InputPacking.from_json(slot["packing"]).apply(q) if "packing" in slot else q


def input_bytes(folder: AccelFolder, q: np.ndarray) -> list[tuple[int, bytes]]:
    """The graph input ``q`` (int8) as the host writes it: (image offset, bytes) per input slot."""
    out = []
    for slot in folder.layout["inputs"]:
        out.append((int(slot["addr"]), pack_act(host_form(slot, q), folder.cfg.lanes).tobytes()))
    return out


def slot_tensor(data: bytes | np.ndarray, slot: dict[str, Any], lanes: int) -> np.ndarray:
    """The tensor in a slot's ``slot["bytes"]`` bytes ``data``; a packed input in its packed form
    (compare it with :func:`host_form`)."""
    x = unpack_act(np.frombuffer(data, dtype=np.uint8), tuple(slot["blocked"]), lanes)
    return x if "packing" in slot else x.reshape(slot["shape"])


def read_slot(dram: np.ndarray, slot: dict[str, Any], lanes: int) -> np.ndarray:
    """A slot's tensor from ``dram`` (the image's bytes, offset 0 = the image's first byte)."""
    return slot_tensor(dram[slot["addr"] : slot["addr"] + slot["bytes"]], slot, lanes)


def predicted_counters(folder: AccelFolder) -> PredictedCounters:
    """The schedules' predictions (DIR/schedules/<layer>.json), summed over the layers, plus the
    boot and done cycles and boot bytes that belong to no layer (the manifest's ``mapping``)."""
    fixed = folder.manifest["accel"]["mapping"]  # its fields are checked by outdir.read_manifest
    total = [int(fixed["boot_and_done_cycles"]), int(fixed["boot_bytes"]), 0]
    for entry in folder.manifest["accel"]["layers"]:
        doc = read_json(folder.path / f"{entry['schedule']}.json", OutputDirError, hint=_RECOMPILE)
        p = doc.get("prediction")
        if p is not None:
            for i, key in enumerate(("cycles", "dram_bytes_read", "dram_bytes_written")):
                total[i] += p[key].as_int(0, 2**48)
    return PredictedCounters(total[0], total[1], total[2])
