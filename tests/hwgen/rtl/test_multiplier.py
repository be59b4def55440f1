"""hwgen/rtl/multiplier.py against Python's integer multiplication: every int8 x
int8 pair (the PE product), random and extreme operands of the wide
requant/add partial products and of odd shapes; and the LUT product really
has no DSP after ``synth_ecp5``, at the LUT cost the DSP plan assumes."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from amaranth.back import verilog
from amaranth.hdl import Module, Signal, signed, unsigned
from amaranth.sim import Simulator
from tool_helpers import needs

from dian.hwgen.dsp_plan import Operand, lut_cost
from dian.hwgen.rtl.multiplier import product


def _values(shape) -> range:
    return range(-(2 ** (shape.width - 1)), 2 ** (shape.width - 1)) if shape.signed else range(2**shape.width)


def _products(sa, sb, pairs: list[tuple[int, int]], dsp: bool) -> list[int]:
    """``product`` of each pair, evaluated by amaranth.sim (combinational)."""
    m = Module()
    a, b = Signal(sa), Signal(sb)
    out = product(m, a, b, dsp=dsp, name="p")
    assert out.shape() == (a * b).shape()
    got: list[int] = []
    sim = Simulator(m)

    async def bench(ctx) -> None:
        for x, y in pairs:
            ctx.set(a, x)
            ctx.set(b, y)
            got.append(ctx.get(out))

    sim.add_testbench(bench)
    sim.run()
    return got


def test_int8_exhaustive() -> None:
    pairs = [(x, y) for x in range(-128, 128) for y in range(-128, 128)]
    assert _products(signed(8), signed(8), pairs, dsp=False) == [x * y for x, y in pairs]


@pytest.mark.parametrize(
    "sa, sb",
    [
        (unsigned(17), unsigned(17)),
        (signed(15), unsigned(17)),
        (unsigned(17), unsigned(14)),
        (signed(15), unsigned(14)),
        (signed(8), unsigned(17)),
        (signed(8), unsigned(14)),  # requant / add parts
        (signed(16), unsigned(17)),
        (signed(8), unsigned(31)),
        (signed(32), unsigned(31)),
        (unsigned(3), signed(9)),
        (signed(1), signed(5)),
        (signed(5), signed(1)),
        (unsigned(1), unsigned(1)),
    ],
)
@pytest.mark.parametrize("dsp", [False, True])
def test_random_and_extreme_operands(sa, sb, dsp: bool) -> None:
    rng = random.Random(sa.width * 64 + sb.width)
    va, vb = _values(sa), _values(sb)
    edges_a, edges_b = ([v for v in (r[0], r[-1], 0, 1, r[-2]) if v in r] for r in (va, vb))
    pairs = [(x, y) for x in edges_a for y in edges_b]
    pairs += [(rng.choice(va), rng.choice(vb)) for _ in range(400)]
    assert _products(sa, sb, pairs, dsp) == [x * y for x, y in pairs]


def _synth_ecp5(tmp_path: Path, sa, sb) -> dict[str, int]:
    """Cells of a registered LUT product after ``synth_ecp5``."""
    from dian.hwgen.tools.toolchain import require_tool, run_tool

    m = Module()
    a, b, ra, rb = Signal(sa), Signal(sb), Signal(sa), Signal(sb)
    p = product(m, ra, rb, dsp=False, name="p")
    o = Signal(p.shape())
    m.d.sync += [ra.eq(a), rb.eq(b), o.eq(p)]
    (tmp_path / "t.v").write_text(verilog.convert(m, ports=[a, b, o], name="t"))
    run_tool(
        require_tool("yosys"),
        ["-q", "-p", "read_verilog t.v; synth_ecp5 -top t; tee -q -o stat.json stat -json"],
        cwd=tmp_path,
        log=tmp_path / "yosys.out",
    )
    return json.loads((tmp_path / "stat.json").read_text())["design"]["num_cells_by_type"]


@needs("yosys")
@pytest.mark.parametrize("sa, sb", [(signed(8), signed(8)), (signed(15), unsigned(14))])
def test_lut_product_maps_to_no_dsp_at_the_planned_cost(tmp_path: Path, sa, sb) -> None:
    cells = _synth_ecp5(tmp_path, sa, sb)
    assert "MULT18X18D" not in cells and "ALU54B" not in cells
    luts = cells.get("LUT4", 0) + 2 * cells.get("CCU2C", 0)
    # Rows of the narrower operand (one LUT per bit) are a floor any LUT product needs.
    assert luts >= min(sa.width, sb.width) * max(sa.width, sb.width)
    est = lut_cost(Operand(sa.width, sa.signed), Operand(sb.width, sb.signed))
    assert abs(luts - est) <= 0.25 * luts, (luts, est)
