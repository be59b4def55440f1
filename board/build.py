"""`dian build DIR --board BOARD`: the accelerator of an output folder in a LiteX SoC for an ECP5
board, and its bitstream, written to ``DIR/board/<board>/``.

The SoC is composed by a generated script, ``soc.py``, run in a process of its own with dian's
Python (board/litex_soc.py): LiteX and Migen never load into dian's process, a LiteX failure
cannot take it down, and the user keeps a script to rerun or edit. The script writes LiteX's
``gateware/`` without running the tools; dian then runs the three commands of LiteX's build script
(``yosys``, ``nextpnr-ecp5``, ``ecppack``) itself, one at a time, timed and logged, with shims of
those names that exec the venv's YoWASP tools on the PATH of those commands only.

The folder is built in a hidden staging folder beside the target and renamed into place (dian.outdir):
a reader sees the previous build or the new one. When a tool fails, the staging folder is kept as
``DIR/board/<board>.failed/`` (its logs, scripts and a FAILED.txt), replacing an earlier failed
build of that board; any other failure leaves nothing.

YoWASP tools see ``/tmp`` as a private folder of their own, and LiteX writes absolute paths: the
SoC script rewrites the Yosys script's sources as paths relative to ``gateware/`` (where the tools
run), so a DIR under /tmp builds too, and the folder still builds after it is moved.
"""

from __future__ import annotations

import json
import os
import pprint
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dian import outdir
from dian.artifact_io import read_json
from dian.errors import AccelConfigError, BoardError, OutputDirError, ToolFailedError
from dian.hwgen.accel_config import AccelConfig, accel_config_from_file
from dian.hwgen.image_format import MAX_IMAGE_BYTES
from dian.hwgen.targets import TARGET_FABRIC
from dian.hwgen.tools.templates import render_from
from dian.hwgen.tools.toolchain import Tool, log_tail, require_tool, run_tool
from dian.outdir import file_sha256
from dian.safe_paths import check_dirs, make_dirs
from dian.version import __version__

from .boards import BOARDS, Board
from .reports import clock_nets, nextpnr_figures, timing

FORMAT = "dian.board"
FORMAT_VERSION = 1
BOARD_JSON = "board.json"
BOARD_DIR = "board"  # DIR/board/<board>/
BUILD_NAME = "dian_soc"
SCRIPT = "soc.py"
INFO = "soc-info.json"  # written by the SoC script, folded into board.json
FAILED = "FAILED.txt"
TOOL_STEPS = ("yosys", "nextpnr-ecp5", "ecppack")
TEMPLATES = "dian.board"


def _is_board_folder(path: Path) -> bool:
    return outdir.has_format(path / BOARD_JSON, FORMAT)


#: board.json's record of every file the build wrote (name -> sha256): what a rebuild may replace.
WRITTEN = "written"
BOARD_FOLDER = outdir.Kind(
    _is_board_folder, "dian board build", BOARD_JSON, lambda p: outdir.unlisted(p, BOARD_JSON, key=WRITTEN)
)


@dataclass(frozen=True)
class BoardBuild:
    """What :func:`build_board` wrote: the folder and what board.json holds."""

    out_dir: Path
    board: Board
    doc: dict[str, Any]


def _progress(on: bool) -> Callable[[str], None]:
    t0 = time.perf_counter()

    def say(what: str) -> None:
        if on:
            print(f"[{time.perf_counter() - t0:6.1f}s] {what}", file=sys.stderr, flush=True)

    return say


def board_for(name: str) -> Board:
    if name not in BOARDS:
        raise BoardError(f"unknown board {name!r}; dian builds for {', '.join(BOARDS)}.")
    return BOARDS[name]


def _accelerator(path: Path) -> tuple[dict[str, Any], AccelConfig, dict[str, Any]]:
    """The manifest's ``accel`` entry, the config and image.json of a folder compiled with its RTL."""
    accel = outdir.accel_entry(path, outdir.read_manifest(path), "accelerator to put on a board")
    if not any(f.suffix == ".v" for f in outdir.verilog_files(path, accel)):
        raise OutputDirError(f"{path}'s rtl/ has no .v file for the board build to instantiate.")
    cfg = accel_config_from_file(path / outdir.ACCEL)
    image = read_json(path / outdir.IMAGE, OutputDirError, hint="; recompile the folder with `dian compile`")
    image["image_bytes"].as_int(0, MAX_IMAGE_BYTES)
    return accel, cfg, image.value


