"""Built-in accelerator configs. ``tiny`` is what CI simulates and
synthesizes; ``small`` and ``default`` are the sizes benchmarked on ECP5-85k;
``nano`` is the small end: the least hardware that runs the zoo's LeNet (2x2
PEs, GEMM only, no LUT stage, 24-bit accumulators, a 16-bit bus, half-KiB
buffers). It does not fit the iCE40 UP5K either (benchmarks/results/ice40.md).

Buffers are sized so a 3x3 conv of the size class's typical layer (64 channels
at 56x56 for ``default``) tiles into a few dozen tiles, with both halves of
every double buffer: IBUF and ABUF get the most, WBUF holds several weight
blocks, OBUF a few output rows.
"""

from __future__ import annotations

from pathlib import Path

from dian.errors import AccelConfigError

from .accel_config import AccelConfig, BufferConfig, Dataflow, accel_config_from_file, validate
from .targets import Target

_BOTH = (Dataflow.GEMM, Dataflow.DEPTHWISE)

PRESETS: dict[str, AccelConfig] = {
    cfg.name: validate(cfg)
    for cfg in (
        AccelConfig(
            name="nano",
            pe_rows=2,
            pe_cols=2,
            dataflows=(Dataflow.GEMM,),
            ibuf=BufferConfig(512),
            wbuf=BufferConfig(256),
            abuf=BufferConfig(768),
            obuf=BufferConfig(256),
            dram_bus_bits=16,
            dram_latency=16,
            target=Target.ECP5_25K,
            clock_mhz=100.0,
            acc_bits=24,
            imem_instructions=64,
        ),
        AccelConfig(
            name="tiny",
            pe_rows=4,
            pe_cols=4,
            dataflows=_BOTH,
            ibuf=BufferConfig(4096),
            wbuf=BufferConfig(1024),
            abuf=BufferConfig(4096),
            obuf=BufferConfig(1024),
            dram_bus_bits=32,
            dram_latency=16,
            target=Target.ECP5_25K,
            clock_mhz=100.0,
            imem_instructions=256,
            lut_tables=1,
        ),
        AccelConfig(
            name="small",
            pe_rows=8,
            pe_cols=8,
            dataflows=_BOTH,
            ibuf=BufferConfig(16384),
            wbuf=BufferConfig(8192),
            abuf=BufferConfig(16384),
            obuf=BufferConfig(4096),
            dram_bus_bits=64,
            dram_latency=20,
            target=Target.ECP5_85K,
            clock_mhz=150.0,
            imem_instructions=512,
            lut_tables=1,
        ),
        AccelConfig(
            name="default",
            pe_rows=16,
            pe_cols=16,
            dataflows=_BOTH,
            ibuf=BufferConfig(65536),
            wbuf=BufferConfig(32768),
            abuf=BufferConfig(65536),
            obuf=BufferConfig(16384),
            dram_bus_bits=128,
            dram_latency=24,
            target=Target.ECP5_85K,
            clock_mhz=150.0,
            imem_instructions=1024,
            lut_tables=1,
        ),
    )
}


def load_accel_config(spec: str | Path) -> AccelConfig:
    """A preset name (``nano``, ``tiny``, ``small``, ``default``) or a JSON file path."""
    if isinstance(spec, str) and spec in PRESETS:
        return PRESETS[spec]
    path = Path(spec)
    if not path.suffix == ".json" or not path.exists():
        raise AccelConfigError(
            f"--accel {spec!r} is neither a preset ({', '.join(PRESETS)}) nor an existing "
            f".json accelerator config file."
        )
    return accel_config_from_file(path)
