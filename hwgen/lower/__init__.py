"""dian.hwgen.lower: the compiler back end.

Graph + AccelConfig -> per-layer work, tilings and schedules
(``workload``, ``tile_search``, ``scheduler``), then steps, the two
instruction streams and the DRAM image (``op_steps``, ``program``,
``dram_image``, ``graph``). Plain Python and numpy: it reads the hardware
contract (``dian.hwgen``) and never the RTL (``dian.hwgen.rtl``).
"""
