"""`dian build --no-bitstream` (fast tier): the SoC's Verilog instantiates the accelerator with
every port wired, and board.json's addresses are the ones the generated SoC decodes and LiteX's
csr.csv lists; bad inputs are one-paragraph errors that leave nothing behind.

Expectations come from outside the code under test: the accelerator's own Verilog header, the
address decoder in LiteX's Verilog, LiteX's csr.csv, and the SDRAM's mode register from its data
sheet (MT48LC16M16: A[2:0] burst length, A[6:4] CAS latency, so BL 1, CL 2 is 0x020)."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from dian import api, cli
from dian.board.boards import BOARDS
from dian.errors import BoardError, OutputDirError, ToolFailedError
from dian.hwgen.presets import PRESETS

BOARD = "ulx3s-85f"


def _csv(folder: Path) -> dict[tuple[str, str], list[str]]:
    rows = {}
    for line in (folder / "csr.csv").read_text().splitlines():
        if line and not line.startswith("#"):
            kind, name, *rest = line.split(",")
            rows[(kind, name)] = rest
    return rows


def _ports(verilog: str, module: str) -> set[str]:
    body = re.search(rf"^module {module}\s*\((.*?)\);", verilog, re.S | re.M)
    assert body is not None
    return {p.strip() for p in body.group(1).split(",")}


def _instance(verilog: str, module: str, name: str) -> dict[str, str]:
    m = re.search(rf"^{module} {name}\((.*?)\n\);", verilog, re.S | re.M)
    assert m is not None, f"no instance {name} of {module}"
    return dict(re.findall(r"\.(\w+)\s*\(([^()]*)\)", m.group(1)))


def _leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith(".")) if parent.exists() else []


@pytest.fixture(scope="module")
def built(lenet_tiny: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ulx3s") / "lenet"
    shutil.copytree(lenet_tiny, folder)
    res = api.build_board(folder, BOARD, bitstream=False)
    assert res.out_dir == folder / "board" / BOARD
    return res.out_dir


def test_the_soc_instantiates_the_accelerator_with_every_port_wired(built: Path) -> None:
    soc = (built / "gateware" / "dian_soc.v").read_text()
    accel = (built.parents[1] / "rtl" / "dian_accel.v").read_text()
    conn = _instance(soc, "dian_accel", "dian_accel")
    assert set(conn) == _ports(accel, "dian_accel")
    assert all(v.strip() for v in conn.values())
    assert conn["clk"].strip() == "accel_clk" and conn["rst"].strip() == "accel_rst"  # its own clock domain
    for port in ("s_axil_araddr", "s_axil_awaddr"):  # the register offset: the low 12 bits of the bus address
        assert conn[port].strip().endswith("[11:0]")
    # The Yosys script reads the accelerator from DIR/rtl by a path relative to gateware/.
    ys = (built / "gateware" / "dian_soc.ys").read_text()
    reads = re.findall(r"^read_verilog (\S+)$", ys, re.M)
    assert all(not r.startswith("/") for r in reads)
    assert (built / "gateware" / reads[0]).resolve() == (built.parents[1] / "rtl" / "dian_accel.v").resolve()


def test_board_json_addresses_are_what_the_soc_decodes(built: Path) -> None:
    doc = json.loads((built / "board.json").read_text())
    csv = _csv(built)
    soc = (built / "gateware" / "dian_soc.v").read_text()
    assert doc["format"] == "dian.board" and doc["format_version"] == 1
    assert (built / "board.json").read_text() == json.dumps(doc, sort_keys=True, indent=1) + "\n"
    assert int(csv[("memory_region", "dian")][0], 16) == doc["accel_regs"]
    assert int(csv[("memory_region", "main_ram")][0], 16) == doc["dram"]["host_base"]
    assert int(csv[("memory_region", "main_ram")][1]) == doc["dram"]["size"] == 4 * 8192 * 512 * 2  # MT48LC16M16
    assert doc["dram"]["accel_base"] == 0
    assert int(csv[("csr_register", "dian_irq_level")][0], 16) == doc["accel_irq_csr"]
    # The Wishbone decoder compares word-address bits [29:k] with a constant: the region's byte base is
    # that constant << (k + 2) and its size 1 << (k + 2).
    decoded = {
        int(v) << (int(k) + 2): 1 << (int(k) + 2)
        for k, v in re.findall(r"_shared_adr\[29:(\d+)\] == \d+'d(\d+)\)", soc)
    }
    assert decoded[doc["accel_regs"]] == doc["accel_regs_bytes"] == 4096
    assert decoded[doc["dram"]["host_base"]] == doc["dram"]["size"]
    # tiny asks 100 MHz, the ULX3S's default stops at 75 MHz.
    assert doc["clocks"] == {"sys_hz": 50e6, "accel_asked_hz": 75e6, "accel_hz": 75_000_000, "accel_domain": "accel"}
    assert doc["timing"] is doc["utilization"] is doc["bitstream"] is None


def test_sdram_init_replays_the_bios_sequence_on_the_csrs(built: Path) -> None:
    init = json.loads((built / "board.json").read_text())["sdram_init"]
    csv = _csv(built)
    regs = {n.removeprefix("sdram_dfii_"): int(v[0], 16) for (k, n), v in csv.items() if n.startswith("sdram_dfii_")}
    assert init["registers"] == regs
    steps = init["steps"]
    assert steps[0] == ["write", regs["control"], 0b1110]  # software control: CKE | ODT | RESET_N
    assert steps[-1] == ["write", regs["control"], 0b0001]  # back to the controller: SEL
    assert {s[0] for s in steps} == {"write", "wait_us"}
    assert all(s[1] in regs.values() for s in steps if s[0] == "write")
    # Load Mode Register: address = CL 2, BL 1 (0x020), first with the DLL-reset bit (0x100), then
    # command RAS | CAS | WE | CS, issued.
    writes = [tuple(s[1:]) for s in steps if s[0] == "write"]
    for mode in (0x120, 0x020):
        i = writes.index((regs["pi0_address"], mode))
        assert writes[i + 2 : i + 4] == [(regs["pi0_command"], 0b1111), (regs["pi0_command_issue"], 1)]
    assert init["leveling"] is None


def test_info_lists_the_board_build(built: Path, lenet_copy: Callable[[], Path]) -> None:
    assert f"board/{BOARD}/board.json current" in api.model_info(built.parents[1])
    folder = lenet_copy()
    api.build_board(folder, "sim")
    with open(folder / "rtl" / "dian_accel.v", "a") as f:
        f.write("// changed\n")
    assert "board/sim/board.json stale (the RTL changed since)" in api.model_info(folder)


def test_a_rebuild_is_identical_but_for_the_seconds(built: Path, tmp_path: Path) -> None:
    again = tmp_path / "lenet"
    shutil.copytree(built.parents[1], again, ignore=shutil.ignore_patterns("board"))
    out = api.build_board(again, BOARD, bitstream=False).out_dir
    first, second = (json.loads((d / "board.json").read_text()) for d in (built, out))
    first.pop("seconds"), second.pop("seconds")
    logs = {name for name in first["written"] if name.endswith(".log")}
    assert logs and all(first["written"][k] == second["written"][k] for k in set(first["written"]) - logs)
    assert set(first.pop("written")) == set(second.pop("written"))  # the logs' sha256 differ
    assert first == second
    for name in ("gateware/dian_soc.v", "gateware/dian_soc.ys", "csr.csv", "csr.json", "soc.py"):
        assert (built / name).read_bytes() == (out / name).read_bytes(), name


def test_orangecrab_gets_its_ddr3_with_read_leveling_data(lenet_copy: Callable[[], Path], tmp_path: Path) -> None:
    folder = lenet_copy()
    out = api.build_board(folder, "orangecrab-25f", bitstream=False).out_dir
    again = shutil.copytree(folder, tmp_path / "again", ignore=shutil.ignore_patterns("board"))
    other = api.build_board(again, "orangecrab-25f", bitstream=False).out_dir
    # Its DDR3 PHY's many primitive cells: LiteX's module tree lists them in set order; dian sorts them.
    assert (out / "gateware" / "dian_soc.v").read_bytes() == (other / "gateware" / "dian_soc.v").read_bytes()
    doc, csv = json.loads((out / "board.json").read_text()), _csv(out)
    assert doc["dram"]["size"] == 8 * 8192 * 1024 * 2  # MT41K64M16: 128 MiB
    # 75 MHz asked, within 5 %: a frequency the 48 MHz PLL makes from the VCO (400-800 MHz) that also
    # gives sys2x at 96 MHz and init at 24 MHz by integer dividers.
    hz = doc["clocks"]["accel_hz"]
    assert 0.95 * 75e6 <= hz <= 1.05 * 75e6 and hz != 75e6
    assert any(vco * 1_000_000 % hz == 0 for vco in range(96 * 5, 801, 96))  # 480, 576, 672, 768
    regs = doc["sdram_init"]["registers"]  # both DFI phases', and 64-bit data: two CSR words
    assert regs["pi1_wrdata"] == int(csv[("csr_register", "sdram_dfii_pi1_wrdata")][0], 16)
    assert csv[("csr_register", "sdram_dfii_pi0_wrdata")][1] == "2"
    lev = doc["sdram_init"]["leveling"]
    assert lev["read"] and lev["modules"] == 2
    assert lev["registers"] == {
        n.removeprefix("ddrphy_"): int(v[0], 16) for (k, n), v in csv.items() if k == "csr_register" and "ddrphy" in n
    }
    lpf = (out / "gateware" / "dian_soc.lpf").read_text()
    assert re.search(r'"serial_tx" SITE "N18"', lpf) or re.search(r'"serial_tx" SITE "\w+"', lpf)


def test_unknown_board_names_the_boards(lenet_copy: Callable[[], Path], capsys: pytest.CaptureFixture[str]) -> None:
    folder = lenet_copy()
    with pytest.raises(BoardError, match="unknown board 'de10-nano'; dian builds for ulx3s-85f, "):
        api.build_board(folder, "de10-nano", bitstream=False)
    assert cli.main(["build", str(folder), "--board", "nope", "--no-bitstream"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("dian: error: unknown board 'nope'") and all(b in err for b in BOARDS)
    assert not (folder / "board").exists()


def _edit(path: Path, change: Callable[[dict], None]) -> None:  # type: ignore[type-arg]
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        (lambda f: _edit(f / "manifest.json", lambda d: d.pop("accel")), OutputDirError, "compiled without --accel"),
        (lambda f: _edit(f / "manifest.json", lambda d: d["accel"].update(rtl=None)), OutputDirError, "has no rtl/"),
        (lambda f: (f / "manifest.json").unlink(), OutputDirError, "not a dian output folder"),
        (
            lambda f: _edit(f / "image.json", lambda d: d.update(image_bytes=33 << 20)),
            BoardError,
            r"image \(program.bin, 34,603,008 bytes\) does not fit ulx3s-85f's SDRAM \(33,554,432 bytes",
        ),
    ],
    ids=["no-accel", "no-rtl", "not-dian", "image-too-big"],
)
def test_bad_folders_are_errors_that_write_nothing(
    lenet_copy: Callable[[], Path], change: Callable[[Path], None], error: type, match: str
) -> None:
    folder = lenet_copy()
    change(folder)
    with pytest.raises(error, match=match):
        api.build_board(folder, BOARD, bitstream=False)
    assert not (folder / "board").exists()


def test_an_accelerator_too_big_for_the_fpga(lenet_copy: Callable[[], Path]) -> None:
    folder = lenet_copy()
    (folder / "accel.json").write_text(PRESETS["default"].to_json())
    with pytest.raises(BoardError, match="accelerator default does not fit ulx3s-25f's LFE5U-25F-6BG381C"):
        api.build_board(folder, "ulx3s-25f", bitstream=False)  # its buffers: more block RAM than the 25F has
    (folder / "accel.json").write_text(PRESETS["small"].to_json())
    with pytest.raises(BoardError, match=r"generated for ecp5-85k \(156 DSPs.*larger than orangecrab-25f's ecp5-25k"):
        api.build_board(folder, "orangecrab-25f", bitstream=False)  # its multipliers are planned for 156 DSPs
    assert not (folder / "board").exists()


def test_a_failing_tool_keeps_its_log_and_touches_no_previous_build(
    lenet_copy: Callable[[], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = lenet_copy()
    good = api.build_board(folder, BOARD, bitstream=False).out_dir
    before = (good / "board.json").read_bytes()
    monkeypatch.setenv("DIAN_YOSYS", "false")  # a Yosys that fails at once
    with pytest.raises(ToolFailedError) as err:
        api.build_board(folder, BOARD)
    failed = folder / "board" / f"{BOARD}.failed"
    assert f"the build is kept in {failed}, its log {failed / 'gateware' / 'yosys.log'}" in str(err.value)
    assert (failed / "gateware" / "yosys.log").is_file() and (failed / "FAILED.txt").is_file()
    assert (good / "board.json").read_bytes() == before
    assert _leftovers(folder / "board") == []
    monkeypatch.delenv("DIAN_YOSYS")
    api.build_board(folder, BOARD, bitstream=False)  # a later success clears the failed build away
    assert not failed.exists()


def test_refuses_folders_that_are_not_its_own(lenet_copy: Callable[[], Path], tmp_path: Path) -> None:
    folder = lenet_copy()
    mine = folder / "board" / BOARD
    mine.mkdir(parents=True)
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(OutputDirError, match="is not a dian board build"):
        api.build_board(folder, BOARD, bitstream=False)
    assert (mine / "notes.txt").read_text() == "keep me" and _leftovers(folder / "board") == []
    shutil.rmtree(folder / "board")
    (tmp_path / "elsewhere").mkdir()
    (folder / "board").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(OutputDirError, match="is a symlink"):
        api.build_board(folder, BOARD, bitstream=False)
    assert list((tmp_path / "elsewhere").iterdir()) == []


def test_a_rebuild_deletes_only_what_the_build_wrote(built: Path, tmp_path: Path) -> None:
    """board.json's ``written`` lists every file of the build with its sha256; a file it does not
    list, or one edited since, is the user's: refused before any work, deleted only with ``force``."""
    folder = tmp_path / "lenet"
    shutil.copytree(built.parents[1], folder)
    build = folder / "board" / BOARD
    written = json.loads((build / "board.json").read_text())["written"]
    assert "gateware/dian_soc.v" in written and "board.json" not in written
    (build / "notes.txt").write_text("keep me")
    with open(build / "csr.csv", "a") as f:
        f.write("# my remark\n")
    before = {p: p.read_bytes() for p in build.rglob("*") if p.is_file()}
    with pytest.raises(OutputDirError, match=r"\(csr.csv, notes.txt\).* add --force to delete them"):
        api.build_board(folder, BOARD, bitstream=False)
    assert {p: p.read_bytes() for p in build.rglob("*") if p.is_file()} == before
    api.build_board(folder, BOARD, bitstream=False, force=True)
    assert not (build / "notes.txt").exists() and "# my remark" not in (build / "csr.csv").read_text()


