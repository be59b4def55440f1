"""Every documented tracing error is a typed DianError naming the culprit; the nodes no rule
lowers come in one error, each with its source line, op and reason."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from frontend_helpers import Net

from dian.errors import DianError, InputShapeError, UnsupportedOpError
from dian.frontend import trace


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)
        self.act = nn.Softmax(dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv(x))


class Deep(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layer2 = nn.Sequential(Block())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer2(x)


def test_unsupported_module_names_class_path_and_points_at_the_supported_set() -> None:
    with pytest.raises(UnsupportedOpError) as e:
        trace(Deep(), (1, 3, 4, 4), "m")
    msg = str(e.value)
    assert "nn.Softmax" in msg and "layer2.0.act" in msg and "has 1 op dian cannot lower" in msg
    assert msg.splitlines()[-1].startswith("What dian supports:") and '"Supported ops"' in msg
    assert len(msg) < 400  # the short pointer, not the whole supported set


@pytest.mark.parametrize(
    "fn, culprit",
    [
        (lambda s, x: torch.exp(x), "torch.exp"),
        (lambda s, x: F.softmax(x, dim=1), "F.softmax"),
        (lambda s, x: torch.matmul(x, x), "torch.matmul"),
        (lambda s, x: torch.roll(x, 1), "torch.roll"),
        (lambda s, x: x.sum(), "Tensor.sum()"),
        (lambda s, x: x.cumsum(1), "Tensor.cumsum()"),
    ],
)
def test_unsupported_function_or_method_is_named(fn, culprit: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UnsupportedOpError) as e:
        trace(Net(fn), (1, 3, 4, 4), "m")
    assert culprit in str(e.value) and "not supported by dian" in str(e.value)


@pytest.mark.parametrize(
    "fn, words",
    [
        (lambda s, x: x / x, "divides an activation by a nonzero Python number"),
        (lambda s, x: x * F.adaptive_avg_pool2d(x, (1, 4)), r"an \[N, C, 1, 1\] gate"),
        (lambda s, x: F.interpolate(x, scale_factor=2, mode="bilinear"), "mode='nearest' only"),
        (lambda s, x: x + x.mean((2, 3), keepdim=True), "same shape"),
        (lambda s, x: torch.add(x, x, alpha=2), "alpha"),
        (lambda s, x: torch.cat([x, x], 0), "dimension 0"),
        (lambda s, x: x.view(-1), "batch"),
        (lambda s, x: x.permute(0, 2, 3, 1), "permutes channel groups only"),
        (lambda s, x: x[:, :, :1], r"indexes channels only, as x\[:, a:b\]"),
        (lambda s, x: F.avg_pool2d(x, 3, 2, ceil_mode=True), "ceil_mode only where it adds no window"),
        (lambda s, x: F.avg_pool2d(x, 2, count_include_pad=False, padding=1), "count_include_pad"),
        (lambda s, x: F.adaptive_avg_pool2d(x, 3), "adaptive"),
        (lambda s, x: x.mean(1), "mean over dims"),
        (lambda s, x: x.clamp(min=x), "clamp bound"),
        (lambda s, x: F.dropout(x, 0.5, True), "training=True"),
    ],
)
def test_unsupported_variants_say_what_is_allowed(fn, words: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UnsupportedOpError, match=words):
        trace(Net(fn), (1, 3, 4, 4), "m")


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize(
    "module, words",
    [
        (nn.Conv2d(1, 1, 3, padding=1, padding_mode="reflect"), "padding_mode"),
        (nn.Conv2d(1, 1, 4, padding="same"), "same"),
        (nn.MaxPool2d(2, dilation=2), "dilation"),
        (nn.AvgPool2d(2, divisor_override=3), "divisor_override"),
        (nn.Sequential(nn.Flatten(0)), "batch"),
        (nn.Conv1d(1, 1, 1, padding_mode="circular"), "zero padding only"),
        (nn.MaxPool1d(2, return_indices=True), "nn.MaxPool1d: it produces a tuple, not a tensor"),
    ],
)
def test_unsupported_module_configurations(module: nn.Module, words: str) -> None:
    shape = (1, 1, 6) if isinstance(module, (nn.Conv1d, nn.MaxPool1d)) else (1, 1, 6, 6)
    with pytest.raises(UnsupportedOpError, match=words):
        trace(module, shape, "m")


def test_linear_on_rank3_input_is_rejected() -> None:
    with pytest.raises(UnsupportedOpError, match="flatten"):
        trace(nn.Sequential(nn.Linear(4, 2)), (1, 3, 4), "m")


def test_parameter_used_directly_is_rejected() -> None:
    class Scale(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = nn.Parameter(torch.ones(1, 3, 1, 1))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x + self.w

    with pytest.raises(UnsupportedOpError, match="`w`"):
        trace(Scale(), (1, 3, 2, 2), "m")


class DataDependent(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.sum() > 0:
            return x
        return torch.relu(x)


def test_untraceable_model_names_the_class_and_the_line() -> None:
    with pytest.raises(UnsupportedOpError) as e:
        trace(DataDependent(), (1, 3, 4, 4), "m")
    msg = str(e.value)
    assert "DataDependent.forward" in msg and "test_trace_errors.py:" in msg and "control flow" in msg


def test_two_inputs_are_rejected() -> None:
    class Two(nn.Module):
        def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return x + y

    with pytest.raises(UnsupportedOpError, match="one input"):
        trace(Two(), (1, 3), "m")


def test_wrong_channel_count_names_expected_and_given_shape() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
    with pytest.raises(InputShapeError) as e:
        trace(model, (1, 1, 8, 8), "m")
    msg = str(e.value)
    assert "[1, 1, 8, 8]" in msg and "[N, 3, H, W]" in msg and "`0`" in msg


def test_wrong_spatial_size_names_the_linear_layer() -> None:
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(2 * 6 * 6, 3))
    with pytest.raises(InputShapeError) as e:
        trace(model, (1, 1, 9, 9), "m")
    msg = str(e.value)
    assert "[N, 72]" in msg and "[1, 98]" in msg and "first layer" in msg


@pytest.mark.parametrize("shape", [(), (1, 0, 3), "1x3", (1.5, 2), None])
def test_malformed_input_shape(shape: object) -> None:
    with pytest.raises(InputShapeError, match="positive integers"):
        trace(nn.ReLU(), shape, "m")  # type: ignore[arg-type]


def test_all_errors_are_dian_errors() -> None:
    assert issubclass(UnsupportedOpError, DianError) and issubclass(InputShapeError, DianError)


class ExpBlock(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.exp(x)


def test_unsupported_function_names_the_enclosing_module() -> None:
    model = nn.Sequential(nn.Conv2d(1, 1, 1), nn.Sequential(nn.ReLU(), ExpBlock()))
    with pytest.raises(UnsupportedOpError) as e:
        trace(model, (1, 1, 2, 2), "m")
    assert "torch.exp" in str(e.value) and "(in `1.1`)" in str(e.value)


def _line_of(marker: str) -> int:
    """The line of this file holding ``marker``: found by reading the source, not from dian."""
    lines = Path(__file__).read_text().splitlines()
    return next(i + 1 for i, text in enumerate(lines) if text.rstrip().endswith(marker))


class ThreeBlockers(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.pool = nn.MaxPool2d(2, dilation=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.exp(self.conv(x))  # blocker: exp
        y = self.pool(y)  # blocker: dilated pool
        y = F.interpolate(y, scale_factor=1.5)  # blocker: fractional upsample
        return torch.relu(y)


def test_every_blocker_is_listed_with_its_line() -> None:
    with pytest.raises(UnsupportedOpError) as e:
        trace(ThreeBlockers(), (1, 3, 8, 8), "three")
    msg = str(e.value)
    here = Path(__file__).name
    exp, pool, up = (_line_of(f"# blocker: {m}") for m in ("exp", "dilated pool", "fractional upsample"))
    assert "'three' has 3 ops dian cannot lower" in msg
    lines = msg.splitlines()
    assert len(lines) == 5  # the headline, one line per blocker, the pointer
    assert f"{here}:{exp}" in lines[1] and "torch.exp" in lines[1]
    assert f"{here}:{pool}" in lines[2] and "module `pool`" in lines[2] and "dilation" in lines[2]
    assert f"{here}:{up}" in lines[3] and "F.interpolate" in lines[3] and "whole factors" in lines[3]
    assert "README.md" in lines[4]


def test_the_list_is_capped() -> None:
    def many(s: nn.Module, x: torch.Tensor) -> torch.Tensor:
        for _ in range(25):
            x = torch.exp(x)
        return x

    with pytest.raises(UnsupportedOpError) as e:
        trace(Net(many), (1, 2), "m")
    lines = str(e.value).splitlines()
    assert "has 25 ops" in lines[0] and sum("torch.exp" in ln for ln in lines) == 20
    assert lines[-2].strip() == "... and 5 more"


def test_users_of_a_refused_tuple_are_not_listed_again() -> None:
    def pool(s: nn.Module, x: torch.Tensor) -> torch.Tensor:
        r = F.max_pool2d(x, 2, return_indices=True)  # one blocker; the indexings of its tuple follow from it
        return torch.relu(r[0]) + r[0]

    with pytest.raises(UnsupportedOpError) as e:
        trace(Net(pool), (1, 4, 2, 2), "m")
    msg = str(e.value)
    assert "has 1 op" in msg and "F.max_pool2d" in msg and "getitem" not in msg


def test_source_line_is_the_model_file_for_a_compiled_model(tmp_path: Path) -> None:
    src = tmp_path / "net.py"
    src.write_text(
        "import torch\nimport torch.nn as nn\n\n\nclass N(nn.Module):\n"
        "    def forward(self, x):\n        return torch.exp(x).sum(1)\n"
    )
    from dian.frontend import load_model

    loaded = load_model(f"{src}:N")
    with pytest.raises(UnsupportedOpError) as e:
        trace(loaded.module, (1, 3), "m")
    msg = str(e.value)
    assert f"{src}:7: torch.exp" in msg and f"{src}:7: Tensor.sum()" in msg
