"""Calibration methods and sources, and QAT scales, measured on the int8 graph in the reference
simulator (bit-exact with the accelerator).

* The trained digits LeNet (``zoo:lenet``): int8 top-1 accuracy on the 450 held-out test images,
  top-1 agreement with the float model and the logits' SQNR against the float model's
  (``10 log10(sum f^2 / sum (f - q)^2)``), per method (max, percentile 99.99 / 99.9, mse) and
  source (the zoo entry's ``calibration_data`` hook: digits training images; synthetic N(0,1) noise), 64
  samples, calibration seeds 0..``--seeds``-1 (mean, min, max).
* The random-weight zoo nets ``resnet_small`` and ``mobilenet_small`` (no data to be accurate on):
  the outputs' SQNR against float on 32 held-out N(0,1) inputs, calibrated on 64 others, and the
  calibration's wall time per method.
* QAT: the LeNet fine-tuned with torch.ao's ``prepare_qat_fx`` (x86 qconfig; 1 epoch from the
  trained LeNet, and 15 epochs from random weights), compiled un-converted with its learned
  scales: dian's int8 accuracy against torch.ao's ``convert_fx`` model's on all 1,797 digits, their
  top-1 agreement, and dian's accuracy when the same float weights are recalibrated instead (max).

    .venv/bin/python benchmarks/bench_calibration.py [--seeds 5]

Writes benchmarks/results/calibration.md and .json.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import subprocess
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from dian.frontend import CalibMethod, calibration_samples, load_model, lower_model, with_batch
from dian.frontend.zoo.digits import load_split
from dian.frontend.zoo.digits_qat import train_qat_lenet
from dian.frontend.zoo.lenet import LeNet
from dian.frontend.zoo.seeding import seeded
from dian.sim.host import run_compiled

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
METHODS = (("max", None), ("percentile", 99.99), ("percentile", 99.9), ("mse", None))
SAMPLES = 64


def label(method: str, p: float | None) -> str:
    return f"{method} {p:g}" if p is not None else method


def sqnr_db(ref: np.ndarray, q: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(ref.astype(np.float64) ** 2) / np.sum((ref - q).astype(np.float64) ** 2)))


def run_int8(graph, x: np.ndarray) -> np.ndarray:  # type: ignore[no-untyped-def]
    return run_compiled(with_batch(graph, len(x)), x, graph.name)


def lenet_methods(seeds: int) -> list[dict]:
    loaded, split = load_model("zoo:lenet"), load_split()
    x, y = np.array(split.x_test), split.y_test
    ref = loaded.forward(x)
    rows = []
    for source in ("model hook", "synthetic N(0,1)"):
        for method, p in METHODS:
            accs, agree, sqnr = [], [], []
            for seed in range(seeds):
                if source == "model hook":
                    cal = calibration_samples(loaded, (1, 1, 8, 8), SAMPLES, seed)
                else:
                    cal = np.random.default_rng(seed).standard_normal((SAMPLES, 1, 8, 8)).astype(np.float32)
                low = lower_model(loaded.module, (1, 1, 8, 8), cal, "lenet", CalibMethod(method), p or 99.99)
                out = run_int8(low.int_graph, x)
                accs.append(float((out.argmax(1) == y).mean()))
                agree.append(float((out.argmax(1) == ref.argmax(1)).mean()))
                sqnr.append(sqnr_db(ref, out))
            rows.append(
                {
                    "source": source,
                    "method": label(method, p),
                    "accuracy": accs,
                    "agreement": agree,
                    "sqnr_db": sqnr,
                }
            )
            print(f"lenet {source:18} {label(method, p):15} acc {np.mean(accs):.4f} sqnr {np.mean(sqnr):.1f} dB")
    return rows


def random_nets() -> list[dict]:
    rows = []
    for name in ("resnet_small", "mobilenet_small"):
        loaded = load_model(f"zoo:{name}")
        shape = loaded.default_input_shape
        assert shape is not None
        rng = np.random.default_rng(100)
        cal = rng.standard_normal((SAMPLES, *shape[1:])).astype(np.float32)
        x = rng.standard_normal((32, *shape[1:])).astype(np.float32)
        ref = loaded.forward(x)
        lower_model(loaded.module, shape, cal[:2], name)  # warm-up: the first trace pays for imports and caches
        for method, p in METHODS:
            t0 = time.perf_counter()
            low = lower_model(loaded.module, shape, cal, name, CalibMethod(method), p or 99.99)
            seconds = time.perf_counter() - t0
            s = sqnr_db(ref, run_int8(low.int_graph, x))
            rows.append({"model": name, "method": label(method, p), "sqnr_db": s, "lower_s": round(seconds, 2)})
            print(f"{name:16} {label(method, p):15} sqnr {s:.1f} dB, trace+calibrate+quantize {seconds:.1f} s")
    return rows


def qat_runs() -> list[dict]:
    from torch.ao.quantization.quantize_fx import convert_fx

    split = load_split()
    x, y = np.concatenate([split.x_train, split.x_test]), np.concatenate([split.y_train, split.y_test])
    cal = np.array(split.x_train[:SAMPLES])
    with seeded(1):
        scratch = LeNet()
    rows = []
    for what, kwargs in (
        ("fine-tuned 1 epoch from the trained LeNet", {"epochs": 1}),
        ("trained 15 epochs from random weights", {"epochs": 15, "lr": 0.05, "start": scratch}),
    ):
        t0 = time.perf_counter()
        prepared = train_qat_lenet(**kwargs)  # type: ignore[arg-type]
        train_s = time.perf_counter() - t0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            converted = convert_fx(copy.deepcopy(prepared))
        with torch.no_grad():
            theirs = converted(torch.from_numpy(x)).argmax(1).numpy()
            fake = prepared(torch.from_numpy(x)).argmax(1).numpy()
        low = lower_model(prepared, (1, 1, 8, 8), cal, "qat_lenet")
        ours = run_int8(low.int_graph, x).argmax(1)
        from dian.frontend.qat import strip_qat

        float_model, _ = strip_qat(prepared, "qat_lenet")  # the same float weights, recalibrated (PTQ)
        ptq = run_int8(lower_model(float_model, (1, 1, 8, 8), cal, "ptq").int_graph, x).argmax(1)
        row = {
            "model": what,
            "train_s": round(train_s, 1),
            "images": len(x),
            "fake_quant_accuracy": float((fake == y).mean()),
            "torch_converted_accuracy": float((theirs == y).mean()),
            "dian_qat_accuracy": float((ours == y).mean()),
            "dian_ptq_accuracy": float((ptq == y).mean()),
            "agreement": float((ours == theirs).mean()),
            "learned_scales": len(low.learned),
        }
        rows.append(row)
        print(row)
    return rows


def pct(a: float) -> str:
    return f"{100 * a:.2f} %"


def markdown(doc: dict) -> str:
    env = doc["env"]
    lines = [
        "# Calibration: methods, sources and QAT scales",
        "",
        f"{env['machine']}; code {env['git']}; {env['date']}; load average {env['load_average'][0]:.1f} at the start. "
        f"Made by `benchmarks/bench_calibration.py`. Every int8 figure is the reference simulator's, which the "
        f"accelerator matches bit for bit.",
        "",
        "## Trained digits LeNet",
        "",
        f"Float accuracy {pct(doc['lenet_float_accuracy'])} on the 450 held-out test images. {SAMPLES} calibration "
        f"samples, seeds 0..{doc['seeds'] - 1}: mean (min..max).",
        "",
        "| source | method | int8 accuracy | top-1 = float | logits SQNR |",
        "|---|---|---|---|---|",
    ]
    for r in doc["lenet"]:
        a = r["accuracy"]
        lines.append(
            f"| {r['source']} | {r['method']} | {pct(np.mean(a))} ({pct(min(a))}..{pct(max(a))}) "
            f"| {pct(np.mean(r['agreement']))} | {np.mean(r['sqnr_db']):.1f} dB |"
        )
    lines += [
        "",
        "## Random-weight nets, synthetic data",
        "",
        f"Output SQNR against float on 32 held-out N(0,1) inputs, calibrated on {SAMPLES} others; time of trace, "
        "calibration and quantization.",
        "",
        "| model | method | output SQNR | seconds |",
        "|---|---|---|---|",
    ]
    lines += [f"| {r['model']} | {r['method']} | {r['sqnr_db']:.1f} dB | {r['lower_s']:.1f} |" for r in doc["random"]]
    lines += [
        "",
        "## QAT LeNet against torch.ao",
        "",
        "torch.ao `prepare_qat_fx` (x86 default QAT qconfig), trained, compiled un-converted; accuracy on all "
        "1,797 digits. *dian, recalibrated* is the same float weights calibrated with max-abs on 64 training "
        "images instead of using the learned scales.",
        "",
        "| model | fake-quant (torch) | torch.ao converted | dian, learned scales | dian, recalibrated "
        "| dian = torch.ao (top-1) | train s |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['model']} | {pct(r['fake_quant_accuracy'])} | {pct(r['torch_converted_accuracy'])} "
        f"| {pct(r['dian_qat_accuracy'])} | {pct(r['dian_ptq_accuracy'])} | {pct(r['agreement'])} | {r['train_s']} |"
        for r in doc["qat"]
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=5)
    args = ap.parse_args()
    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    env = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}",
        "git": git.stdout.strip(),
        "date": time.strftime("%Y-%m-%d"),
        "load_average": [round(os.getloadavg()[0], 2)],
        "command": "benchmarks/bench_calibration.py" + (f" --seeds {args.seeds}" if args.seeds != 5 else ""),
    }
    loaded, split = load_model("zoo:lenet"), load_split()
    doc = {
        "env": env,
        "seeds": args.seeds,
        "samples": SAMPLES,
        "lenet_float_accuracy": float((loaded.forward(np.array(split.x_test)).argmax(1) == split.y_test).mean()),
        "lenet": lenet_methods(args.seeds),
        "random": random_nets(),
        "qat": qat_runs(),
    }
    env["load_average"].append(round(os.getloadavg()[0], 2))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "calibration.json").write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    text = markdown(doc)
    (RESULTS / "calibration.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
