"""torch.ao's quantized kernels as an outside witness for dian's integer arithmetic.

torch.ao takes quint8 activations only. dian's int8 activation ``q`` with zero
point 0 is the same real value as quint8 ``q + 128`` with zero point 128 and
the same scale, so tensors cross over by that shift alone (bit-exact, through
``_make_per_tensor_quantized_tensor``, never through float re-quantization).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
from int_layers import MacParams

ZP = 128

#: The quantized engine used as the witness: "qnnpack", whose int32 accumulation
#: gives the same answer on every CPU. Measured on torch 2.13: "fbgemm" (and "x86",
#: torch's default, which dispatches to it) saturates int16 pair sums when
#: |weight| > 64 with full-range quint8 inputs (255 * 127 * 2 > 32767) on CPUs
#: without AVX-512 VNNI: on an AMD EPYC with AVX2 only, 8 % of linear outputs
#: and 2 % of conv outputs were off by up to 231 LSB, while an AVX-512 machine
#: had passed; "x86" and "onednn" also get depthwise convolution with a channel
#: multiplier wrong on some shapes (up to 255 LSB off, varying from call to call).
ENGINE = "qnnpack"


@contextlib.contextmanager
def quantized_engine(name: str = ENGINE) -> Iterator[None]:
    old = torch.backends.quantized.engine
    torch.backends.quantized.engine = name
    try:
        yield
    finally:
        torch.backends.quantized.engine = old


def to_quint8(x: np.ndarray, scale: float) -> torch.Tensor:
    u = torch.from_numpy((x.astype(np.int16) + ZP).astype(np.uint8))
    return torch._make_per_tensor_quantized_tensor(u, scale, ZP)


def from_quint8(q: torch.Tensor) -> np.ndarray:
    assert q.dtype == torch.quint8 and q.q_zero_point() == ZP, (q.dtype, q.q_zero_point())
    return (q.int_repr().numpy().astype(np.int16) - ZP).astype(np.int8)


def weight_qint8(p: MacParams) -> torch.Tensor:
    k = p.w_int.shape[0]
    return torch._make_per_channel_quantized_tensor(
        torch.from_numpy(np.ascontiguousarray(p.w_int)),
        torch.from_numpy(p.w_scale.astype(np.float64)),
        torch.zeros(k, dtype=torch.long),
        0,
    )


def bias_float(p: MacParams) -> torch.Tensor:
    """torch.ao takes the bias in real units and quantizes it with s_in * s_w[k] itself."""
    return torch.from_numpy(p.b_float).float()


@dataclass
class Mismatch:
    """Element-wise comparison of dian's int8 output with torch's, accumulated over cases."""

    op: str
    elements: int = 0
    differing: int = 0
    max_diff: int = 0
    cases: int = 0
    worst_case: str = ""
    per_case: list[tuple[str, int, int]] = field(default_factory=list)

    def add(self, label: str, ours: np.ndarray, theirs: np.ndarray) -> None:
        assert ours.shape == theirs.shape, f"{label}: shape {ours.shape} vs torch {theirs.shape}"
        d = np.abs(ours.astype(np.int64) - theirs.astype(np.int64))
        m, k = int(d.max(initial=0)), int((d != 0).sum())
        self.cases += 1
        self.elements += d.size
        self.differing += k
        if m > self.max_diff:
            self.max_diff, self.worst_case = m, label
        self.per_case.append((label, k, d.size))

    @property
    def fraction(self) -> float:
        return self.differing / max(self.elements, 1)

    def summary(self) -> str:
        return (
            f"{self.op}: {self.cases} cases, {self.elements} elements, {self.differing} differ "
            f"({100 * self.fraction:.4f} %), max |diff| {self.max_diff}"
            + (f" (in {self.worst_case})" if self.max_diff else "")
        )

    def check(self, max_fraction: float = 1e-3) -> None:
        print(self.summary())
        assert self.max_diff <= 1, self.summary()
        assert self.fraction <= max_fraction, (
            self.summary() + "; worst cases: " + str(sorted(self.per_case, key=lambda c: -c[1] / c[2])[:5])
        )