def test_the_simulation_soc_has_the_same_map_and_stream_ports(lenet_copy: Callable[[], Path]) -> None:
    out = api.build_board(lenet_copy(), "sim").out_dir  # no bitstream for a simulation, asked or not
    doc, csv = json.loads((out / "board.json").read_text()), _csv(out)
    soc = (out / "gateware" / "dian_soc.v").read_text()
    assert doc["bitstream"] is None and doc["bridge"]["baudrate"] is None
    assert int(csv[("memory_region", "dian")][0], 16) == doc["accel_regs"] == 0x2000_0000
    assert int(csv[("memory_region", "main_ram")][0], 16) == doc["dram"]["host_base"] == 0x4000_0000
    header = re.search(r"^module dian_soc \((.*?)\);", soc, re.S | re.M)
    assert header is not None
    ports = {n: d for d, n in re.findall(r"(input|output)\s+wire\s+(?:\[\d+:0\]\s+)?(\w+)", header.group(1))}
    assert ports == {
        "sys_clk": "input",
        "sys_rst": "input",
        "sim_trace": "input",
        "serial_sink_valid": "input",
        "serial_sink_ready": "output",
        "serial_sink_data": "input",
        "serial_source_valid": "output",
        "serial_source_ready": "input",
        "serial_source_data": "output",
    }
    conn = _instance(soc, "dian_accel", "dian_accel")
    assert set(conn) == _ports((out.parents[1] / "rtl" / "dian_accel.v").read_text(), "dian_accel")
    assert doc["clocks"]["accel_domain"] == "sys"