def check_fits(cfg: AccelConfig, image_bytes: int, board: Board) -> None:
    """Raise :class:`BoardError` unless the board's FPGA holds the accelerator's buffers and its
    SDRAM the image (placed at the SDRAM's first byte)."""
    try:
        cfg.with_target(board.fpga)
    except AccelConfigError as e:
        raise BoardError(f"accelerator {cfg.name} does not fit {board.name}'s {board.device}: {e}") from None
    made_for, here = TARGET_FABRIC[cfg.target], TARGET_FABRIC[board.fpga]
    if made_for is not None and here is not None and (made_for.dsps > here.dsps or made_for.luts > here.luts):
        raise BoardError(
            f"accelerator {cfg.name}'s RTL was generated for {cfg.target.value} ({made_for.dsps} DSPs, "
            f"{made_for.luts:,} LUTs: its multipliers are planned for that part), larger than {board.name}'s "
            f"{board.fpga.value} ({here.dsps} DSPs, {here.luts:,} LUTs); compile for a config whose target is "
            f"{board.fpga.value}, or choose a board with a larger FPGA."
        )
    if image_bytes > board.sdram_bytes:
        raise BoardError(
            f"the image (program.bin, {image_bytes:,} bytes) does not fit {board.name}'s SDRAM "
            f"({board.sdram_bytes:,} bytes, {board.sdram_module}); compile a smaller network or choose a board "
            f"with more memory ({', '.join(f'{b.name} {b.sdram_bytes >> 20} MiB' for b in BOARDS.values())})."
        )


def _hz(value: float | None, default: float, what: str) -> float:
    hz = default if value is None else float(value)
    if not 1e6 <= hz <= 400e6:
        raise BoardError(f"{what} {hz:g} Hz is out of range; give a frequency from 1 MHz to 400 MHz in Hz, e.g. 50e6.")
    return hz


def build_board(
    out_dir: str | Path,
    board: str,
    *,
    bitstream: bool = True,
    seed: int = 1,
    sys_clk_hz: float | None = None,
    accel_clk_hz: float | None = None,
    progress: bool = False,
    force: bool = False,
) -> BoardBuild:
    """Build the LiteX SoC of ``out_dir``'s accelerator for ``board`` into ``out_dir/board/<board>/``:
    the SoC's Verilog, CSR map and board.json, and with ``bitstream`` the tools' outputs (bitstream,
    logs, timing and utilization). ``sys_clk_hz`` defaults to the board's LiteX default,
    ``accel_clk_hz`` to the accelerator config's clock but at most the board's ``accel_clk_hz``
    (what ``tiny`` meets there); equal clocks share one domain."""
    b = board_for(board)
    bitstream = bitstream and not b.simulation
    path = Path(out_dir).absolute()
    accel, cfg, image = _accelerator(path)
    check_fits(cfg, int(image["image_bytes"]), b)
    sys_hz = _hz(sys_clk_hz, b.sys_clk_hz, "--sys-clk-freq")
    accel_hz = _hz(accel_clk_hz, min(cfg.clock_mhz * 1e6, b.accel_clk_hz), "--accel-clk-freq")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise BoardError(f"--seed must be a non-negative integer, not {seed!r}.")
    parent = path / BOARD_DIR
    check_dirs(path, BOARD_DIR)
    final = parent / b.name
    if parent.exists():  # before any work (write_atomically checks again)
        outdir.check_target(final, BOARD_FOLDER, force=force)
    else:
        outdir.check_writable(parent)
    if bitstream:
        require_tool("yosys"), require_tool("nextpnr-ecp5"), require_tool("ecppack")  # before any work
    say = _progress(progress)
    rtl_files = [f for f in accel["rtl"]["files"] if f.endswith(".v")]
    params: dict[str, Any] = {
        "board": b.name,
        "litex_target": b.litex_target,
        "target_args": dict(b.target_args),
        "serial_extension": b.serial_extension,
        "baudrate": b.baudrate,
        "sys_clk_hz": sys_hz,
        "accel_clk_hz": accel_hz,
        "bus_bits": cfg.dram_bus_bits,
        "accel_top": accel["rtl"]["top"],
        "accel_sources": [f"../../{f}" for f in rtl_files],  # from DIR/board/<board>/
        "build_name": BUILD_NAME,
        "seed": seed,
    }
    created = not parent.exists()
    make_dirs(path, BOARD_DIR)
    doc: dict[str, Any] = {}

    def fill(tmp: Path) -> None:
        say(f"composing the LiteX SoC for {b.title} ({SCRIPT})")
        try:
            seconds = {"litex": _run_script(tmp, b, cfg, params)}
            info = json.loads((tmp / INFO).read_text())
            (tmp / INFO).unlink()
            figures = _run_tools(tmp / "gateware", seconds, say) if bitstream else None
        except ToolFailedError as e:
            raise _keep_failed(tmp, parent / f"{b.name}.failed", e) from None
        doc.update(_board_doc(path, tmp, b, cfg, accel, rtl_files, params, info, figures, seconds))
        doc[WRITTEN] = {p.relative_to(tmp).as_posix(): file_sha256(p) for p in sorted(tmp.rglob("*")) if p.is_file()}
        (tmp / BOARD_JSON).write_text(json.dumps(doc, sort_keys=True, indent=1) + "\n")

    try:
        final = outdir.write_atomically(final, fill, BOARD_FOLDER, force=force)
    except BaseException:
        if created and not any(parent.iterdir()):
            parent.rmdir()
        raise
    stale = parent / f"{b.name}.failed"
    if (stale / FAILED).is_file():
        shutil.rmtree(stale, ignore_errors=True)
    say(f"wrote {final}")
    return BoardBuild(final, b, doc)


