"""Lowering: chunks fit IMEM, every chunk balances its tokens, the image's
header and encoded program match the Program, regions are word aligned."""

from __future__ import annotations

import numpy as np
import pytest
from int_layers import ConvSpec, add_graph, conv_graph, random_mac_params
from machine_cases import CRAMPED

from dian.errors import ProgramError
from dian.hwgen.encoding import Encoding
from dian.hwgen.isa import CMP_OPS, INSTRUCTION_BYTES, MEM_OPS, End, Token
from dian.hwgen.lower.dram_image import read_header
from dian.hwgen.lower.graph import lower_graph
from dian.hwgen.presets import PRESETS


def _conv(spec: ConvSpec):
    return conv_graph(spec, random_mac_params(np.random.default_rng(0), spec.w_shape))


GRAPHS = {
    "conv": _conv(ConvSpec(1, 40, 24, 23, 19, 7, 5, stride=(2, 1), padding=(3, 2))),
    "dw": _conv(ConvSpec(1, 12, 12, 11, 11, 3, 3, padding=(1, 1), groups=12)),
    "add": add_graph((2, 9, 6, 5), 0.05, 0.08, 0.06, True),
}


@pytest.mark.parametrize("cfg", [PRESETS["tiny"], CRAMPED], ids=["tiny", "cramped"])
@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_chunks_fit_imem_and_balance_their_tokens(name: str, cfg) -> None:
    low = lower_graph(GRAPHS[name], cfg)
    assert low.program.chunks
    for ch in low.program.chunks:
        assert len(ch) <= cfg.imem_instructions
        assert isinstance(ch.mem[-1], End) and isinstance(ch.cmp[-1], End)
        assert all(i.OPCODE in MEM_OPS for i in ch.mem) and all(i.OPCODE in CMP_OPS for i in ch.cmp)
        for t in (Token.LD_CMP, Token.CMP_LD, Token.CMP_ST, Token.ST_CMP):
            signals = sum(bool(i.signal & t) for i in ch.mem + ch.cmp)
            waits = sum(bool(i.wait & t) for i in ch.mem + ch.cmp)
            assert signals == waits, (t, signals, waits)
        # MEM only signals LD_CMP/ST_CMP and waits on the others; CMP the reverse
        assert not any(
            i.signal & (Token.CMP_LD | Token.CMP_ST) or i.wait & (Token.LD_CMP | Token.ST_CMP) for i in ch.mem
        )
        assert not any(
            i.signal & (Token.LD_CMP | Token.ST_CMP) or i.wait & (Token.CMP_LD | Token.CMP_ST) for i in ch.cmp
        )


def test_cramped_config_needs_several_chunks() -> None:
    assert len(lower_graph(GRAPHS["conv"], CRAMPED).program.chunks) > 1


def test_image_header_and_program_decode_back() -> None:
    cfg = PRESETS["tiny"]
    low = lower_graph(GRAPHS["add"], cfg)
    hdr = read_header(low.image, cfg)
    assert hdr.image_bytes == len(low.image)
    assert [a for a, _ in hdr.inputs] == [s.addr for s in low.inputs]
    assert hdr.outputs == tuple((s.addr, s.blocked) for s in low.outputs)
    enc = Encoding(cfg)
    for entry, ch in zip(hdr.chunks, low.program.chunks, strict=True):
        code = low.image[entry.addr : entry.addr + (entry.n_mem + entry.n_cmp) * INSTRUCTION_BYTES]
        assert enc.decode_stream(code) == [*ch.mem, *ch.cmp]
    with pytest.raises(ProgramError, match="built for another accelerator config"):
        read_header(low.image, PRESETS["small"])


def test_regions_are_word_aligned() -> None:
    for cfg in (PRESETS["tiny"], PRESETS["default"]):
        low = lower_graph(GRAPHS["conv"], cfg)
        assert all(s.addr % cfg.word_bytes == 0 for s in low.slots.values())
        for ch in low.program.chunks:
            assert all(i.dram % cfg.word_bytes == 0 for i in ch.mem if hasattr(i, "dram"))


def test_weights_are_stored_once_per_tile() -> None:
    cfg = PRESETS["tiny"]
    g = GRAPHS["conv"]
    low = lower_graph(g, cfg)
    w_bytes = len(low.image) - sum(
        s.blocked[0] * -(-s.blocked[1] // 4) * s.blocked[2] * s.blocked[3] * 4 for s in low.slots.values()
    )
    dense = 24 * 40 * 7 * 5
    assert w_bytes < 3 * dense + 64 * 1024  # blocks padded to 4 lanes, program and params on top
