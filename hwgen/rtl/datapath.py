"""Small helpers shared by the datapath components (pe_array, accumulator, ppu_*)."""

from __future__ import annotations

from amaranth.hdl import Shape, Signal, Value

__all__ = ["check_lanes", "fits_signed", "kept", "pipe_reg"]


def check_lanes(lanes: int) -> None:
    """The v1 lane count rule (AccelConfig: a power of two from 2 to 64)."""
    if not isinstance(lanes, int) or lanes < 2 or lanes > 64 or lanes & (lanes - 1):
        raise ValueError(f"lanes must be a power of two from 2 to 64, not {lanes!r}")


def fits_signed(value: Value, bits: int) -> Value:
    """1 when the signed ``value`` is within ``bits``-bit two's complement: its
    bits from ``bits - 1`` up are all equal (no wide comparators)."""
    top = value[bits - 1 :]
    return top.all() | ~top.any()


def pipe_reg(shape: Shape | int, name: str) -> Signal:
    """A datapath pipeline register: no reset (only ``valid`` bits need one), so
    it maps to a plain FF without a reset LUT in front of its clock enable."""
    return Signal(shape, name=name, reset_less=True)


def kept(shape: Shape | int, name: str) -> Signal:
    """A wire Yosys must keep: an adder tree built from kept partial sums maps
    to carry chains (CCU2C) instead of being merged into one ``$macc``, which
    synth_ecp5 turns into LUT full adders at about 2.5× the area."""
    return Signal(shape, name=name, attrs={"keep": 1})