def board_builds(out_dir: Path) -> list[tuple[str, str]]:
    """(board, state) of every board build in ``out_dir``: ``current`` or ``stale`` (its RTL changed since)."""
    found = []
    for doc_path in sorted((out_dir / BOARD_DIR).glob(f"*/{BOARD_JSON}")):
        current = outdir.hashes_current(out_dir, doc_path, "rtl_sha256")
        found.append((doc_path.parent.name, "current" if current else "stale (the RTL changed since)"))
    return found


def _run_script(folder: Path, board: Board, cfg: AccelConfig, params: dict[str, Any]) -> float:
    """Write soc.py into ``folder`` and run it there; its seconds."""
    script = render_from(
        TEMPLATES,
        f"templates/{SCRIPT}.j2",
        {
            "board": board.name,
            "title": board.title,
            "dian_version": __version__,
            "accel_name": cfg.name,
            "build_name": BUILD_NAME,
            "params": pprint.pformat(params, sort_dicts=True, width=100),
        },
    )
    (folder / SCRIPT).write_text(script)
    log = folder / "soc.log"
    t0 = time.perf_counter()
    run_tool(Tool("the SoC script (LiteX)", (sys.executable, SCRIPT)), [], cwd=folder, log=log)
    return round(time.perf_counter() - t0, 2)


def _script_steps(script: Path) -> list[tuple[str, str]]:
    """The tool commands of LiteX's build script, in order, as ``(tool, command line)``."""
    steps = []
    for line in script.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and line != "set -e":
            steps.append((shlex.split(line)[0], line))
    if [s[0] for s in steps] != list(TOOL_STEPS):
        raise ToolFailedError(
            f"{script} runs {[s[0] for s in steps]}, not {list(TOOL_STEPS)}: a LiteX this dian does not know"
        )
    return steps


def _run_tools(gateware: Path, seconds: dict[str, float], say: Callable[[str], None]) -> dict[str, Any]:
    """Run LiteX's tool commands in ``gateware`` with the YoWASP shims first on PATH; the figures."""
    steps = _script_steps(gateware / f"build_{BUILD_NAME}.sh")
    with tempfile.TemporaryDirectory(prefix="dian-shims-") as shims:
        for name in TOOL_STEPS:  # `exec` of the found tool: the venv's yowasp-*, or a DIAN_* override
            shim = Path(shims) / name
            shim.write_text(
                render_from(TEMPLATES, "templates/tool_shim.sh.j2", {"command": shlex.join(require_tool(name).argv)})
            )
            shim.chmod(0o755)
        env = (("PATH", f"{shims}{os.pathsep}{os.environ.get('PATH', '')}"),)
        for name, line in steps:
            say(f"{name} (log: gateware/{name}.log)")
            t0 = time.perf_counter()
            run_tool(Tool(name, ("bash", "-c", line), env), [], cwd=gateware, log=gateware / f"{name}.log")
            seconds[name] = round(time.perf_counter() - t0, 2)
    return nextpnr_figures(gateware / f"{BUILD_NAME}_report.json")


