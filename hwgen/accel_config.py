"""AccelConfig: the one description of an accelerator from which every size,
width and address derives — in the scheduler, the machine simulator, the RTL
and the cost model alike (VTA's environment, as a typed value).

See docs/accelerator.md for what each field means in hardware. JSON files and
presets go through :func:`validate`, whose errors name the field, its value
and what is allowed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import typing
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from dian.artifact_io import parse_json, read_bytes
from dian.errors import AccelConfigError
from dian.ir.field_types import conforms, describe

from .dsp_plan import plan_dsps
from .targets import TARGET_FABRIC, TARGET_RAM_BYTES, Target

FORMAT = "dian.accel"
#: 2: buffers lost ``banks`` (the RTL built one memory per buffer whatever it said).
VERSION = 2
#: The largest accelerator config file dian reads (one is well under a KiB).
MAX_CONFIG_BYTES = 1 << 20
#: Entries of one lookup table: one per int8 input value.
LUT_ENTRIES = 256
MAX_LUT_TABLES = 16


class Dataflow(str, Enum):
    """How the PE array is used. ``gemm``: rows = input channels, columns =
    output channels, pixels streamed (conv, pointwise, linear). ``depthwise``:
    rows = kernel taps, columns = channels (depthwise conv)."""

    GEMM = "gemm"
    DEPTHWISE = "depthwise"


@dataclass(frozen=True)
class BufferConfig:
    """An on-chip buffer: total bytes (both halves of its double buffer), one
    memory of one word per address (the RTL's ``Memory``)."""

    bytes: int


@dataclass(frozen=True)
class AccelConfig:
    name: str
    pe_rows: int
    pe_cols: int
    dataflows: tuple[Dataflow, ...]
    ibuf: BufferConfig
    wbuf: BufferConfig
    abuf: BufferConfig
    obuf: BufferConfig
    dram_bus_bits: int
    dram_latency: int
    target: Target
    clock_mhz: float
    operand_bits: int = 8
    acc_bits: int = 32
    imem_instructions: int = 512
    max_burst_beats: int = 16
    #: 256-entry int8 lookup tables per half of LBUF (the pointwise stage in front of OBUF: SiLU,
    #: sigmoid, GELU, ... as tables); 0 builds no LUT stage. A per-tensor function takes one table,
    #: a per-channel one (PReLU) one per channel block of an output tile.
    lut_tables: int = 0
    #: Cycles PPURequant takes a word (1, 2 or 4; at most L / 2): its multipliers and rounding serve
    #: L / ppu_rate lanes at once, so ppu_rate - 1 of every ppu_rate requantizer DSPs go to the PE
    #: array, and every instruction that feeds it is paced to a word every ppu_rate cycles
    #: (hwgen/timing.py).
    ppu_rate: int = 1
    #: FBUF, the CMP engine's private fusion buffer (docs/accelerator.md, "Fusion buffer"): bytes, one
    #: memory (no halves) that only the requantizer writes (``ofb``) and only the array and ADD's ``b``
    #: operand read (``sfb``, ``bfb``), so a fused block's depthwise output never goes to DRAM. 0
    #: builds none and fuses nothing (every preset). The RTL builds it banked like the IBUF
    #: (hwgen/rtl/core.py).
    fbuf: BufferConfig = BufferConfig(0)
    #: Fusion stage P2 (docs/accelerator.md, "Fusion buffer"): a fused block may also start at the 1x1
    #: expand GEMM, whose output then goes to FBUF in row bands and is read there by the depthwise
    #: conv (DW ``sfb``), never reaching DRAM. Needs an FBUF. The RTL builds FBUF's further bank reads
    #: and the strided FBUF write only with it (hwgen/rtl/cmp_engine.py, result_write.py), so a P1
    #: config's hardware is unchanged.
    fuse_expand: bool = False

    # Derived sizes: the only place these are computed.
    @property
    def lanes(self) -> int:
        """Channels per activation word (= array rows = array columns in v1)."""
        return self.pe_rows

    @property
    def ibuf_banks(self) -> int:
        """Banks of the IBUF (docs/accelerator.md, "Depthwise v2"): word ``a`` lives in bank ``a mod
        banks`` at row ``a // banks``, so a DW instruction reads the new column of up to ``banks``
        kernel rows in one cycle. ``min(4, L / 2)`` with the depthwise dataflow (at L >= 16 the
        three rows of a 3x3 kernel, whose 9 taps fit the array's rows, in one pass; groups of up
        to L / 2 rows below that), 1 without it (nothing reads two IBUF words at once)."""
        return min(4, self.lanes // 2) if Dataflow.DEPTHWISE in self.dataflows else 1

    @property
    def word_bytes(self) -> int:
        return self.lanes * self.operand_bits // 8

    @property
    def acc_word_bytes(self) -> int:
        return self.lanes * self.acc_bits // 8

    @property
    def bus_bytes(self) -> int:
        return self.dram_bus_bits // 8

    def words(self, buffer: str) -> int:
        """Depth in words of ``ibuf``/``wbuf``/``obuf``/``fbuf`` (int8 words) or ``abuf`` (int32 words)."""
        b: BufferConfig = getattr(self, buffer)
        return b.bytes // (self.acc_word_bytes if buffer == "abuf" else self.word_bytes)

    #: PBUF entries (post-processing parameters of one channel block: L x
    #: (int32 bias, int32 multiplier, int8 shift)) per half of its double buffer.
    #: *(v1)* fixed; it bounds an output tile to 16 channel blocks.
    PBUF_ENTRIES_PER_HALF = 16

    @property
    def pbuf_entries(self) -> int:
        """Depth of PBUF in entries (both halves)."""
        return 2 * self.PBUF_ENTRIES_PER_HALF

    @property
    def pbuf_entry_bytes(self) -> int:
        """Bytes of one PBUF entry in DRAM: L int32 biases, L int32 multipliers, L int8 shifts."""
        return self.lanes * (4 + 4 + 1)

    @property
    def lbuf_entries(self) -> int:
        """Depth of LBUF in entries of one byte per lane (both halves): ``2 · lut_tables · 256``."""
        return 2 * self.lut_tables * LUT_ENTRIES

    @property
    def on_chip_bytes(self) -> int:
        buffers = self.ibuf.bytes + self.wbuf.bytes + self.abuf.bytes + self.obuf.bytes + self.fbuf.bytes
        return buffers + self.lbuf_entries * self.lanes

    def to_json(self) -> str:
        doc = {"format": FORMAT, "version": VERSION, **dataclasses.asdict(self)}
        doc["dataflows"] = [d.value for d in self.dataflows]
        doc["target"] = self.target.value
        if not self.lut_tables:  # a config without a LUT stage keeps the identity it had before the field
            del doc["lut_tables"]
        if self.ppu_rate == 1:  # likewise a config with the word-a-cycle requantizer
            del doc["ppu_rate"]
        if not self.fbuf.bytes:  # and one without a fusion buffer
            del doc["fbuf"]
        if not self.fuse_expand:  # and one with fusion stage P1 only
            del doc["fuse_expand"]
        return json.dumps(doc, sort_keys=True, indent=1) + "\n"

    def with_target(self, target: Target | str) -> AccelConfig:
        return validate(dataclasses.replace(self, target=Target(target)))


def config_hash(cfg: AccelConfig) -> bytes:
    """The 16-byte identity of ``cfg``: SHA-256 of its JSON, truncated. The image header carries
    it, and the accelerator built from ``cfg`` holds it in its ID registers and refuses an image
    compiled for another config."""
    return hashlib.sha256(cfg.to_json().encode()).digest()[:16]


def _fail(field: str, value: Any, allowed: str) -> AccelConfigError:
    return AccelConfigError(f"accelerator config: {field} = {value!r} is not allowed; {allowed}.")


def _power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def validate(cfg: AccelConfig) -> AccelConfig:
    """Return ``cfg`` if the v1 hardware can be built from it, else raise
    :class:`AccelConfigError` naming the first offending field."""
    if cfg.pe_rows != cfg.pe_cols:
        raise _fail("pe_cols", cfg.pe_cols, f"v1 arrays are square, so it must equal pe_rows ({cfg.pe_rows})")
    if not (_power_of_two(cfg.pe_rows) and 2 <= cfg.pe_rows <= 64):
        raise _fail("pe_rows", cfg.pe_rows, "it must be a power of two from 2 to 64")
    if not cfg.dataflows or len(set(cfg.dataflows)) != len(cfg.dataflows) or Dataflow.GEMM not in cfg.dataflows:
        raise _fail(
            "dataflows",
            [d.value for d in cfg.dataflows],
            "it must list 'gemm' (every conv and linear layer needs it) and optionally 'depthwise', once each",
        )
    if cfg.operand_bits != 8:
        raise _fail("operand_bits", cfg.operand_bits, "v1 hardware computes on int8 operands only")
    if not 16 <= cfg.acc_bits <= 32:
        raise _fail("acc_bits", cfg.acc_bits, "accumulators are 16 to 32 bits (the IR verifier proves each layer fits)")
    if not (_power_of_two(cfg.dram_bus_bits) and 8 <= cfg.dram_bus_bits <= cfg.word_bytes * 8):
        raise _fail(
            "dram_bus_bits",
            cfg.dram_bus_bits,
            f"it must be a power of two from 8 to the word width, {cfg.word_bytes * 8} bits "
            f"({cfg.lanes} int8 lanes); v1 moves whole words",
        )
    if not 1 <= cfg.dram_latency <= 1024:
        raise _fail("dram_latency", cfg.dram_latency, "it must be 1 to 1024 cycles")
    if not 1.0 <= cfg.clock_mhz <= 1000.0:
        raise _fail("clock_mhz", cfg.clock_mhz, "it must be 1 to 1000 MHz")
    if not (1 <= cfg.max_burst_beats <= 256 and cfg.max_burst_beats * cfg.bus_bytes <= 4096):
        raise _fail(
            "max_burst_beats",
            cfg.max_burst_beats,
            f"an AXI4 INCR burst is 1 to 256 beats and at most 4096 bytes "
            f"({4096 // cfg.bus_bytes} beats of the {cfg.dram_bus_bits}-bit bus)",
        )
    if not (_power_of_two(cfg.imem_instructions) and 16 <= cfg.imem_instructions <= 65536):
        raise _fail("imem_instructions", cfg.imem_instructions, "it must be a power of two from 16 to 65536")
    for name in ("ibuf", "wbuf", "abuf", "obuf"):
        _validate_buffer(cfg, name)
    _validate_fbuf(cfg)
    if not 0 <= cfg.lut_tables <= MAX_LUT_TABLES:
        raise _fail(
            "lut_tables",
            cfg.lut_tables,
            f"it must be 0 (no pointwise lookup stage) to {MAX_LUT_TABLES} tables of 256 entries per LBUF half",
        )
    if cfg.ppu_rate not in (1, 2, 4) or cfg.lanes < 2 * cfg.ppu_rate:
        raise _fail(
            "ppu_rate",
            cfg.ppu_rate,
            f"it must be 1, 2 or 4 cycles a requantized word, and at most half the {cfg.lanes} lanes "
            f"(the requantizer serves lanes / ppu_rate lanes a cycle, at least 2)",
        )
    need_w = 2 * cfg.lanes * cfg.word_bytes
    if cfg.wbuf.bytes < need_w:
        raise _fail(
            "wbuf.bytes", cfg.wbuf.bytes, f"it must hold two weight blocks of {cfg.lanes} words ({need_w} bytes)"
        )
    budget = TARGET_RAM_BYTES[cfg.target]
    if budget is not None and cfg.on_chip_bytes > budget:
        raise _fail(
            "target",
            cfg.target.value,
            f"its on-chip RAM holds {budget} bytes but the buffers need {cfg.on_chip_bytes}; "
            f"shrink ibuf/wbuf/abuf/obuf or pick a target with more RAM "
            f"({', '.join(t.value for t, ram in TARGET_RAM_BYTES.items() if ram is None or ram >= cfg.on_chip_bytes)})",
        )
    _validate_multipliers(cfg)
    return cfg


def _validate_multipliers(cfg: AccelConfig) -> None:
    """The products the DSP plan (hwgen/dsp_plan.py) moves to LUTs must not
    alone outgrow the target's LUTs (the rest of the design needs LUTs too;
    `dian synth` reports the measured fit)."""
    fabric = TARGET_FABRIC[cfg.target]
    if fabric is None:
        return
    plan = plan_dsps(cfg)
    if plan.lut_product_luts > fabric.luts:
        raise _fail(
            "target",
            cfg.target.value,
            f"it has {fabric.dsps} DSPs and {fabric.luts:,} LUT4s, but {cfg.pe_rows}x{cfg.pe_cols} PEs "
            f"and {cfg.lanes} PPU lanes do not fit: {plan.describe()}; pick a smaller array "
            f"or a larger target ({', '.join(_larger_fabrics(fabric.luts))})",
        )


def _larger_fabrics(luts: int) -> list[str]:
    """Targets with more LUT4s than ``luts`` (``generic`` has no limit)."""
    return [t.value for t, f in TARGET_FABRIC.items() if f is None or f.luts > luts]


def _validate_buffer(cfg: AccelConfig, name: str) -> None:
    buf: BufferConfig = getattr(cfg, name)
    word = cfg.acc_word_bytes if name == "abuf" else cfg.word_bytes
    unit = 2 * word
    banked = unit * cfg.ibuf_banks  # each half a whole number of rows of every IBUF bank
    if name == "ibuf" and buf.bytes % banked:
        raise _fail(
            f"{name}.bytes",
            buf.bytes,
            f"with the depthwise dataflow the IBUF is {cfg.ibuf_banks} banks of {word}-byte words, so it must be "
            f"a multiple of {banked} bytes (2 halves x {cfg.ibuf_banks} banks x {word} bytes)",
        )
    if buf.bytes < unit * 4 or buf.bytes % unit:
        raise _fail(
            f"{name}.bytes",
            buf.bytes,
            f"it must be a multiple of {unit} (2 halves x {word}-byte words) and hold at least 4 words per half",
        )


def _validate_fbuf(cfg: AccelConfig) -> None:
    """FBUF is 0 bytes (none) or banked like the IBUF (whole rows of every bank), and no deeper than
    the IBUF: its addresses travel in the IBUF-width ``src`` fields of GEMM and ADD."""
    n, word, banks = cfg.fbuf.bytes, cfg.word_bytes, cfg.ibuf_banks
    if cfg.fuse_expand and n == 0:
        raise _fail("fuse_expand", cfg.fuse_expand, "the expand GEMM's output goes to FBUF, so it needs fbuf.bytes > 0")
    if n == 0:
        return
    if Dataflow.DEPTHWISE not in cfg.dataflows:
        raise _fail(
            "fbuf.bytes",
            n,
            "FBUF holds the depthwise output of a fused block, so a config without the 'depthwise' dataflow "
            "must have none (0)",
        )
    if n < 0 or n % (word * banks) or n > cfg.ibuf.bytes:
        raise _fail(
            "fbuf.bytes",
            n,
            f"it must be 0 (no fusion buffer) or a multiple of {word * banks} bytes ({banks} IBUF-like banks of "
            f"{word}-byte words) up to the IBUF's {cfg.ibuf.bytes} bytes (FBUF addresses use the IBUF's fields)",
        )


def rtl_misfit(cfg: AccelConfig) -> str:
    """Why the RTL cannot be built for ``cfg`` although the compiler and sim/machine run it ("" when it
    can): the fields the generated hardware does not implement. Every path that emits RTL asks
    (``dian compile``, ``dian synth``, ``dian simulate --rtl``, ``emit_verilog``), so that a field the
    compiler learns before the RTL does is refused in one place. The RTL builds every field today,
    ``fuse_expand`` (fusion stage P2) included, so this says "" for every valid config."""
    return ""


def _reject_banks(doc: dict[str, Any], source: str) -> None:
    """Version 1 configs gave each buffer a ``banks`` count that the RTL ignored: say how to fix the file."""
    banked = [n for n in ("ibuf", "wbuf", "abuf", "obuf") if isinstance(doc.get(n), dict) and "banks" in doc[n]]
    old = doc.get("version") == 1
    if not (banked or old):
        return
    fix = []
    if banked:
        fix.append(f'delete the "banks" entry of {", ".join(banked)}')
    if old:
        fix.append(f'set "version" to {VERSION}')
    raise AccelConfigError(
        f"{source} follows version 1 of the dian accelerator config format: version {VERSION} removed the "
        f'buffers\' "banks" count, which the generated hardware never honoured (it builds one memory per '
        f"buffer, whatever the count). To use the file, {' and '.join(fix)}; nothing else changes."
    )


def config_from_doc(doc: dict[str, Any], source: str) -> AccelConfig:
    """The config a parsed JSON document describes, validated (errors name the field and ``source``)."""
    if doc.get("format", FORMAT) == FORMAT:
        _reject_banks(doc, source)
    if doc.get("format", FORMAT) != FORMAT or doc.get("version", VERSION) != VERSION:
        raise AccelConfigError(
            f"{source} is not a dian accelerator config of version {VERSION} "
            f"(format {doc.get('format')!r}, version {doc.get('version')!r})."
        )
    hints = typing.get_type_hints(AccelConfig)
    fields = {f.name: f for f in dataclasses.fields(AccelConfig)}
    unknown = sorted(set(doc) - set(fields) - {"format", "version"})
    if unknown:
        raise AccelConfigError(f"{source}: unknown fields {unknown}; the fields are {sorted(fields)}.")
    missing = sorted(n for n, f in fields.items() if n not in doc and f.default is dataclasses.MISSING)
    if missing:
        raise AccelConfigError(f"{source}: missing fields {missing}.")
    kw: dict[str, Any] = {}
    for name, value in doc.items():
        if name in ("format", "version"):
            continue
        try:
            if name in ("ibuf", "wbuf", "abuf", "obuf", "fbuf"):
                if not (isinstance(value, dict) and conforms(value.get("bytes"), int) and set(value) == {"bytes"}):
                    raise _fail(name, value, 'it must be {"bytes": int}')
                kw[name] = BufferConfig(value["bytes"])
            elif name == "dataflows":
                kw[name] = tuple(Dataflow(v) for v in value)
            elif name == "target":
                kw[name] = Target(value)
            elif not conforms(value, hints[name]):
                raise _fail(name, value, f"it must be {describe(hints[name])}")
            else:
                kw[name] = value
        except (ValueError, TypeError):
            allowed = {"dataflows": [d.value for d in Dataflow], "target": [t.value for t in Target]}.get(name)
            raise _fail(name, value, f"allowed values are {allowed}") from None
    return validate(AccelConfig(**kw))


def accel_config_from_json(text: str | bytes, source: str = "<string>") -> AccelConfig:
    """The config in JSON ``text`` (read under :mod:`dian.artifact_io`'s rules), or :class:`AccelConfigError`."""
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    doc = parse_json(data, source, AccelConfigError)
    if not isinstance(doc, dict):
        raise AccelConfigError(f"{source} must hold a JSON object of accelerator config fields.")
    return config_from_doc(doc, source)


def accel_config_from_file(path: Path) -> AccelConfig:
    """The config in the JSON file ``path`` (at most MAX_CONFIG_BYTES), or :class:`AccelConfigError`."""
    return accel_config_from_json(read_bytes(path, AccelConfigError, limit=MAX_CONFIG_BYTES), str(path))
