"""The co-search loop (DIAN/DNA): supernet weights, network choices and hardware choices,
trained in alternation.

Per mini-batch, three updates, FBNet's relaxation throughout:

1. **weights** — a Gumbel-softmax sample of every block's op and every stage's width
   weighs every candidate of the supernet; cross-entropy on the weight-training split
   updates the weights (the choice logits get no gradient from this step). Soft samples
   train every candidate every step: on digits, single-path (SPOS-style) sampling left the
   supernet at chance after 8 epochs, while the relaxed supernet learns within one;
2. **network** — another sample, on the architecture-validation split, gives the task loss a
   gradient in the op and width logits; the cost term adds ``lam * log(E[cost] / cost0)``,
   where E[cost] is the exact cost tables' expectation under the softmax of the logits
   (nas/costs.py) and cost0 its value at the start, so ``lam`` weighs relative cost against
   cross-entropy whatever the network's size. Latency is each hardware option's cycles over
   the clock it is priced at (its predicted Fmax, capped: nas/hardware.py), so a faster-routing
   option wins over one with the same cycles;
3. **hardware** — the same cost term, alone, updates the hardware knobs' logits (the
   hardware does not change what the network computes).

The first ``warmup_epochs`` train only the weights, with the logits at zero, so the network
choices are compared on trained candidates. The Gumbel temperature decays per epoch after
the warm-up, so the samples, and with them the supernet, concentrate on the likely
networks. Every random draw comes from a generator seeded by ``seed`` and saved in the
checkpoint, and training runs single-threaded, so a search is reproducible bit for bit and
a resumed one continues exactly as an uninterrupted one would.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from dian.errors import CheckpointError, SearchSpaceError
from dian.safe_paths import write_file
from dian.search.objective import OBJECTIVES

from .checkpoint import CHECKPOINT, checkpoint_bytes, read_checkpoint
from .costs import CoTables, RelaxedCoCost
from .data import Dataset, search_split
from .hardware import HardwareOption
from .space import Arch, SearchSpace
from .supernet import SuperNet, arch_logits_shape, arch_of, gumbel_choices, mask_disallowed, one_hot


@dataclass(frozen=True)
class SearchSettings:
    """The co-search's knobs (their defaults are what `dian search` uses)."""

    objective: str = "latency"
    lam: float = 0.1  # weight of log relative cost against cross-entropy
    epochs: int = 10
    warmup_epochs: int = 3
    batch_size: int = 64
    seed: int = 0
    weight_lr: float = 3e-3
    arch_lr: float = 5e-2
    hw_lr: float = 5e-2
    tau0: float = 5.0
    tau_decay: float = 0.75  # per epoch after warm-up
    tau_min: float = 0.5
    device: str = "cpu"

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise SearchSpaceError(
                f"the search objective must be one of {', '.join(OBJECTIVES)}; got {self.objective!r}."
            )
        if self.epochs < 1 or not 0 <= self.warmup_epochs <= self.epochs:
            raise SearchSpaceError(
                f"a search needs at least one epoch and 0 <= warm-up <= epochs; got epochs "
                f"{self.epochs}, warm-up {self.warmup_epochs}."
            )
        if self.lam < 0:
            raise SearchSpaceError(f"the cost weight lam must be >= 0; got {self.lam}.")


@dataclass
class EpochLog:
    """One line of the per-epoch log (search/log.jsonl)."""

    epoch: int
    tau: float
    train_loss: float
    val_loss: float | None  # None in warm-up epochs (no architecture step)
    expected_cycles: float
    expected_energy_uj: float
    arch: dict[str, list[int]]
    hardware: int
    val_accuracy: float  # of the argmax architecture with the supernet's weights
    cycles: float  # of the argmax architecture on the argmax hardware, by the tables
    seconds: float


@dataclass
class SearchState:
    """Everything a checkpoint holds."""

    epoch: int = 0
    log: list[EpochLog] = field(default_factory=list)
    seconds: float = 0.0


