"""Simulators: ``reference`` (the golden integer interpreter of the IR)."""
