"""benchmarks/bench_cosearch.py: its front and dominance helpers on hand-made points, and (slow) the
whole script in --quick mode."""

from __future__ import annotations

import functools
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from dian.nas.space import OPS, SPACES, Arch

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_cosearch.py"


@functools.cache
def _bench():  # type: ignore[no-untyped-def]
    """The script as a module (registered first: its dataclasses look themselves up there)."""
    spec = importlib.util.spec_from_file_location("bench_cosearch", SCRIPT)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def _point(bench, acc: float, fps: float):  # type: ignore[no-untyped-def]
    return bench.Point("p", Arch((0,), (0,)), 0, "", 1.0, fps, acc, None, 0.0, 0.0)


def test_pareto_keeps_the_undominated_fastest_first() -> None:
    bench = _bench()
    items = [{"a": 0.9, "f": 10}, {"a": 0.8, "f": 20}, {"a": 0.7, "f": 15}, {"a": 0.95, "f": 5}, {"a": 0.8, "f": 20}]
    assert bench.pareto(items, "a", "f") == [{"a": 0.8, "f": 20}, {"a": 0.9, "f": 10}, {"a": 0.95, "f": 5}]
    assert bench.spread(list(range(7)), 3) == [0, 3, 6]
    assert bench.spread([1, 2], 4) == [1, 2]


def test_dominance_needs_one_strict_improvement() -> None:
    bench = _bench()
    p, same, better = _point(bench, 0.9, 100), _point(bench, 0.9, 100), _point(bench, 0.9, 101)
    assert not bench.dominates(same, p)
    assert bench.dominates(better, p) and not bench.dominates(p, better)
    assert not bench.dominates(_point(bench, 0.95, 50), p)


def test_hand_designed_is_mobilenetv2_block_at_full_width() -> None:
    bench = _bench()
    space = SPACES["digits"]
    arch = bench.hand_designed(space, "widest")
    assert all(OPS[o].label == "k3e6" for o in arch.ops)
    assert [st.widths[w] for st, w in zip(space.stages, arch.widths, strict=True)] == [
        max(st.widths) for st in space.stages
    ]


def test_committed_results_re_render_to_the_committed_report() -> None:
    # --from-json must carry everything the report reads: the committed table comes back byte for byte
    bench = _bench()
    res, env, args, settings = bench.from_json(bench.RESULTS / "cosearch.json")
    assert bench.report(res, env, args, settings) == (bench.RESULTS / "cosearch.md").read_text()
    assert any(p.method == "(a) hand-designed" and p.int8_acc is not None for p in res["points"])


@pytest.mark.slow
def test_quick_run_writes_a_table(tmp_path: Path) -> None:  # about 3 minutes
    out = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--no-write", "--dse-trials", "0", "--budget-scale", "2"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    assert "| (a) hand-designed |" in out.stdout and "(c) NSGA-II 2x" in out.stdout
    assert "meets" in out.stdout or "MISSES" in out.stdout
