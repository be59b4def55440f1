"""Energy estimate of a layer from its exact access counts.

dian measures cycles and DRAM bytes exactly (performance counters); energy
has no counter, so it is the access counts of search/cost_model.py times a
per-access energy table. The table is the 45 nm figures of M. Horowitz,
"Computing's energy problem (and what we can do about it)", ISSCC 2014,
keynote, Fig. 1.1.9 — the usual source for first-order accelerator energy
models (Eyeriss, ZigZag's defaults, Timeloop's examples use the same
numbers):

* 8-bit integer multiply 0.2 pJ, 32-bit integer add 0.1 pJ: a PE-cycle doing
  a MAC with a 32-bit accumulation = 0.3 pJ (``E_MAC_PJ``), charged per
  busy-PE cycle: array-occupied PE-cycles, padding rows and lanes included,
  which switch like useful ones.
* SRAM read of 64 bits: 10 pJ from 8 KB, 20 pJ from 32 KB, 100 pJ from 1 MB.
  Per byte that is 1.25 pJ x sqrt(size / 8 KB) within 15 % over that range
  (``sram_pj_per_byte``); writes are charged like reads. Each buffer is
  charged at the size of one half (the half an access reaches).
* DRAM access of 64 bits: 1.3 - 2.6 nJ; the midpoint, 1.95 nJ, is 244 pJ/byte.

These are ASIC figures; on an FPGA the absolute numbers differ (block RAM
and DSP energies are vendor-specific), but the ratios — DRAM two orders of
magnitude above SRAM, SRAM above a MAC — hold, and the ratios are what the
mapper's choice depends on.
"""

from __future__ import annotations

import math

import numpy as np

from dian.hwgen.accel_config import AccelConfig

from .replay import LayerCost

E_MAC_PJ = 0.2 + 0.1
E_DRAM_PJ_PER_BYTE = 1950.0 / 8
_SRAM_REF_BYTES, _SRAM_REF_PJ_PER_BYTE = 8 * 1024, 10.0 / 8


def sram_pj_per_byte(nbytes: int) -> float:
    """Energy of one byte of a read or write in an SRAM of ``nbytes``."""
    return _SRAM_REF_PJ_PER_BYTE * math.sqrt(max(nbytes, 1) / _SRAM_REF_BYTES)


def buffer_bytes(cfg: AccelConfig, buffer: str) -> int:
    """Bytes of one half of a double buffer (PBUF: its entries; FBUF: all of it)."""
    if buffer == "pbuf":
        return cfg.pbuf_entries * cfg.pbuf_entry_bytes // 2
    if buffer == "lbuf":
        return cfg.lbuf_entries * cfg.lanes // 2
    if buffer == "fbuf":  # the fusion buffer has no halves (docs/accelerator.md, "Fusion buffer")
        return cfg.fbuf.bytes
    return int(getattr(cfg, buffer).bytes) // 2


def layer_energy_pj(cfg: AccelConfig, cost: LayerCost) -> np.ndarray:
    """Energy in pJ of every mapping in ``cost``: MACs, on-chip buffer traffic, DRAM traffic."""
    e = cost.busy_pe * E_MAC_PJ + (cost.dram_read + cost.dram_write) * E_DRAM_PJ_PER_BYTE
    for buf, nbytes in cost.sram_bytes.items():
        e = e + nbytes * sram_pj_per_byte(buffer_bytes(cfg, buf))
    return np.asarray(e, dtype=float)
