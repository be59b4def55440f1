"""What the co-search's network side costs on this CPU, single-threaded.

* supernet forward + backward of one batch of 64 training images (cross-entropy, gradients to the
  weights and to op and width logits), median of ``--repeats``: with soft Gumbel-softmax samples
  (every candidate of every block computed) and with straight-through hard samples (one candidate
  per block);
* derived-network training (nas/train.py, Adam + cosine, batch 64) of a typical architecture for
  a few epoch counts: wall-clock time and test accuracy.

    .venv/bin/python benchmarks/bench_nas.py [--repeats 5] [--digits-epochs 5,10,20] [--mnist-epochs 3,5,10]

Writes benchmarks/results/nas_training.md and .json. The machine is shared: the load average
at the start is recorded with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from dian.nas.data import load_dataset
from dian.nas.space import SPACES, Arch
from dian.nas.supernet import SuperNet, arch_logits_shape, derive, gumbel_choices
from dian.nas.train import accuracy, train

RESULTS = Path(__file__).with_name("results")
TYPICAL = Arch((1, 6, 4, 1, 4, 6), (1, 1, 1))  # k3e3 skip | k5e3 k3e3 | k5e3 skip at the middle widths


def supernet_step_seconds(space_name: str, hard: bool, repeats: int) -> float:
    space, ds = SPACES[space_name], load_dataset(space_name)
    torch.manual_seed(0)
    net = SuperNet(space).train()
    op_shape, width_shape = arch_logits_shape(space)
    op_logits = torch.zeros(op_shape, requires_grad=True)
    width_logits = torch.zeros(width_shape, requires_grad=True)
    x, y = torch.from_numpy(ds.x_train[:64].copy()), torch.from_numpy(ds.y_train[:64].copy())
    times = []
    for _ in range(repeats + 1):  # the first run warms up
        t0 = time.perf_counter()
        op_w, width_w = gumbel_choices(space, op_logits, width_logits, tau=5.0, hard=hard)
        F.cross_entropy(net(x, op_w, width_w), y).backward()
        times.append(time.perf_counter() - t0)
    return statistics.median(times[1:])


def derived_training(space_name: str, epochs: int) -> dict[str, float]:
    ds = load_dataset(space_name)
    t0 = time.perf_counter()
    net = train(derive(SPACES[space_name], TYPICAL), ds.x_train, ds.y_train, epochs, seed=0)
    seconds = time.perf_counter() - t0
    return {
        "epochs": epochs,
        "seconds": round(seconds, 2),
        "test_accuracy": round(accuracy(net, ds.x_test, ds.y_test), 4),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--digits-epochs", default="5,10,20")
    ap.add_argument("--mnist-epochs", default="3,5,10")
    args = ap.parse_args()
    torch.set_num_threads(1)
    doc: dict = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch "
        f"{torch.__version__}, 1 thread",
        "load_average": os.getloadavg()[0],
        "arch": TYPICAL.to_json(),
        "supernet_ms": {},
        "training": {},
    }
    for name in ("digits", "mnist"):
        doc["supernet_ms"][name] = {
            kind: round(1e3 * supernet_step_seconds(name, kind == "hard", args.repeats), 1) for kind in ("soft", "hard")
        }
        print(name, "supernet fwd+bwd ms per batch of 64:", doc["supernet_ms"][name], flush=True)
        epochs = [int(e) for e in getattr(args, f"{name}_epochs").split(",")]
        doc["training"][name] = [derived_training(name, e) for e in epochs]
        for row in doc["training"][name]:
            print(name, "derived training:", row, flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "nas_training.json").write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    lines = [
        f"# nas: supernet step and derived-net training ({doc['machine']}; load average "
        f"{doc['load_average']:.1f} at the start)",
        "",
        "| data | supernet fwd+bwd, batch 64, soft (all candidates) | hard straight-through (one per block) |",
        "|---|---|---|",
    ]
    lines += [f"| {n} | {v['soft']} ms | {v['hard']} ms |" for n, v in doc["supernet_ms"].items()]
    lines += [
        "",
        f"Derived network {SPACES['digits'].describe(TYPICAL).replace(chr(10), '; ')}, Adam + cosine, "
        f"batch 64, seed 0:",
        "",
        "| data | epochs | seconds | test accuracy |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {n} | {r['epochs']} | {r['seconds']} | {r['test_accuracy']:.2%} |"
        for n, rs in doc["training"].items()
        for r in rs
    ]
    (RESULTS / "nas_training.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
