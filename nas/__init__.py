"""Network-accelerator co-search (DIAN/DNA): the network space, the supernet, the data, the relaxed costs."""
