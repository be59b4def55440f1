"""What the `dian` CLI writes when interrupted, and where `--output` goes (in-process, with
test_api's one-layer frontend).

A Ctrl-C exits 130 and leaves the previous folder byte-identical, also when something on the way
swallows the KeyboardInterrupt the way torch's C++ stack symbolizer does during tracing (the
compile then either went on to the end, exit 0, or failed as a tracing error, exit 2).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import dian.frontend
from dian import api, cli

COMPILE = ("compile", "zoo:tiny", "--input-shape", "1,4")


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(autouse=True)
def _python_sigint_handler() -> Iterator[None]:
    """Python's own SIGINT handler, whatever the run inherited (a background job's is SIG_IGN)."""
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, old)


@pytest.fixture
def out(tmp_path: Path, fake_frontend: SimpleNamespace) -> Path:
    return api.compile_model("zoo:tiny", (1, 4), tmp_path / "out", seed=1).out_dir


def _interrupting_lower(monkeypatch: pytest.MonkeyPatch, swallow: str) -> None:
    """Make the frontend's lower_model() get a real SIGINT and, like torch, ``swallow`` the
    KeyboardInterrupt ("go on": return normally; "fail": raise another error) or not ("no")."""
    real_lower = dian.frontend.lower_model

    def lower(*args: object) -> object:
        try:
            os.kill(os.getpid(), signal.SIGINT)
        except KeyboardInterrupt:
            if swallow == "no":
                raise
            if swallow == "fail":
                from dian.errors import UnsupportedOpError

                raise UnsupportedOpError("torch.fx cannot trace TinyNet.forward: AttributeError") from None
        return real_lower(*args)

    monkeypatch.setattr(dian.frontend, "lower_model", lower)


@pytest.mark.parametrize("swallow", ["no", "go on", "fail"])
def test_ctrl_c_exits_130_and_keeps_the_previous_folder(
    out: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], swallow: str
) -> None:
    before = _tree(out)
    _interrupting_lower(monkeypatch, swallow)
    assert cli.main([*COMPILE, "--out", str(out), "--seed", "2"]) == 130
    assert "dian: interrupted" in capsys.readouterr().err
    assert _tree(out) == before and [p.name for p in out.parent.iterdir()] == ["out"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the CLI put Python's back


def test_ctrl_c_while_the_folder_is_written(
    out: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _tree(out)
    real_write = Path.write_text

    def write_text(self: Path, text: str, *a: object, **k: object) -> int:
        if self.name == "summary.txt":
            os.kill(os.getpid(), signal.SIGINT)
        return real_write(self, text, *a, **k)

    monkeypatch.setattr(Path, "write_text", write_text)
    assert cli.main([*COMPILE, "--out", str(out), "--seed", "2"]) == 130
    assert _tree(out) == before and [p.name for p in out.parent.iterdir()] == ["out"]


def test_force_on_the_command_line(out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (out / "NOTES.txt").write_text("mine")
    assert cli.main([*COMPILE, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "NOTES.txt" in err and "--force" in err and (out / "NOTES.txt").exists()
    assert cli.main([*COMPILE, "--out", str(out), "--force"]) == 0
    assert not (out / "NOTES.txt").exists()


@pytest.mark.parametrize("name", ["y.out", "y", "y.npy"])
def test_output_is_written_at_exactly_the_path_given(
    out: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    x = tmp_path / "x.npy"
    np.save(x, np.array([[5.0, -2.5, 0.75, 0.25]], dtype=np.float32))
    assert cli.main(["run", str(out), "--input", str(x), "--output", str(tmp_path / name)]) == 0
    assert f"written to {tmp_path / name}\n" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["out", "x.npy", name])
    np.testing.assert_array_equal(np.load(tmp_path / name), api.run_model(out, np.load(x)))


def test_an_empty_output_is_refused_before_any_work(
    out: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    np.save(tmp_path / "x.npy", np.zeros((1, 4), np.float32))
    ran: list[object] = []
    monkeypatch.setattr(api, "run_model", lambda *a: ran.append(a))
    monkeypatch.setattr(api, "simulate_model", lambda *a, **k: ran.append(a))
    for cmd in ("run", "simulate"):
        assert cli.main([cmd, str(out), "--input", "x.npy", "--output", ""]) == 2
        assert "--output is empty" in capsys.readouterr().err
    assert ran == [] and not (tmp_path / ".npy").exists()
