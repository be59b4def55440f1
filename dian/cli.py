"""The `dian` command line: argument parsing and printing over :mod:`dian.api`.

Every :class:`~dian.errors.DianError` becomes one paragraph on stderr,
``dian: error: ...``, and exit status 2 (argparse's usage errors exit 2 as
well). Any other exception is a bug in dian and keeps its traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

from . import __version__, api
from .errors import DianError, InputShapeError

EXIT_USER_ERROR = 2

_FMT = argparse.RawDescriptionHelpFormatter


def _shape(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(p) for p in text.split(","))
    except ValueError:
        shape = ()
    if not shape or any(d <= 0 for d in shape):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a shape: give positive integers separated by commas, e.g. 1,1,8,8 for N,C,H,W")
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
    result = api.compile_model(args.model, args.input_shape, args.out, calib_samples=args.calib_samples,
                               seed=args.seed, progress=sys.stderr.isatty())
    print(result.summary, end="")
    print(f"\nwrote {result.out_dir}/ (manifest.json, model.ir.json, model.float.ir.json, summary.txt)")


def _cmd_run(args: argparse.Namespace) -> None:
    try:
        with open(args.input, "rb") as f:
            if f.read(6) != b"\x93NUMPY":
                raise InputShapeError(f"--input {args.input} is not a .npy file; save the float32 input "
                                      f"with numpy.save (one array, shape as compiled).")
            f.seek(0)
            x = np.load(f, allow_pickle=False)
    except (OSError, ValueError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise InputShapeError(f"cannot read --input {args.input} as a .npy array ({reason}); "
                              f"save the float32 input with numpy.save.") from None
    y = api.run_model(args.dir, x)
    try:
        np.save(args.output, y, allow_pickle=False)
    except OSError as e:
        raise DianError(f"cannot write --output {args.output}: {e.strerror}.") from None
    print(f"output {'x'.join(map(str, y.shape))} float32 written to {args.output}")
    if y.ndim == 2:
        print("argmax per row: " + " ".join(str(int(i)) for i in y.argmax(axis=1)))


def _cmd_info(args: argparse.Namespace) -> None:
    print(api.model_info(args.dir), end="")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dian", formatter_class=_FMT,
        description="dian compiles a PyTorch network into an int8 integer graph that dian's\n"
                    "accelerator runs, and runs it bit-exactly in the reference simulator.",
        epilog="example:\n  dian compile zoo:lenet --input-shape 1,1,8,8 --out lenet-out\n"
               "  dian run lenet-out --input x.npy --output y.npy\n  dian info lenet-out")
    parser.add_argument("--version", action="version", version=f"dian {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "compile", formatter_class=_FMT, help="quantize a model and write its output folder",
        description="Trace MODEL, calibrate it, quantize it to int8 and write the output folder DIR\n"
                    "(replaced atomically if it is a previous dian output folder).",
        epilog="MODEL is path/to/file.py:factory (a function returning an nn.Module) or zoo:NAME.\n\n"
               "example:\n  dian compile zoo:lenet --input-shape 1,1,8,8 --out lenet-out\n"
               "  dian compile models/net.py:make_net --input-shape 1,3,32,32 --out net-out --seed 1")
    p.add_argument("model", metavar="MODEL", help="path/to/file.py:factory or zoo:NAME")
    p.add_argument("--input-shape", type=_shape, metavar="N,C,H,W",
                   help="shape of one input batch (default: the model's own)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--calib-samples", type=_positive, default=64, metavar="K",
                   help="calibration samples (default: 64)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="seed of the calibration draw (default: 0)")
    p.set_defaults(func=_cmd_compile)

    p = sub.add_parser(
        "run", formatter_class=_FMT, help="run a compiled model on a .npy input",
        description="Quantize the float32 input, run the integer graph in DIR bit-exactly in the\n"
                    "reference simulator, dequantize and save the output.",
        epilog="example:\n  dian run lenet-out --input x.npy --output y.npy")
    p.add_argument("dir", metavar="DIR", help="a folder written by `dian compile`")
    p.add_argument("--input", required=True, metavar="X.npy", help="float32 input of the compiled shape")
    p.add_argument("--output", required=True, metavar="Y.npy", help="where to save the float32 output")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser(
        "info", formatter_class=_FMT, help="describe a compiled output folder",
        description="Print what DIR was compiled from (manifest), whether its files are as\n"
                    "compiled, and the integer graph's summary.",
        epilog="example:\n  dian info lenet-out")
    p.add_argument("dir", metavar="DIR", help="a folder written by `dian compile`")
    p.set_defaults(func=_cmd_info)
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
