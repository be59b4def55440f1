"""The cost model in torch, differentiable in relaxed network and hardware choices.

Co-search (DIAN/DNA) relaxes each discrete choice — which variant a layer
slot takes, which accelerator config is built — into a softmax over the
options and minimises the expected cost by gradient descent. The expected
cost is linear in the option probabilities once every (layer option,
config) pair has a cost, so the torch form is a table lookup: the table
holds the exact cost of each layer option on each config (the mapper's best
tiling for it, timed by search/cost_model.py — the cycles the RTL will
count), and :class:`RelaxedCost` contracts it with the probabilities. At a
one-hot choice it returns exactly the numpy model's figure; in between it is
the expectation, with gradients for the logits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from dian.hwgen import timing
from dian.hwgen.accel_config import AccelConfig
from dian.hwgen.workload import Work

from .mapper import DEFAULT_TOP_K, best_choices

#: Cost of an option that cannot run on a config (no tiling fits): large, finite, so gradients stay defined.
INFEASIBLE = 1e12


@dataclass(frozen=True)
class CostTable:
    """``cycles[s, o, c]`` / ``energy_pj[s, o, c]``: option ``o`` of layer slot ``s`` on config ``c``
    (a slot with fewer options is padded with INFEASIBLE), plus each config's boot and done."""

    cycles: np.ndarray
    energy_pj: np.ndarray
    fixed_cycles: np.ndarray


def cost_table(slots: Sequence[Sequence[Work]], cfgs: Sequence[AccelConfig], top_k: int = DEFAULT_TOP_K) -> CostTable:
    """The exact costs of every option of every slot on every config: each work under its
    fastest candidate mapping (the mapper's :func:`best_choices`, every option timed in one
    batch per config)."""
    n_opt = max(len(s) for s in slots)
    cycles = np.full((len(slots), n_opt, len(cfgs)), INFEASIBLE)
    energy = np.full_like(cycles, INFEASIBLE)
    flat = [(si, oi, w) for si, options in enumerate(slots) for oi, w in enumerate(options)]
    for ci, cfg in enumerate(cfgs):
        choices, _ = best_choices([(w, ()) for _, _, w in flat], cfg, "latency", top_k)
        for (si, oi, _), ch in zip(flat, choices):
            if ch is not None:
                cycles[si, oi, ci], energy[si, oi, ci] = ch.share, ch.energy_pj
    fixed = np.array([timing.boot_cycles(c) + timing.DONE_CYCLES for c in cfgs], dtype=float)
    return CostTable(cycles, energy, fixed)


class RelaxedCost:
    """Expected cycles and energy of the relaxed choices (torch tensors, differentiable).

    ``layer_logits[s, o]`` and ``accel_logits[c]`` are turned into
    probabilities with a softmax at temperature ``tau`` (options a slot does
    not have should be masked with -inf by the caller)."""

    def __init__(self, table: CostTable) -> None:
        import torch

        self.cycles = torch.as_tensor(table.cycles, dtype=torch.float64)
        self.energy = torch.as_tensor(table.energy_pj, dtype=torch.float64)
        self.fixed = torch.as_tensor(table.fixed_cycles, dtype=torch.float64)

    def __call__(self, layer_logits, accel_logits, tau: float = 1.0):  # type: ignore[no-untyped-def]
        import torch

        p_layer = torch.softmax(layer_logits.to(torch.float64) / tau, dim=-1)  # [S, O]
        p_accel = torch.softmax(accel_logits.to(torch.float64) / tau, dim=-1)  # [C]
        per_cfg_cycles = torch.einsum("so,soc->c", p_layer, self.cycles) + self.fixed
        per_cfg_energy = torch.einsum("so,soc->c", p_layer, self.energy)
        return p_accel @ per_cfg_cycles, p_accel @ per_cfg_energy
