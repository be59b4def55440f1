"""The DRAM image header: the byte layout that the compiler writes
(hwgen/lower/dram_image.py), the controller reads at boot (hwgen/rtl/controller.py)
and the timing contract prices (hwgen/timing.py). Every offset is written here
once.

Header (little-endian uint32 unless stated; all addresses are byte addresses,
every region word aligned):

    0   magic b"DIAN"           4  image version
    8   config hash (16 bytes: SHA-256 of the AccelConfig JSON, truncated)
    24  image bytes             28 number of program chunks
    32  chunk table address     36 number of inputs     40 number of outputs
    44  io table address        48..63 zero
    io table: per input, then per output: address, N, C, H, W (the
    channel-blocked layout's 4-D shape)
    chunk table: per chunk: address, MEM instructions, CMP instructions
    (each stream ends with END; the CMP stream follows the MEM stream)
    chunk code: the MEM stream, the CMP stream, then one 32-byte *link*: the next
    chunk's table entry (zeros after the last chunk), so that the controller
    reads a chunk's code and where the next one is in one run; it reads the
    table only for the first chunk (the host reads it for all)
"""

from __future__ import annotations

import struct

MAGIC = b"DIAN"
IMAGE_VERSION = 2
HEADER_BYTES = 64
#: The header's fields, from byte 0: magic, version, config hash, image bytes, chunk count,
#: chunk table address, input count, output count, io table address.
HEADER_FIELDS = struct.Struct("<4sI16sIIIIII")
CHUNK_ENTRY = struct.Struct("<3I")  # address, MEM instructions, CMP instructions
IO_ENTRY = struct.Struct("<5I")  # address, N, C, H, W
CHUNK_ENTRY_BYTES = CHUNK_ENTRY.size
#: The link after each chunk's code: the next chunk's CHUNK_ENTRY, zero-padded to an instruction slot.
LINK_BYTES = 32
IO_ENTRY_BYTES = IO_ENTRY.size
#: The header bytes the controller reads and checks at boot: magic, version, config hash, image
#: bytes, chunk count and chunk table address (HEADER_FIELDS up to the table address).
HEADER_CHECK_BYTES = struct.calcsize("<4sI16sIII")
MAX_IMAGE_BYTES = 1 << 32
