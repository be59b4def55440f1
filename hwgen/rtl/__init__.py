"""dian.hwgen.rtl: the accelerator's Amaranth components, one per module.

The only part of dian below the CLI that imports Amaranth. Blocks read the
hardware contract (``dian.hwgen``: config, ISA, timing latencies, DSP plan)
and never the compiler back end (``dian.hwgen.lower``).
"""
