"""dian.hwgen: the accelerator, from its contract to its RTL.

The top level holds the contract that the compiler, sim/machine and the RTL
share: the config (``accel_config``, ``targets``, ``presets``), the
instruction set and its 256-bit word (``isa``, ``encoding``), the DRAM
image header (``image_format``), the control registers behind the AXI4-Lite
slave (``csr_map``), the timing formulas and unit latencies
(``timing``) and the DSP plan (``dsp_plan``). Below it, three subpackages
that use the contract and never each other's internals: ``lower``
(compiler back end), ``rtl`` (Amaranth components) and ``tools``
(Verilator, Yosys, nextpnr drivers and templates).
"""