def _keep_failed(tmp: Path, failed: Path, err: ToolFailedError) -> ToolFailedError:
    """Move the staging folder of a build whose tool failed to ``failed`` (replacing an earlier one
    dian wrote), so that its logs can be read; the error, naming the log."""
    if failed.is_symlink() or (failed.exists() and not (failed / FAILED).is_file()):
        return err  # not ours: leave it, and the staging folder goes
    (tmp / FAILED).write_text(f"dian build failed:\n{err}\n")
    if failed.exists():
        shutil.rmtree(failed)
    os.replace(tmp, failed)
    logs = sorted(failed.glob("gateware/*.log"), key=lambda p: p.stat().st_mtime)
    log = logs[-1] if logs else failed / "soc.log"
    msg = (
        f"{str(err).split('; the full log is')[0]}; the build is kept in {failed}, its log {log} ends:\n{log_tail(log)}"
    )
    return ToolFailedError(msg, err.returncode)


def _board_doc(
    path: Path,
    tmp: Path,
    b: Board,
    cfg: AccelConfig,
    accel: dict[str, Any],
    rtl_files: list[str],
    params: dict[str, Any],
    info: dict[str, Any],
    figures: dict[str, Any] | None,
    seconds: dict[str, float],
) -> dict[str, Any]:
    from importlib.metadata import version

    regions = info["regions"]
    gateware = tmp / "gateware"
    bit = gateware / f"{BUILD_NAME}.bit"
    asked = {"sys": params["sys_clk_hz"]}
    if info["accel_clock_domain"] != "sys":
        asked[info["accel_clock_domain"]] = info["accel_clk_hz"]
    nets = clock_nets(gateware / f"{BUILD_NAME}.v", tuple(asked))
    met = timing(figures, nets, asked) if figures is not None else None
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "dian_version": __version__,
        "board": b.name,
        "title": b.title,
        "device": b.device,
        "package": b.package,
        "speed": b.speed,
        "bridge": {
            "kind": "uartbone",
            "baudrate": b.baudrate,
            "connect": b.serial,
            "server": f"litex_server --uart --uart-port PORT --uart-baudrate {b.baudrate}" if b.baudrate else None,
            "csr_csv": "csr.csv",
        },
        "accel_regs": regions["dian"]["origin"],
        "accel_regs_bytes": regions["dian"]["size"],
        "accel_irq_csr": info["csr"]["dian_irq_level"],
        "dram": {
            "host_base": regions["main_ram"]["origin"],
            "accel_base": 0,
            "size": info["dram_bytes"],
            "module": b.sdram_module,
            "controller_bits": info["dram_controller_bits"],
            "accel_bits": cfg.dram_bus_bits,
        },
        "sdram_init": info["sdram_init"],
        "clocks": {
            "sys_hz": params["sys_clk_hz"],
            "accel_asked_hz": params["accel_clk_hz"],
            "accel_hz": info["accel_clk_hz"],  # what the board's PLL makes of it
            "accel_domain": info["accel_clock_domain"],
        },
        "timing": met,
        "utilization": figures["utilization"] if figures else None,
        "seconds": seconds,
        "seed": params["seed"],
        "bitstream": {"file": f"gateware/{bit.name}", "bytes": bit.stat().st_size, "sha256": file_sha256(bit)}
        if figures is not None
        else None,
        "accel": {"name": cfg.name, "config_sha256": accel["config_sha256"], "top": accel["rtl"]["top"]},
        "rtl_sha256": {f: file_sha256(path / f) for f in rtl_files},
        "files": {
            "script": SCRIPT,
            "verilog": f"gateware/{BUILD_NAME}.v",
            "csr_csv": "csr.csv",
            "csr_json": "csr.json",
        },
        "versions": {p: version(p) for p in ("litex", "litedram", "litex-boards", "migen")},
    }
