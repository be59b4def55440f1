"""Exact cost tables of a search space on a hardware space, and their torch form.

Every option the co-search can pick — block ``b`` as op ``o`` with input
width ``i`` and output width ``j``; the head on the last stage's width —
is built as a shape graph (nas/shape_graph.py), each of its layers mapped
by the mapper's exact choice (search/mapper.py ``best_choices``, energy by search/energy.py: the
tiling and array mode the compile path will pick) on every hardware
option, and its cycles and energy summed. A network's cost is then the
table entries of its choices plus the hardware's fixed part (boot, done,
the stem). Layers are timed as if their program began at chunk 0; in the
whole program a chunk-table fetch can move by one bus beat per layer, so
a one-hot sum may differ from the compiled network's exact count by a few
cycles a layer (tests/nas measure the bound).

:class:`RelaxedCoCost` contracts the tables with the softmax probabilities
of the op, width and hardware choices: the expected cycles and energy,
differentiable in all three sets of logits, exact at one-hot choices (up to
that chunk bound).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from dian.errors import AccelConfigError
from dian.hwgen import timing
from dian.hwgen.accel_config import AccelConfig
from dian.hwgen.lower.workload import Work
from dian.ir import Graph
from dian.search.cost_model import layer_works
from dian.search.mapper import DEFAULT_TOP_K, best_choices
from dian.search.objective import Objective

from .hardware import HardwareOption
from .shape_graph import block_graph, head_graph, stem_graph
from .space import OPS, SKIP, Arch, SearchSpace

if TYPE_CHECKING:
    import torch

#: Cost of an option that cannot run on a config (no tiling fits): large, finite, so gradients stay defined.
INFEASIBLE = 1e12
TABLE_TOP_K = DEFAULT_TOP_K  # candidates timed per layer mode: as `dian compile` maps, so the tables price its choices


@dataclass(frozen=True)
class CoTables:
    """``block_*[b, o, i, j, h]``: block ``b`` as op ``o`` from input width index ``i`` to output
    width index ``j`` on hardware option ``h`` (a block that keeps its stage's width uses
    ``i == j``; the first block of stage 0 reads the stem: ``i == 0``); ``head_*[j, h]`` the head on
    the last stage's width ``j``; ``fixed_*[h]`` boot, done and the stem. Unused entries hold
    INFEASIBLE."""

    block_cycles: np.ndarray
    block_energy: np.ndarray
    head_cycles: np.ndarray
    head_energy: np.ndarray
    fixed_cycles: np.ndarray
    fixed_energy: np.ndarray
    fits: np.ndarray  # [h] bool: the hardware option fits the target

    def network(self, space: SearchSpace, arch: Arch, h: int) -> tuple[float, float]:
        """(cycles, energy pJ) of ``arch`` on hardware option ``h`` by the tables."""
        cycles, energy = self.fixed_cycles[h], self.fixed_energy[h]
        for b, i, j in _block_indices(space, arch):
            cycles += self.block_cycles[b, arch.ops[b], i, j, h]
            energy += self.block_energy[b, arch.ops[b], i, j, h]
        last = arch.widths[-1]
        return float(cycles + self.head_cycles[last, h]), float(energy + self.head_energy[last, h])


def _block_indices(space: SearchSpace, arch: Arch) -> list[tuple[int, int, int]]:
    out = []
    for site in space.sites:
        j = arch.widths[site.stage]
        i = (0 if site.stage == 0 else arch.widths[site.stage - 1]) if site.first else j
        out.append((site.index, i, j))
    return out


def _in_widths(space: SearchSpace, b: int) -> tuple[int, ...]:
    """The input widths block ``b`` can see, by index (tied blocks: their own stage's)."""
    site = space.sites[b]
    if not site.first:
        return space.stages[site.stage].widths
    return (space.stem_channels,) if site.stage == 0 else space.stages[site.stage - 1].widths


def block_options(space: SearchSpace) -> list[tuple[int, int, int, int, int, int]]:
    """Every priced (block, op, i, j) option with its in and out channels (skip has none)."""
    keys: list[tuple[int, int, int, int, int, int]] = []
    for site in space.sites:
        widths = space.stages[site.stage].widths
        for o in space.allowed_ops(site.index):
            if o == SKIP:
                continue
            for j, c_out in enumerate(widths):
                pairs = [(j, c_out)] if not site.first else list(enumerate(_in_widths(space, site.index)))
                keys.extend((site.index, o, i, j, c_in, c_out) for i, c_in in pairs)
    return keys


def option_graphs(space: SearchSpace) -> tuple[dict[tuple[int, int, int, int], Graph], dict[int, Graph], Graph]:
    """Shape graphs of every (block, op, i, j) option (skip has none), every head width, the stem."""
    sites = space.sites
    blocks = {
        (b, o, i, j): block_graph(space, sites[b], o, c_in, c_out) for b, o, i, j, c_in, c_out in block_options(space)
    }
    heads = {j: head_graph(space, c) for j, c in enumerate(space.stages[-1].widths)}
    return blocks, heads, stem_graph(space)


def _work_key(w: Work) -> tuple[object, ...]:
    return (w.kind, w.n, w.c, w.k, w.h, w.w, w.oy, w.ox, w.fy, w.fx, w.stride, w.padding, w.dilation)


def graph_costs(
    graphs: Sequence[Graph], cfg: AccelConfig, top_k: int = TABLE_TOP_K, objective: Objective = "latency"
) -> np.ndarray:
    """``[len(graphs), 2]``: each graph's (cycles, energy pJ) share on ``cfg`` — its layers under the
    mapper's choice for ``objective``, each distinct layer shape timed once; INFEASIBLE where a layer
    cannot run. ``cfg`` must have no fusion buffer: the tables price layers one at a time, and a fused
    block is priced as a whole (search/fused_cost.py); the co-search's hardware space has none."""
    if cfg.fbuf.bytes:
        raise AccelConfigError(
            f"the co-search's cost tables price layers one at a time and cannot price config '{cfg.name}''s "
            f"fusion buffer (fbuf.bytes = {cfg.fbuf.bytes}), whose fused blocks are priced whole; use fbuf = 0 "
            f"(`dian explore --price` prices a config with one)."
        )
    per_graph = [layer_works(g, cfg)[1] for g in graphs]
    unique: dict[tuple[object, ...], Work] = {}
    for works in per_graph:
        for w in works:
            unique.setdefault(_work_key(w), w)
    keys = list(unique)
    choices, _ = best_choices([(unique[k], ()) for k in keys], cfg, objective, top_k)
    cost = {k: (None if c is None else (c.share, c.energy_pj)) for k, c in zip(keys, choices, strict=True)}
    out = np.zeros((len(graphs), 2))
    for n, works in enumerate(per_graph):
        for w in works:
            c = cost[_work_key(w)]
            if c is None:
                out[n] = INFEASIBLE
                break
            out[n] += c
    return out


def _config_key(cfg: AccelConfig) -> AccelConfig:
    return dataclasses.replace(cfg, name="")


def cost_tables(
    space: SearchSpace,
    hardware: Sequence[HardwareOption],
    top_k: int = TABLE_TOP_K,
    on_config: Callable[[int, int], None] | None = None,
    objective: Objective = "latency",
) -> CoTables:
    """The tables of ``space`` on every hardware option (options that do not fit are still priced,
    so the relaxed cost stays defined; their probability is masked). Each layer takes the mapping
    the mapper picks for ``objective``, as `dian compile --objective` will. ``on_config(done,
    total)`` reports progress over the distinct configs."""
    blocks, heads, stem = option_graphs(space)
    n_ops, n_w = len(OPS), max(len(s.widths) for s in space.stages)
    H = len(hardware)
    shape = (space.n_blocks, n_ops, n_w, n_w, H)
    bc, be = np.full(shape, INFEASIBLE), np.full(shape, INFEASIBLE)
    hc, he = np.full((n_w, H), INFEASIBLE), np.full((n_w, H), INFEASIBLE)
    fc, fe = np.zeros(H), np.zeros(H)
    for site in space.sites:
        if SKIP in space.allowed_ops(site.index):  # identity: no layers, no cost
            widths = len(space.stages[site.stage].widths)
            bc[site.index, SKIP, range(widths), range(widths)] = 0.0
            be[site.index, SKIP, range(widths), range(widths)] = 0.0
    block_keys, head_keys = list(blocks), list(heads)
    graphs = [blocks[k] for k in block_keys] + [heads[j] for j in head_keys] + [stem]
    distinct: dict[AccelConfig, list[int]] = {}
    for h, opt in enumerate(hardware):
        distinct.setdefault(_config_key(opt.cfg), []).append(h)
    for done, hs in enumerate(distinct.values()):
        cfg = hardware[hs[0]].cfg
        costs = graph_costs(graphs, cfg, top_k, objective)
        for h in hs:
            for n, (b, o, i, j) in enumerate(block_keys):
                bc[b, o, i, j, h], be[b, o, i, j, h] = costs[n]
            for n, j in enumerate(head_keys):
                hc[j, h], he[j, h] = costs[len(block_keys) + n]
            fc[h] = costs[-1, 0] + timing.boot_cycles(cfg) + timing.done_cycles(cfg)
            fe[h] = costs[-1, 1]
        if on_config is not None:
            on_config(done + 1, len(distinct))
    fits = np.array([opt.fits for opt in hardware])
    return CoTables(bc, be, hc, he, fc, fe, fits)


class RelaxedCoCost:
    """Expected (cycles, energy pJ) under independent categorical choices, in torch.

    ``op_probs[b, o]`` (zero where a block may not take ``o``), ``width_probs[s, j]`` (zero past a
    stage's widths) and ``hw_probs[h]`` (zero where the option does not fit) are probabilities —
    softmax or Gumbel-softmax samples. A block that changes width sees the previous stage's width
    and its own as independent choices; a block that keeps it, its own stage's only."""

    def __init__(self, space: SearchSpace, tables: CoTables) -> None:
        import torch

        t = lambda a: torch.as_tensor(np.minimum(a, INFEASIBLE), dtype=torch.float64)  # noqa: E731
        self.space = space
        self.block = torch.stack([t(tables.block_cycles), t(tables.block_energy)])  # [2, B, O, I, J, H]
        self.head = torch.stack([t(tables.head_cycles), t(tables.head_energy)])  # [2, J, H]
        self.fixed = torch.stack([t(tables.fixed_cycles), t(tables.fixed_energy)])  # [2, H]

    def per_hardware(self, op_probs: torch.Tensor, width_probs: torch.Tensor) -> torch.Tensor:
        """``[2, H]``: expected (cycles, energy) of the network distribution on each hardware option."""
        import torch

        ops = op_probs.to(torch.float64)
        wid = width_probs.to(torch.float64)
        total = self.fixed.clone()
        for site in self.space.sites:
            b, s = site.index, site.stage
            nj = len(self.space.stages[s].widths)
            pj = wid[s, :nj]
            table = self.block[:, b, :, :, :nj, :]  # [2, O, I, J, H]
            if not site.first:
                diag = torch.diagonal(table[:, :, :nj, :, :], dim1=2, dim2=3)  # [2, O, H, J]
                total = total + torch.einsum("o,j,xohj->xh", ops[b], pj, diag)
            else:
                ni = 1 if s == 0 else len(self.space.stages[s - 1].widths)
                pi = torch.ones(1, dtype=torch.float64) if s == 0 else wid[s - 1, :ni]
                total = total + torch.einsum("o,i,j,xoijh->xh", ops[b], pi, pj, table[:, :, :ni])
        last = len(self.space.stages[-1].widths)
        return total + torch.einsum("j,xjh->xh", wid[-1, :last], self.head[:, :last])

    def __call__(
        self, op_probs: torch.Tensor, width_probs: torch.Tensor, hw_probs: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Expected (cycles, energy pJ) over the network and hardware distributions."""
        per_hw = self.per_hardware(op_probs, width_probs)
        return per_hw[0] @ hw_probs.to(per_hw.dtype), per_hw[1] @ hw_probs.to(per_hw.dtype)