class CoSearch:
    """A co-search of ``space`` x ``hardware`` on ``data``, checkpointed in ``work_dir``."""

    def __init__(
        self,
        space: SearchSpace,
        hardware: list[HardwareOption],
        tables: CoTables,
        data: Dataset,
        settings: SearchSettings,
        work_dir: Path,
    ) -> None:
        if not any(h.fits for h in hardware):
            raise SearchSpaceError(f"no hardware option fits the target (the first: {hardware[0].why_not}).")
        self.space, self.hardware, self.tables, self.s = space, hardware, tables, settings
        self.work_dir = work_dir
        self.device = torch.device(settings.device)
        split = search_split(data, seed=settings.seed)
        to = lambda a, dt=torch.float32: torch.as_tensor(np.array(a), dtype=dt)  # noqa: E731
        self.x_w, self.y_w = to(split.x_weights), to(split.y_weights, torch.int64)
        self.x_a, self.y_a = to(split.x_arch), to(split.y_arch, torch.int64)
        torch.manual_seed(settings.seed)  # supernet initialisation only
        self.net = SuperNet(space).to(self.device)
        op_shape, width_shape = arch_logits_shape(space)
        self.op_logits = torch.zeros(op_shape, requires_grad=True)
        self.width_logits = torch.zeros(width_shape, requires_grad=True)
        sizes = _knob_sizes(hardware)
        self.hw_logits = [torch.zeros(k, requires_grad=True) for k in sizes]
        self.hw_fits = torch.tensor([h.fits for h in hardware])
        self.cost = RelaxedCoCost(space, tables)
        self.us_per_cycle = torch.tensor([1.0 / h.clock_mhz for h in hardware], dtype=torch.float64)
        self.w_opt = torch.optim.Adam(self.net.parameters(), lr=settings.weight_lr)
        self.a_opt = torch.optim.Adam([self.op_logits, self.width_logits], lr=settings.arch_lr)
        self.h_opt = torch.optim.Adam(self.hw_logits, lr=settings.hw_lr)
        self.gen = torch.Generator().manual_seed(settings.seed)
        self.state = SearchState()
        with torch.no_grad():
            c0, e0 = self.latency_energy(*self.probabilities())
        self.cost0 = (float(c0), float(e0))

    # -- the distributions -------------------------------------------------------------------
    def probabilities(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Softmax probabilities of the ops, widths and hardware options (masked)."""
        ops = F.softmax(mask_disallowed(self.op_logits, self.space), dim=1)
        widths = F.softmax(mask_disallowed(self.width_logits, self.space), dim=1)
        return ops, widths, self.hw_probabilities()

    def hw_probabilities(self) -> torch.Tensor:
        """Product of the knobs' softmaxes, renormalised over the options that fit."""
        knobs = [F.softmax(lg, dim=0) for lg in self.hw_logits]
        joint = knobs[0]
        for k in knobs[1:]:
            joint = torch.outer(joint, k).reshape(-1)
        joint = joint * self.hw_fits
        return joint / joint.sum()

    def _sample(self, tau: float) -> tuple[torch.Tensor, torch.Tensor]:
        """Soft Gumbel-softmax samples of the op and width choices (differentiable in the logits)."""
        return gumbel_choices(self.space, self.op_logits, self.width_logits, tau, hard=False, generator=self.gen)

    def latency_energy(
        self, ops: torch.Tensor, widths: torch.Tensor, hw: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Expected latency (us, each option's cycles at its priced clock) and energy (pJ)."""
        per_hw = self.cost.per_hardware(ops, widths)
        hw = hw.to(per_hw.dtype)
        return (per_hw[0] * self.us_per_cycle) @ hw, per_hw[1] @ hw

    def cost_term(self, ops: torch.Tensor, widths: torch.Tensor, hw: torch.Tensor) -> torch.Tensor:
        latency, energy = self.latency_energy(ops, widths, hw)
        rel_c, rel_e = latency / self.cost0[0], energy / self.cost0[1]
        rel = {"latency": rel_c, "energy": rel_e, "edp": rel_c * rel_e}[self.s.objective]
        return torch.log(rel)

    def tau(self, epoch: int) -> float:
        past = max(0, epoch - self.s.warmup_epochs)
        return max(self.s.tau_min, self.s.tau0 * self.s.tau_decay**past)

    # -- the derived choice --------------------------------------------------------------------
    def derived(self) -> tuple[Arch, int]:
        """The argmax architecture and hardware option."""
        return arch_of(self.space, self.op_logits, self.width_logits), int(self.hw_probabilities().argmax())

    def _net(self, x: torch.Tensor, ops: torch.Tensor, widths: torch.Tensor) -> torch.Tensor:
        return self.net(x.to(self.device), ops.to(self.device), widths.to(self.device))

    # -- training ------------------------------------------------------------------------------
    def run_epoch(self, on_batch: Callable[[int, int], None] | None = None) -> EpochLog:
        """One epoch of the three updates; ``on_batch(done, total)`` after every mini-batch."""
        epoch = self.state.epoch
        t0 = time.perf_counter()
        tau = self.tau(epoch)
        warm = epoch < self.s.warmup_epochs
        self.net.train()
        order = torch.randperm(len(self.x_w), generator=self.gen)
        arch_order = torch.randperm(len(self.x_a), generator=self.gen)
        n_batches = math.ceil(len(order) / self.s.batch_size)
        train_loss = val_loss = 0.0
        for step in range(n_batches):
            idx = order[step * self.s.batch_size : (step + 1) * self.s.batch_size]
            ops, widths = (t.detach() for t in self._sample(tau))
            self.w_opt.zero_grad()
            loss = F.cross_entropy(self._net(self.x_w[idx], ops, widths), self.y_w[idx].to(self.device))
            loss.backward()
            self.w_opt.step()
            train_loss += float(loss.detach())
            if on_batch is not None:
                on_batch(step + 1, n_batches)
            if warm:
                continue
            a_idx = arch_order[(step * self.s.batch_size) % len(arch_order) :][: self.s.batch_size]
            ops, widths = self._sample(tau)
            self.a_opt.zero_grad()
            p_ops, p_widths, p_hw = self.probabilities()
            ce = F.cross_entropy(self._net(self.x_a[a_idx], ops, widths), self.y_a[a_idx].to(self.device))
            (ce + self.s.lam * self.cost_term(p_ops, p_widths, p_hw.detach())).backward()
            self.a_opt.step()
            val_loss += float(ce.detach())
            self.h_opt.zero_grad()
            p_ops, p_widths, p_hw = self.probabilities()
            self.cost_term(p_ops.detach(), p_widths.detach(), p_hw).backward()
            self.h_opt.step()
            self.net.zero_grad(set_to_none=True)
        arch, hw = self.derived()
        with torch.no_grad():
            p = self.probabilities()
            exp_c, exp_e = self.cost(*p)
        entry = EpochLog(
            epoch + 1,
            tau,
            train_loss / n_batches,
            None if warm else val_loss / n_batches,
            float(exp_c),
            float(exp_e) / 1e6,
            {"ops": list(arch.ops), "widths": list(arch.widths)},
            hw,
            self.accuracy(arch),
            self.tables.network(self.space, arch, hw)[0],
            time.perf_counter() - t0,
        )
        self.state.epoch += 1
        self.state.seconds += entry.seconds
        self.state.log.append(entry)
        return entry

    def accuracy(self, arch: Arch) -> float:
        """Top-1 accuracy of ``arch`` with the supernet's weights on the architecture split. Batch
        norm uses the batch's statistics (the running ones average over the whole relaxed
        supernet, not this network) and leaves the running statistics as they were."""
        ops, widths = one_hot(self.space, arch)
        bns = [m for m in self.net.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
        momenta = [m.momentum for m in bns]
        counts = [m.num_batches_tracked.clone() for m in bns if m.num_batches_tracked is not None]
        for m in bns:
            m.momentum = 0.0
        self.net.train()
        correct = 0
        with torch.no_grad():
            for start in range(0, len(self.x_a), 256):
                out = self._net(self.x_a[start : start + 256], ops, widths)
                correct += int((out.argmax(1).cpu() == self.y_a[start : start + 256]).sum())
        for m, mom in zip(bns, momenta, strict=True):
            m.momentum = mom
        tracked = [m.num_batches_tracked for m in bns if m.num_batches_tracked is not None]
        for t, c in zip(tracked, counts, strict=True):
            t.copy_(c)
        return correct / len(self.x_a)

    def run(
        self,
        budget_s: float | None = None,
        on_epoch: Callable[[EpochLog], None] | None = None,
        on_batch: Callable[[int, int], None] | None = None,
    ) -> bool:
        """Run epochs until ``settings.epochs`` (or until the next epoch would pass ``budget_s`` seconds
        of this call), checkpointing after each. Returns True when all epochs ran."""
        t0 = time.perf_counter()
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # one reduction order: bit-reproducible
        try:
            while self.state.epoch < self.s.epochs:
                last = self.state.log[-1].seconds if self.state.log else 0.0
                if budget_s is not None and self.state.log and time.perf_counter() - t0 + last > budget_s:
                    return False
                entry = self.run_epoch(on_batch)
                self.save()
                if on_epoch is not None:
                    on_epoch(entry)
        finally:
            torch.set_num_threads(threads)
        return True

    # -- checkpoints ---------------------------------------------------------------------------
    @property
    def checkpoint_path(self) -> Path:
        return self.work_dir / CHECKPOINT

    def save(self) -> None:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        doc = {
            "settings": asdict(self.s),
            "net": self.net.state_dict(),
            "op_logits": self.op_logits.detach().clone(),
            "width_logits": self.width_logits.detach().clone(),
            "hw_logits": [lg.detach().clone() for lg in self.hw_logits],
            "w_opt": self.w_opt.state_dict(),
            "a_opt": self.a_opt.state_dict(),
            "h_opt": self.h_opt.state_dict(),
            "gen": self.gen.get_state(),
            "state": {
                "epoch": self.state.epoch,
                "seconds": self.state.seconds,
                "log": [asdict(e) for e in self.state.log],
            },
        }
        write_file(self.checkpoint_path, checkpoint_bytes(doc))  # atomic, never through a symlink
        log = "".join(json.dumps(asdict(e), sort_keys=True) + "\n" for e in self.state.log)
        write_file(self.work_dir / "log.jsonl", log)

    def load(self) -> None:
        """Continue from the checkpoint in ``work_dir`` (same settings required). The checkpoint is
        data only (:mod:`dian.nas.checkpoint`); one that does not fit this search is a
        :class:`CheckpointError`."""
        path = self.checkpoint_path
        doc = read_checkpoint(path)
        settings = doc.get("settings")
        if not isinstance(settings, dict):
            raise CheckpointError(f"{path} has no search settings; it is not a checkpoint of `dian search`.")
        saved = {k: v for k, v in settings.items() if k not in ("epochs", "device")}
        mine = {k: v for k, v in asdict(self.s).items() if k not in ("epochs", "device")}
        if saved != mine:
            diff = ", ".join(
                f"{k}: {saved.get(k)!r} -> {mine.get(k)!r}" for k in sorted(mine) if saved.get(k) != mine[k]
            )
            raise SearchSpaceError(
                f"the checkpoint in {self.work_dir} was made with other settings ({diff}); resume "
                f"with the same settings or start a new search in another folder."
            )
        try:
            self._restore(doc)
        except (KeyError, TypeError, ValueError, RuntimeError, IndexError) as e:
            raise CheckpointError(
                f"{path} does not fit this search ({type(e).__name__}: {' '.join(str(e).split())[:200]}); "
                f"start the search again in a new folder."
            ) from None

    def _restore(self, doc: dict[str, Any]) -> None:
        self.net.load_state_dict(doc["net"])
        with torch.no_grad():
            self.op_logits.copy_(doc["op_logits"])
            self.width_logits.copy_(doc["width_logits"])
            for lg, saved_lg in zip(self.hw_logits, doc["hw_logits"], strict=True):
                lg.copy_(saved_lg)
        self.w_opt.load_state_dict(doc["w_opt"])
        self.a_opt.load_state_dict(doc["a_opt"])
        self.h_opt.load_state_dict(doc["h_opt"])
        self.gen.set_state(doc["gen"])
        st = doc["state"]
        self.state = SearchState(int(st["epoch"]), [EpochLog(**e) for e in st["log"]], float(st["seconds"]))


def _knob_sizes(hardware: list[HardwareOption]) -> tuple[int, ...]:
    """Sizes of the knobs of a product space listed in knob order (checked)."""
    sizes = tuple(max(h.knobs[i] for h in hardware) + 1 for i in range(len(hardware[0].knobs)))
    if math.prod(sizes) != len(hardware) or any(
        h.knobs != k for h, k in zip(hardware, np.ndindex(*sizes), strict=True)
    ):
        raise SearchSpaceError("the hardware options are not a full product of knobs in knob order.")
    return sizes


def settings_doc(s: SearchSettings) -> dict[str, Any]:
    return asdict(s)
