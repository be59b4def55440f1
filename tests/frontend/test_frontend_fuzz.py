"""No traceback ever from the frontend: random small networks (fuzz_nets.py), compiled through the
CLI in process (`dian compile FILE.py:make --input-shape ...`), either compile (exit 0, a folder
written) or fail with a dian error (exit 2, one `dian: error:` message, nothing written). Any other
exception escapes :func:`dian.cli.main` and fails the test with hypothesis' smallest network.

The ``@example`` cases are the crashes this fuzz found, kept as regressions."""

from __future__ import annotations

import io
import tempfile
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from fuzz_nets import NetSource, nets
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from dian.cli import main


def _compile(source: str, shape: tuple[int, ...] | None, accel: bool = False) -> tuple[int, str]:
    with tempfile.TemporaryDirectory(prefix="dian-fuzz-") as tmp:
        model = Path(tmp) / "fuzz_net.py"
        model.write_text(source)
        out = Path(tmp) / "out"
        argv = ["compile", f"{model}:make", "--out", str(out)]
        if shape is not None:
            argv += ["--input-shape", ",".join(map(str, shape))]
        if accel:
            argv += ["--accel", "tiny", "--no-rtl"]
        err = io.StringIO()
        with redirect_stdout(io.StringIO()), redirect_stderr(err):
            code = main([*argv, "--calib-samples", "4"])
        assert code in (0, 2), f"exit {code}\n{err.getvalue()}"
        if code == 0:
            assert (out / "model.ir.json").is_file(), "exit 0 without a compiled folder"
        else:
            message = err.getvalue().partition("dian: error: ")[2]  # the model's own warnings may come first
            assert message and "Traceback" not in message, err.getvalue()
            assert not out.exists(), "a failed compile left its output folder"
            return code, message
        return code, ""


def _settings(max_examples: int) -> settings:
    """The same networks on every run (derandomize), no deadline (a loaded machine is slow)."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def _check(case: tuple[str, tuple[int, ...] | None], accel: bool = False) -> None:
    source, shape = case
    code, err = _compile(source, shape, accel)
    event("compiled" if code == 0 else " ".join(w for w in err.split()[:9] if not any(ch.isdigit() for ch in w)))


def _net(body: list[str], inits: tuple[str, ...] = (), returns: str = "x") -> str:
    return NetSource([], [f"self.m{i} = {m}" for i, m in enumerate(inits)], body).render(returns)


# Crashes the fuzz found (each was a Python exception out of `dian compile`), kept as regressions.
FOUND = (
    # a stand-in for a refused node has that node's rank; adaptive pooling unpacked 4 dimensions
    (_net(["x = x.unsqueeze(1)", "x = F.adaptive_avg_pool2d(x, 1)"]), (1, 2, 1, 1)),
    # torch pools unbatched [C, H, W] inputs; dian's rules unpacked [N, C, H, W]
    (_net(["x = F.adaptive_avg_pool2d(x, 1)"]), (2, 3, 3)),
    (_net(["x = F.avg_pool2d(x, 3, 2, ceil_mode=True)"]), (2, 5, 5)),
    # a zero-size layer reached the quantizer, which reshaped an empty weight
    (_net(["x = torch.flatten(x, 1)", "x = self.m0(x)"], ("nn.Linear(1, 0, bias=False)",)), (1, 1, 1)),
    # the input-shape message read the shape of a tuple (max_pool2d's return_indices)
    (_net(["x = F.max_pool2d(x, 2, return_indices=True)", "x = self.m0(x)"], ("nn.Conv2d(2, 1, 1)",)), (1, 2, 2, 2)),
    # nn.ConvTranspose2d on an unbatched [C, H, W] input: its rule unpacked [N, C, H, W]
    (_net(["x = self.m0(x)"], ("nn.ConvTranspose2d(1, 1, 1)",)), (1, 1, 1)),
)


@_settings(1000)
@given(nets())
@example(FOUND[0])
@example(FOUND[1])
@example(FOUND[2])
@example(FOUND[3])
@example(FOUND[4])
@example(FOUND[5])
def test_compile_random_nets(case: tuple[str, tuple[int, ...] | None]) -> None:
    _check(case)


@pytest.mark.slow
@_settings(10000)
@given(nets(), st.integers(0, 2))
def test_compile_random_nets_many(case: tuple[str, tuple[int, ...] | None], accel: int) -> None:
    """Many more networks; a third of them also mapped and lowered for the tiny accelerator."""
    _check(case, accel == 0)


@pytest.mark.parametrize(
    "case",
    [
        # no layer left: the accelerator's image writer met an empty program
        (_net([]), (1, 2, 1, 1)),
        (_net(["x = torch.flatten(x, 1)"]), (1, 2, 1, 1)),
        (_net(["y = torch.relu(x)"], returns="(x, y)"), (1, 2, 1, 1)),
    ],
)
def test_accelerator_regressions(case: tuple[str, tuple[int, ...]]) -> None:
    """Crashes the fuzz found on the --accel path, now ScheduleErrors."""
    code, err = _compile(*case, accel=True)
    assert code == 2 and "accelerator" in err and "Traceback" not in err


def test_a_rank_3_input_runs_on_the_accelerator() -> None:
    """Once a crash (the layout took [N, C, L] for 2-D or 4-D); the layout now holds it as [N, C, 1, L]."""
    code, err = _compile(
        _net(["x = torch.flatten(x, 1)", "x = self.m0(x)"], ("nn.Linear(1, 1)",)), (1, 1, 1), accel=True
    )
    assert code == 0, err


def test_a_valid_net_compiles() -> None:
    """The fuzz's harness reaches exit 0 on a net dian supports (else it would only test errors)."""
    body = (
        "import torch.nn as nn\n\n\ndef make():\n"
        "    return nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, ceil_mode=True))\n"
    )
    assert _compile(body, (1, 2, 5, 5))[0] == 0


def test_an_unsupported_net_is_exit_2_with_its_line() -> None:
    body = "import torch\nimport torch.nn as nn\n\n\nclass M(nn.Module):\n    def forward(self, x):\n"
    body += "        return torch.exp(x)\n\n\ndef make():\n    return M()\n"
    code, err = _compile(body, (1, 2))
    assert code == 2 and "fuzz_net.py:7: torch.exp" in err and "Traceback" not in err
