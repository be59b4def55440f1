"""nas/hardware.py: the co-search's hardware space offers only configs dian can build — every
option marked as fitting takes a compiled program, every option refused for its encoding does not,
and a small target's space leaves out the buffer classes its RAM cannot hold."""

from __future__ import annotations

import numpy as np
import pytest
from int_layers import ConvSpec, conv_graph, random_mac_params

from dian.errors import ProgramError
from dian.hwgen.lower.graph import lower_graph
from dian.hwgen.targets import TARGET_RAM_BYTES, Target
from dian.nas.hardware import hardware_space
from dian.search.explore import evaluate
from dian.search.mapper import map_graph

#: A conv deep enough that its GEMM instruction carries every address and count field.
SPEC = ConvSpec(1, 16, 16, 8, 8, 3, 3, padding=(1, 1), relu=True)
GRAPH = conv_graph(SPEC, random_mac_params(np.random.default_rng(0), SPEC.w_shape))


def _lowers(cfg) -> bool:  # type: ignore[no-untyped-def]
    try:
        lower_graph(GRAPH, cfg, map_graph(GRAPH, cfg))
    except ProgramError:
        return False
    return True


def test_fitting_options_compile_and_encoding_misfits_do_not() -> None:
    options = hardware_space("ecp5-85k").options()
    refused = [o for o in options if "instruction word" in o.why_not]
    assert refused and any(o.fits for o in options)
    for o in options:
        if o.fits or o in refused:
            assert _lowers(o.cfg) == o.fits, (o.label, o.why_not)
    # the refusal names the instruction and its width, so a user knows what to shrink
    assert all("GEMM instruction needs" in o.why_not and "256-bit" in o.why_not for o in refused)


def test_small_target_space_keeps_the_buffer_classes_its_ram_holds() -> None:
    space = hardware_space("ecp5-25k")  # raised before: the 64K class needs 176 KiB of its 126 KiB
    assert "64K" not in space.buffers and "16K" in space.buffers
    ram = TARGET_RAM_BYTES[Target.ECP5_25K]
    assert ram is not None and all(o.cfg.on_chip_bytes <= ram for o in space.options())


def test_explore_refuses_a_config_without_an_encoding() -> None:
    cfg = next(o.cfg for o in hardware_space("ecp5-85k").options() if "instruction word" in o.why_not)
    d = evaluate(GRAPH, cfg, 0, "latency")
    assert not d.fits and "instruction word" in d.why
    with pytest.raises(ProgramError):
        lower_graph(GRAPH, cfg, map_graph(GRAPH, cfg))


def test_the_ice40_has_no_space() -> None:
    from dian.errors import SearchSpaceError

    with pytest.raises(SearchSpaceError, match=r"no PE array fits ice40-up5k \(even the nano preset, 2x2 PEs, needs ~"):
        hardware_space("ice40-up5k")
