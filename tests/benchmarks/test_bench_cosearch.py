"""benchmarks/bench_cosearch.py: its front, dominance, challenger and verdict logic on hand-made
points whose answers are worked out by hand below, and (slow) the whole script in --quick mode."""

from __future__ import annotations

import functools
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from dian.nas.space import OPS, SPACES, Arch

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_cosearch.py"


@functools.cache
def _bench():  # type: ignore[no-untyped-def]
    """The script as a module (registered first: its dataclasses look themselves up there)."""
    spec = importlib.util.spec_from_file_location("bench_cosearch", SCRIPT)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def _point(bench, acc: float, fps: float, method: str = "p", int8: float | None = None):  # type: ignore[no-untyped-def]
    """A measured design: float accuracy ``acc`` (int8 ``int8`` when measured), ``fps`` frames/s."""
    return bench.Point(method, Arch((0,), (0,)), 0, "", 1.0, fps, acc, int8, 0.0, 0.0)


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


def test_dominance_judges_int8_accuracy_when_measured() -> None:
    bench = _bench()
    q = _point(bench, 0.90, 100, int8=0.90)
    assert not bench.dominates(_point(bench, 0.99, 200, int8=0.89), q)  # float 99 %, but int8 below q's
    assert bench.dominates(_point(bench, 0.80, 200, int8=0.90), q)  # float 80 %, int8 as good, faster
    assert bench.dominates(_point(bench, 0.91, 100), q)  # no int8: its float accuracy counts


def test_challengers_by_hand() -> None:
    bench = _bench()
    front = [  # a front, fastest first: accuracy rises as FPS falls
        {"trial": 1, "fps": 900, "acc": 0.80},
        {"trial": 2, "fps": 700, "acc": 0.85},
        {"trial": 3, "fps": 500, "acc": 0.88},
        {"trial": 4, "fps": 300, "acc": 0.90},
        {"trial": 5, "fps": 100, "acc": 0.95},
    ]
    dian = [_point(bench, 0.9, 600), _point(bench, 0.9, 300), _point(bench, 0.9, 950)]
    # spread 2: both ends, trials 1 and 5. dian at 600 FPS: the front points at >= 600 are 1, 2,
    # the last (most accurate) is 2; at 300: 1..4 -> 4; at 950: none. Fastest first.
    assert [t["trial"] for t in bench.challengers(front, dian, 2)] == [1, 2, 4, 5]
    assert [t["trial"] for t in bench.challengers(front, [], 3)] == [1, 3, 5]


def _results(bench, a_acc: float):  # type: ignore[no-untyped-def]
    """A hand-made run: (a) at ``a_acc`` int8 and 100 FPS, three dian points, two (c) studies."""
    P = functools.partial(_point, bench)
    return {
        "n_test": 500,
        "points": [
            P(0.93, 150, "dian lam=0", int8=0.92),
            P(0.99, 350, "dian lam=0.1", int8=0.90),  # judged by its int8 accuracy, not the float one
            P(0.80, 900, "dian lam=0.3"),  # int8 not measured: float
            P(0.90, 40, "(b) sequential", int8=0.92),
            P(0.91, 100, "(a) hand-designed", int8=a_acc),
            P(0.99, 5000, "(c) NSGA-II 1x #1", int8=0.99),  # beats everything, but is not the 10x study
            P(0.92, 150, "(c) NSGA-II 10x #7", int8=0.92),  # ties lam=0: does not dominate it
            P(0.85, 900, "(c) NSGA-II 10x #9"),  # more accurate than lam=0.3 at its FPS: dominates
            P(0.90, 351, "(c) NSGA-II 10x #12", int8=0.90),  # as accurate as lam=0.1, 1 FPS faster
            P(0.95, 20, "(c) NSGA-II 10x #13", int8=0.95),  # more accurate than all, slower than all
        ],
    }


def test_verdicts_by_hand_when_dian_meets_the_fps_goal() -> None:
    bench = _bench()
    v = bench.verdicts(_results(bench, 0.90), "10x")
    # dian points at least as accurate as (a)'s 90 %: lam=0 (92 %, 150 FPS) and lam=0.1 (90 %,
    # 350 FPS); the fastest of them is lam=0.1 at 350 / 100 = 3.5x >= 3x. The most accurate dian
    # point is lam=0 (1.5x), 2 % = 10 of 500 test images *above* (a).
    g = v["fps_goal"]
    assert (g["meets"], g["best"], g["most_accurate"]) == (True, "dian lam=0.1", "dian lam=0")
    assert g["ratio"] == pytest.approx(3.5) and g["most_accurate_ratio"] == pytest.approx(1.5)
    assert (g["a_fps"], g["a_acc"], g["images_short"]) == (100, 0.90, -10)
    assert v["dominance"] == {
        "dominates": False,  # lam=0 is dominated by no 10x point
        "by": {"dian lam=0": [], "dian lam=0.1": ["(c) NSGA-II 10x #12"], "dian lam=0.3": ["(c) NSGA-II 10x #9"]},
    }


def test_verdicts_by_hand_when_dian_misses_the_fps_goal() -> None:
    bench = _bench()
    res = _results(bench, 0.93)
    v = bench.verdicts(res, "10x")
    # no dian point reaches (a)'s 93 %; the most accurate, lam=0 at 92 %, is 1 % = 5 of 500 images short
    g = v["fps_goal"]
    assert (g["meets"], g["best"], g["ratio"], g["most_accurate"], g["images_short"]) == (
        False,
        None,
        0.0,
        "dian lam=0",
        5,
    )
    # judged against the 1x study instead, every dian point is dominated by #1
    by = bench.verdicts(res, "1x")["dominance"]
    assert by["dominates"] and all(x == ["(c) NSGA-II 1x #1"] for x in by["by"].values())
    # a dian point as accurate as (a) at 2.9x its FPS still misses the 3x goal; at 3x it meets it
    res["points"][1] = _point(bench, 0.99, 290, "dian lam=0.1", int8=0.93)
    g = bench.verdicts(res, "10x")["fps_goal"]
    assert (g["meets"], g["best"]) == (False, "dian lam=0.1") and g["ratio"] == pytest.approx(2.9)
    res["points"][1] = _point(bench, 0.99, 300, "dian lam=0.1", int8=0.93)
    assert bench.verdicts(res, "10x")["fps_goal"]["meets"]


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
