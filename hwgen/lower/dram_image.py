"""The DRAM image a compiled network runs from: header, program chunks,
weights, parameters and one slot per activation tensor.

The header's byte layout is the contract's (hwgen/image_format.py).

:class:`ImageBuilder` allocates regions (bump allocator, word aligned) and
writes them; :func:`read_header` parses a header back.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dian.errors import ProgramError

from ..accel_config import AccelConfig, config_hash
from ..image_format import (
    CHUNK_ENTRY,
    CHUNK_ENTRY_BYTES,
    HEADER_BYTES,
    HEADER_FIELDS,
    IMAGE_VERSION,
    IO_ENTRY,
    IO_ENTRY_BYTES,
    LINK_BYTES,
    MAGIC,
    MAX_IMAGE_BYTES,
)


@dataclass(frozen=True)
class TensorSlot:
    """An activation's DRAM region: ``blocked`` is the (N, C, H, W) of its channel-blocked layout."""

    name: str
    addr: int
    shape: tuple[int, ...]
    blocked: tuple[int, int, int, int]


@dataclass(frozen=True)
class ChunkEntry:
    addr: int
    n_mem: int
    n_cmp: int


@dataclass(frozen=True)
class Header:
    version: int
    config_hash: bytes
    image_bytes: int
    chunks: tuple[ChunkEntry, ...]
    inputs: tuple[tuple[int, tuple[int, int, int, int]], ...]
    outputs: tuple[tuple[int, tuple[int, int, int, int]], ...]


class ImageBuilder:
    """Bump allocator over a growing byte image; address 0 holds the header."""

    def __init__(self, cfg: AccelConfig, n_inputs: int, n_outputs: int) -> None:
        self.cfg = cfg
        self.align = cfg.word_bytes
        self._data = bytearray()
        self.n_inputs, self.n_outputs = n_inputs, n_outputs
        self.alloc(HEADER_BYTES + IO_ENTRY.size * (n_inputs + n_outputs), "header")

    def alloc(self, nbytes: int, what: str) -> int:
        addr = len(self._data)
        size = -(-max(nbytes, 1) // self.align) * self.align
        if addr + size > MAX_IMAGE_BYTES:
            raise ProgramError(f"the DRAM image outgrows the 32-bit address space while placing {what}.")
        self._data.extend(bytes(size))
        return addr

    def put(self, addr: int, data: bytes | np.ndarray) -> None:
        b = data.tobytes() if isinstance(data, np.ndarray) else data
        self._data[addr : addr + len(b)] = b

    def place(self, data: bytes | np.ndarray, what: str) -> int:
        b = data.tobytes() if isinstance(data, np.ndarray) else data
        addr = self.alloc(len(b), what)
        self.put(addr, b)
        return addr

    def finish(
        self, chunks: list[tuple[bytes, int, int]], inputs: list[TensorSlot], outputs: list[TensorSlot]
    ) -> bytes:
        """Append the chunks (code, MEM count, CMP count), each followed by its link to the next
        one, and their table; write the header."""
        entries = [ChunkEntry(self.place(code + bytes(LINK_BYTES), "program chunk"), nm, nc) for code, nm, nc in chunks]
        for (code, _, _), here, nxt in zip(chunks, entries, [*entries[1:], None], strict=True):
            link = CHUNK_ENTRY.pack(nxt.addr, nxt.n_mem, nxt.n_cmp) if nxt else b""
            self.put(here.addr + len(code), link.ljust(LINK_BYTES, b"\0"))
        table = self.place(b"".join(CHUNK_ENTRY.pack(e.addr, e.n_mem, e.n_cmp) for e in entries), "chunk table")
        io = b"".join(IO_ENTRY.pack(s.addr, *s.blocked) for s in (*inputs, *outputs))
        head = HEADER_FIELDS.pack(
            MAGIC,
            IMAGE_VERSION,
            config_hash(self.cfg),
            len(self._data),
            len(entries),
            table,
            len(inputs),
            len(outputs),
            HEADER_BYTES,
        )
        self.put(0, head.ljust(HEADER_BYTES, b"\0") + io)
        return bytes(self._data)


def read_header(image: bytes | bytearray | np.ndarray, cfg: AccelConfig | None = None) -> Header:
    """Parse the header of ``image``; with ``cfg``, also check that the image was built for it.

    ``image`` may be a memory larger than the image. A header that does not fit it (shorter than a
    header, a size field past its end, a table past the image's end) is a :class:`ProgramError`,
    checked before any table entry is unpacked."""
    size_here = len(image)
    if size_here < HEADER_BYTES:
        raise ProgramError(
            f"the DRAM image is {size_here} bytes, shorter than its {HEADER_BYTES}-byte header; it is not a dian image."
        )
    raw = bytes(image[:HEADER_BYTES])
    magic, version, chash, size, n_chunks, table, n_in, n_out, io = HEADER_FIELDS.unpack(raw[: HEADER_FIELDS.size])
    if magic != MAGIC or version != IMAGE_VERSION:
        raise ProgramError(f"not a dian DRAM image of version {IMAGE_VERSION} (magic {magic!r}, version {version}).")
    if cfg is not None and chash != config_hash(cfg):
        raise ProgramError(
            f"the DRAM image was built for another accelerator config than '{cfg.name}' "
            f"(config hash {chash.hex()} != {config_hash(cfg).hex()})."
        )
    for what, addr, n, entry in (
        ("chunk table", table, n_chunks, CHUNK_ENTRY_BYTES),
        ("input/output table", io, n_in + n_out, IO_ENTRY_BYTES),
    ):
        if size > size_here or addr + n * entry > size:
            raise ProgramError(
                f"the DRAM image header says {size:,} bytes and a {what} of {n:,} entries at {addr:,}, "
                f"but the memory holds {size_here:,} bytes: the image is truncated or damaged."
            )
    chunks = tuple(
        ChunkEntry(
            *CHUNK_ENTRY.unpack_from(bytes(image[table + i * CHUNK_ENTRY_BYTES : table + (i + 1) * CHUNK_ENTRY_BYTES]))
        )
        for i in range(n_chunks)
    )
    ios = [
        IO_ENTRY.unpack_from(bytes(image[io + i * IO_ENTRY_BYTES : io + (i + 1) * IO_ENTRY_BYTES]))
        for i in range(n_in + n_out)
    ]
    slots = tuple((e[0], (e[1], e[2], e[3], e[4])) for e in ios)
    return Header(version, chash, size, chunks, slots[:n_in], slots[n_in:])
