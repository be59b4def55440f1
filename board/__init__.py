"""`dian build DIR --board BOARD`: the accelerator of an output folder in a LiteX SoC for an ECP5
board, built into a bitstream (board/build.py). The SoC itself is composed in a process of its own
(board/litex_soc.py, run by the generated ``soc.py``), the only place LiteX and Migen are imported."""
