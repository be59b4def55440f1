"""`python -m dian.demo DIR`: run a compiled zoo:lenet on held-out digits (what `make demo` shows).

Writes a few test-split digits as .npy files (inputs for `dian run`), runs the
compiled integer graph in DIR on every test digit (:func:`dian.api.run_compiled`),
and prints predicted against true labels and the int8 and float accuracies.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from . import api
from .errors import DianError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dian.demo", description=__doc__.splitlines()[0])
    parser.add_argument("dir", type=Path, help="folder written by `dian compile zoo:lenet --input-shape 1,1,8,8`")
    parser.add_argument("--samples", type=Path, default=Path("demo-inputs"), help="where to save sample inputs")
    parser.add_argument("--show", type=int, default=10, help="how many digits to list (default: 10)")
    args = parser.parse_args(argv)

    from .frontend import load_model
    from .frontend.zoo.digits import load_split

    try:
        graph = api.load_compiled(args.dir)
    except DianError as e:
        print(f"python -m dian.demo: error: {e}", file=sys.stderr)
        return 2
    split = load_split()
    args.samples.mkdir(parents=True, exist_ok=True)
    preds = np.array([int(api.run_compiled(graph, x[None]).argmax()) for x in split.x_test])
    float_preds = load_model("zoo:lenet").forward(np.array(split.x_test)).argmax(1)

    print(f"\nzoo:lenet compiled in {args.dir}/, run bit-exactly on held-out digits (test split)")
    print("  input                   true  int8 prediction")
    for i in range(min(args.show, len(preds))):
        path = args.samples / f"digit{i:02d}.npy"
        np.save(path, split.x_test[i][None])
        mark = "" if preds[i] == split.y_test[i] else "   <- wrong"
        print(f"  {path!s:<23} {int(split.y_test[i]):>4}  {preds[i]:>15}{mark}")
    n = len(preds)
    wrong = np.flatnonzero(preds != split.y_test)
    print(
        f"\nint8 misses {len(wrong)} of {n}: "
        + ", ".join(f"#{i} ({int(split.y_test[i])} read as {preds[i]})" for i in wrong[:8])
        + (" ..." if len(wrong) > 8 else "")
    )
    print(
        f"accuracy on all {n} test digits: int8 {(preds == split.y_test).mean():.2%}, "
        f"float {(float_preds == split.y_test).mean():.2%}; int8 and float agree on "
        f"{(preds == float_preds).mean():.2%}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
