"""dian.hwgen.lower: the compiler back end.

Graph + AccelConfig -> the accelerator's form of the graph (``gathers``:
channel moves as one-hot GEMMs; ``input_packing``), per-layer work, tilings
and schedules (``workload``, ``tile_search``, ``scheduler``), then steps,
the two instruction streams and the DRAM image (``op_steps``, ``ppu_steps``,
``program``, ``dram_image``, ``graph``). Plain Python and numpy: it reads the hardware
contract (``dian.hwgen``) and never the RTL (``dian.hwgen.rtl``).
"""
