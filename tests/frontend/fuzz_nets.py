"""Random small networks as model-file source, for the frontend fuzz (test_frontend_fuzz.py).

A net is a few lines of ``forward`` drawn from a vocabulary: conv (random kernel, stride, padding,
groups, dilation, padding mode; transposed; 1-D), linear, batch norm, pools (ceil_mode, count_include_pad, adaptive),
activations dian lowers and ones it does not, elementwise arithmetic of two tensors or a tensor and
a number, cat, chunk, transpose, view/reshape/flatten, upsampling (whole and fractional factors,
other modes), indexing, zero-size layers. The generator tracks the nominal shape so that most nets
are valid and reach the deep stages, and now and then breaks it on purpose (a wrong channel count, an
input of another rank): every outcome must be a compiled folder or a dian error, never a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

ACTIVATIONS = (
    "nn.ReLU()",
    "nn.ReLU6()",
    "nn.SiLU()",
    "nn.Sigmoid()",
    "nn.Tanh()",
    "nn.GELU()",
    "nn.GELU(approximate='tanh')",
    "nn.Hardswish()",
    "nn.Hardsigmoid()",
    "nn.LeakyReLU(0.2)",
    "nn.ELU()",
    "nn.Softplus()",
    "nn.Mish()",
    "nn.Hardtanh(-2.0, 3.0)",
    "nn.Softmax(dim=1)",
    "nn.LogSoftmax(dim=1)",
    "nn.SELU()",
    "nn.Identity()",
    "nn.Dropout(0.5)",
    "nn.LeakyReLU(-1.0)",
    "nn.ELU(alpha=0.0)",
    "nn.Softplus(beta=0.0)",
    "nn.Softplus(beta=-1.0, threshold=0.0)",
    "nn.Hardtanh(1.0, 1.0)",
    "nn.Threshold(0.1, 0.0)",
    "nn.AdaptiveMaxPool2d(1)",
    "nn.Flatten(0)",
    "nn.Flatten(2)",
    "nn.Flatten()",
)

FUNCTIONS = (
    "torch.relu(x)",
    "F.relu6(x)",
    "x.clamp(-1.0, 2.0)",
    "x.clamp(min=0.5)",
    "torch.sigmoid(x)",
    "x.tanh()",
    "torch.exp(x)",
    "x.abs()",
    "x * 0.5",
    "x / 3",
    "1.0 - x",
    "-x",
    "x + 2",
    "x ** 2",
    "F.dropout(x, 0.1, False)",
    "x.contiguous()",
    "x * 0",
    "x - x",
    "x * 1e30",
    "x / 1e-30",
    "x * float('nan')",
    "x + float('inf')",
    "x.clamp(2.0, -1.0)",
    "x.clamp(0.0, 0.0)",
    "x.clamp(max=-3.0)",
    "torch.clamp(x, min=x)",
    "F.hardtanh(x, 3.0, -3.0)",
    "F.leaky_relu(x, True)",
    "F.gelu(x, approximate='bogus')",
    "F.elu(x, alpha=x.mean().item())",
    "x * True",
    "x.relu_()",
    "torch.zeros(1)",
    "torch.relu(x).sigmoid_()",
)


@dataclass
class NetSource:
    """A model file under construction: ``__init__`` and ``forward`` lines, the nominal shape of ``x``."""

    shape: list[int]
    inits: list[str] = field(default_factory=list)
    body: list[str] = field(default_factory=list)

    def module(self, expr: str) -> str:
        name = f"m{len(self.inits)}"
        self.inits.append(f"self.{name} = {expr}")
        return f"self.{name}"

    def render(self, returns: str) -> str:
        init = "\n".join(f"        {line}" for line in self.inits) or "        pass"
        body = "\n".join(f"        {line}" for line in self.body)
        return (
            "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n\n\n"
            "class FuzzNet(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
            f"{init}\n\n    def forward(self, x):\n{body}\n        return {returns}\n\n\n"
            "def make():\n    torch.manual_seed(0)\n    return FuzzNet()\n"
        )


def _out(n: int, k: int, s: int, p: int, d: int, ceil: bool = False) -> int:
    """Output size of a window op, as torch computes it (ceil_mode's last window starts inside)."""
    span = d * (k - 1) + 1
    q, r = divmod(n + 2 * p - span, s)
    out = q + 1 + (1 if ceil and r else 0)
    if ceil and r and (out - 1) * s >= n + p:
        out -= 1
    return out


def _fits(draw: st.DrawFn, sizes: list[int], k: int, s: int, p: int, d: int) -> bool:
    """Whether the window fits every size; now and then True anyway, to try the error path."""
    return all(_out(n, k, s, p, d) >= 1 for n in sizes) or draw(st.integers(0, 19)) == 0


def _conv(draw: st.DrawFn, src: NetSource) -> None:
    if len(src.shape) == 3 and draw(st.booleans()):  # [N, C, L]: a 1-D conv or pool
        n, c, length = src.shape
        k, stride = draw(st.integers(1, 3)), draw(st.integers(1, 2))
        if draw(st.booleans()):
            src.body.append(f"x = {src.module(f'nn.Conv1d({c}, 4, {k}, stride={stride}, padding={k // 2})')}(x)")
            src.shape = [n, 4, (length + 2 * (k // 2) - k) // stride + 1]
        else:
            src.body.append(f"x = {src.module(f'nn.MaxPool1d({k})')}(x)")
            src.shape = [n, c, length // k]
        return
    if len(src.shape) != 4:
        src.body.append(f"x = {src.module('nn.Conv2d(2, 2, 3)')}(x)")  # wrong rank on purpose
        return
    n, c, h, w = src.shape
    if draw(st.integers(0, 5)) == 0:  # transposed: output (H - 1) * s - 2p + d(k - 1) + out_pad + 1
        k, s, p, d = draw(st.integers(1, 4)), draw(st.integers(1, 3)), draw(st.integers(0, 1)), 1
        out_pad = draw(st.integers(0, s - 1))
        cout = draw(st.sampled_from((1, 2, 4)))
        layer = f"nn.ConvTranspose2d({c}, {cout}, {k}, stride={s}, padding={p}, output_padding={out_pad})"
        src.body.append(f"x = {src.module(layer)}(x)")
        size = lambda v: (v - 1) * s - 2 * p + d * (k - 1) + out_pad + 1  # noqa: E731
        src.shape = [n, cout, size(h), size(w)]
        return
    cin = c if draw(st.integers(0, 9)) else c + 1
    cout = draw(st.sampled_from((1, 2, 3, 4, 6, 8))) if draw(st.integers(0, 29)) else 0
    k = draw(st.integers(1, 4))
    s = draw(st.integers(1, 3))
    d = draw(st.sampled_from((1, 1, 1, 2)))
    groups = draw(st.sampled_from([g for g in (1, 2, 3, 4, 6, 8) if cin % g == 0 and cout % g == 0] or [1]))
    pad: Any = draw(st.sampled_from((0, 1, 2, (1, 0), "same", "valid")))
    if pad == "same":
        s = 1
    elif not _fits(draw, [h, w], k, s, min(pad) if isinstance(pad, tuple) else 0 if pad == "valid" else pad, d):
        k, d = 1, 1
    mode = draw(st.sampled_from(("zeros",) * 8 + ("reflect", "circular")))
    bias = draw(st.booleans())
    conv = f"nn.Conv2d({cin}, {cout}, {k}, stride={s}, padding={pad!r}, dilation={d}, groups={groups}, bias={bias}"
    src.body.append(f"x = {src.module(f'{conv}, padding_mode={mode!r})')}(x)")
    if draw(st.booleans()):
        src.body.append(f"x = {src.module(f'nn.BatchNorm2d({cout})')}(x)")
    p = {"same": (d * (k - 1) // 2,) * 2, "valid": (0, 0)}.get(pad, pad) if not isinstance(pad, int) else (pad, pad)
    src.shape = [n, cout, _out(h, k, s, p[0], d), _out(w, k, s, p[1], d)]


def _linear(draw: st.DrawFn, src: NetSource) -> None:
    if len(src.shape) != 2:
        src.body.append(
            draw(st.sampled_from(("x = torch.flatten(x, 1)", "x = x.view(x.size(0), -1)", "x = x.flatten(1)")))
        )
        f = 1
        for d in src.shape[1:]:
            f *= d
        src.shape = [src.shape[0], f]
    n, f = src.shape
    fin = f if draw(st.integers(0, 9)) else f + 1
    fout = draw(st.sampled_from((1, 2, 5, 10))) if draw(st.integers(0, 29)) else 0
    src.body.append(f"x = {src.module(f'nn.Linear({fin}, {fout}, bias={draw(st.booleans())})')}(x)")
    if draw(st.integers(0, 3)) == 0:
        src.body.append(f"x = {src.module(f'nn.BatchNorm1d({fout})')}(x)")
    src.shape = [n, fout]


def _pool(draw: st.DrawFn, src: NetSource) -> None:
    if len(src.shape) != 4:
        src.body.append("x = F.max_pool2d(x, 2)")
        return
    n, c, h, w = src.shape
    kind = draw(st.sampled_from(("max", "avg", "fmax", "favg", "adaptive", "mean")))
    k = draw(st.integers(1, 3))
    s = draw(st.sampled_from((None, 1, 2, 3)))
    p = draw(st.integers(0, k // 2))
    ceil = draw(st.booleans())
    if not _fits(draw, [h, w], k, s or k, p, 1):
        k, p = 1, 0
    if kind == "adaptive":
        o = draw(st.sampled_from((1, 1, 2, 3, (1, 2))))
        src.body.append(f"x = F.adaptive_avg_pool2d(x, {o!r})")
        oh, ow = (o, o) if isinstance(o, int) else o
        src.shape = [n, c, oh, ow]
        return
    if kind == "mean":
        keep = draw(st.booleans())
        src.body.append(
            f"x = x.mean((2, 3), keepdim={keep})" if draw(st.booleans()) else f"x = x.mean(1, keepdim={keep})"
        )
        src.shape = [n, c, 1, 1] if keep else [n, c]
        return
    if draw(st.integers(0, 9)) == 0:  # the rarer spellings, not shape-tracked
        src.body.append(
            draw(
                st.sampled_from(
                    (
                        "x = F.max_pool2d(x, (2, 1), (1, 2))",
                        "x = F.avg_pool2d(x, (1, 2), padding=(0, 1))",
                        "x = F.avg_pool2d(x, 2, divisor_override=3)",
                        "x, i = F.max_pool2d(x, 2, return_indices=True)",
                        "x = F.max_pool2d(x, 2, return_indices=True)",
                        "x = F.max_pool2d(x, kernel_size=[2], stride=[])",
                        "x = F.adaptive_avg_pool2d(x, (None, 1))",
                        "x = F.lp_pool2d(x, 2, 2)",
                    )
                )
            )
        )
        return
    if kind in ("max", "fmax"):
        d = draw(st.sampled_from((1, 1, 1, 2)))
        expr = f"nn.MaxPool2d({k}, stride={s}, padding={p}, dilation={d}, ceil_mode={ceil})"
        src.body.append(
            f"x = {src.module(expr)}(x)" if kind == "max" else f"x = F.max_pool2d(x, {k}, {s}, {p}, {d}, {ceil})"
        )
    else:
        d = 1
        cip = draw(st.booleans())
        expr = f"nn.AvgPool2d({k}, stride={s}, padding={p}, ceil_mode={ceil}, count_include_pad={cip})"
        src.body.append(
            f"x = {src.module(expr)}(x)" if kind == "avg" else f"x = F.avg_pool2d(x, {k}, {s}, {p}, {ceil}, {cip})"
        )
    st_ = s or k
    src.shape = [n, c, _out(h, k, st_, p, d, ceil), _out(w, k, st_, p, d, ceil)]


def _activation(draw: st.DrawFn, src: NetSource) -> None:
    if draw(st.booleans()):
        act = draw(st.sampled_from(ACTIVATIONS))
        src.body.append(f"x = {src.module(act)}(x)")
    elif draw(st.integers(0, 4)):
        src.body.append(f"x = {draw(st.sampled_from(FUNCTIONS))}")
    else:
        c = src.shape[1] if len(src.shape) > 1 else 1
        src.body.append(f"x = {src.module(f'nn.PReLU({draw(st.sampled_from((1, c)))})')}(x)")


def _binary(draw: st.DrawFn, src: NetSource) -> None:
    rank = len(src.shape)
    other = draw(
        st.sampled_from(
            (
                "x",
                "torch.relu(x)",
                "x.mean((2, 3), keepdim=True)",
                "F.max_pool2d(x, 2)",
                "x[:, :1]",
                "torch.ones_like(x)",
                "self.w",
            )
        )
    )
    if other == "self.w":
        src.inits.append(f"self.w = nn.Parameter(torch.ones({', '.join(map(str, src.shape))}))")
    op = draw(st.sampled_from(("+", "-", "*", "/", "cat", "torch.add", "torch.mul", "torch.sub", "+=", "cat3", "cat1")))
    src.body.append(f"y = {other}")
    if op == "cat":
        dim = draw(st.integers(-1, max(rank - 1, 0)))
        src.body.append(f"x = torch.cat([x, y], {dim})")
        if other in ("x", "torch.relu(x)", "torch.ones_like(x)", "self.w") and rank > 0:
            src.shape[dim % rank] *= 2
    elif op == "cat3":
        src.body.append(f"x = torch.cat((x, y, x), dim={draw(st.integers(1, 3))})")
    elif op == "cat1":
        src.body.append("x = torch.cat([x], 1)")
    elif op == "+=":
        src.body.append("x += y")
    elif op.startswith("torch."):
        src.body.append(f"x = {op}(x, y)")
    else:
        src.body.append(f"x = x {op} y")


def _reshape(draw: st.DrawFn, src: NetSource) -> None:
    n = src.shape[0]
    kind = draw(
        st.sampled_from(("flatten", "view", "reshape1d", "transpose", "permute", "chunk", "getitem", "unsqueeze"))
    )
    if kind in ("flatten", "view"):
        src.body.append("x = torch.flatten(x, 1)" if kind == "flatten" else "x = x.view(x.size(0), -1)")
        f = 1
        for d in src.shape[1:]:
            f *= d
        src.shape = [n, f]
    elif kind == "reshape1d":
        src.body.append("x = x.reshape(-1)")
    elif kind == "transpose":
        src.body.append("x = x.transpose(-1, -2)" if len(src.shape) > 1 else "x = x.t()")
    elif kind == "permute":
        src.body.append(f"x = x.permute({', '.join(map(str, reversed(range(len(src.shape)))))})")
    elif kind == "chunk":
        dim = draw(st.integers(0, len(src.shape) - 1))
        src.body.append(f"a, *rest = x.chunk(2, dim={dim})")
        src.body.append(draw(st.sampled_from(("x = a", "x = a + rest[0]", "x = torch.cat([a, *rest], 1)"))))
    elif kind == "getitem":
        src.body.append(draw(st.sampled_from(("x = x[:, :1]", "x = x[:, :0]", "x = x[0]", "x = x[..., ::2]"))))
    else:
        src.body.append("x = x.unsqueeze(1)")


def _upsample(draw: st.DrawFn, src: NetSource) -> None:
    f = draw(st.sampled_from((1, 2, 3, 1.5, 0.5)))
    mode = draw(st.sampled_from(("nearest", "nearest", "nearest-exact", "bilinear")))
    if draw(st.booleans()):
        src.body.append(f"x = {src.module(f'nn.Upsample(scale_factor={f}, mode={mode!r})')}(x)")
    elif len(src.shape) == 4:
        size = draw(st.sampled_from(((src.shape[2] * 2, src.shape[3]), (3, 5), (1, 1))))
        src.body.append(f"x = F.interpolate(x, size={size!r}, mode={mode!r})")
        src.shape = [*src.shape[:2], *size]
        return
    else:
        src.body.append(f"x = F.interpolate(x, scale_factor={f})")
    if len(src.shape) == 4:
        src.shape = [*src.shape[:2], int(src.shape[2] * f), int(src.shape[3] * f)]


LAYERS = {
    "conv": _conv,
    "linear": _linear,
    "pool": _pool,
    "activation": _activation,
    "binary": _binary,
    "reshape": _reshape,
    "upsample": _upsample,
}
WEIGHTS = ("conv",) * 4 + ("activation",) * 3 + ("pool",) * 2 + ("binary",) * 2 + ("linear", "reshape", "upsample")


#: Model-file extras: calibration data dian must check, a default input shape it must validate.
CALIBRATION = (
    "np.zeros((n, *SHAPE[1:]), np.float32)",
    "np.full((n, *SHAPE[1:]), np.nan, np.float32)",
    "np.full((n, *SHAPE[1:]), np.inf, np.float32)",
    "np.full((n, *SHAPE[1:]), 1e38, np.float32)",
    "rng.integers(-3, 3, (n, *SHAPE[1:]))",
    "rng.standard_normal((n, *SHAPE[1:])).astype(np.float16)",
    "rng.standard_normal((n, *SHAPE[1:])) > 0",
    "rng.standard_normal((n + 1, *SHAPE[1:])).astype(np.float32)",
    "rng.standard_normal((n, *SHAPE[1:], 1)).astype(np.float32)",
    "rng.standard_normal((n, *SHAPE[1:])).astype(np.complex64)",
    "np.zeros((n, *SHAPE[1:]), object)",
    "[[0.0]] * n",
    "None",
)
INPUT_SHAPES = ("SHAPE", "(0,)", "()", "(1, 'a')", "[1, 2, 3.5]", "None", "(1, -2, 3)", "'1,2'")


@st.composite
def nets(draw: st.DrawFn) -> tuple[str, tuple[int, ...] | None]:
    """``(model file source, input shape)``: the input usually the shape the net was built for;
    None (no --input-shape: the file's INPUT_SHAPE) now and then."""
    rank = draw(st.sampled_from((4,) * 12 + (2, 3)))
    n = draw(st.integers(1, 2))
    shape = [n] + [draw(st.integers(1, 6 if i == 0 else 12)) for i in range(rank - 1)]
    src = NetSource(list(shape))
    for _ in range(draw(st.integers(1, 6)) if draw(st.integers(0, 29)) else 0):
        kind = draw(st.sampled_from(WEIGHTS))
        if len(src.shape) != 4 and kind in ("conv", "pool", "upsample") and draw(st.integers(0, 7)):
            kind = draw(st.sampled_from(("linear", "activation", "binary")))  # mostly layers that take [N, F]
        LAYERS[kind](draw, src)
    returns = draw(st.sampled_from(("x",) * 8 + ("(x, x)", "x.size(0)", "{'y': x}")))
    given = list(shape)
    wrong = draw(st.integers(0, 14))
    if wrong == 0 and rank > 1:
        given[1] += 1  # a channel count the first layer does not take
    elif wrong == 1:
        given = [*given, 2] if rank < 4 else given[:3]  # another rank
    text = src.render(returns)
    if draw(st.integers(0, 5)) == 0:
        text += (
            f"\n\nimport numpy as np\n\nSHAPE = {tuple(shape)!r}\nINPUT_SHAPE = {draw(st.sampled_from(INPUT_SHAPES))}\n"
        )
        if draw(st.booleans()):
            text += f"\n\ndef calibration_data(n, rng):\n    return {draw(st.sampled_from(CALIBRATION))}\n"
        if draw(st.booleans()):
            return text, None
    return text, tuple(given)
