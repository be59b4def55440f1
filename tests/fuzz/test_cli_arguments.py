"""Odd command lines are clear errors: every read command (and compile, explore, synth and build up
to the point where they would start real work) with hypothesis-drawn flag values (empty, huge,
negative, non-numeric, odd paths) exits 0 or 2, never with a traceback, and writes nothing
outside the sandbox.

The values are chosen so that no drawn command line can start a long job: the folder has no
rtl/ (synth, build, `simulate --rtl` and `run --on rtl` stop at that), compile's and explore's
models are never loadable, and a board is reached only through a port nothing listens on.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fuzz_folder import BOARD
from fuzz_sandbox import Sandbox, fuzz_settings
from hypothesis import given
from hypothesis import strategies as st

ODD = ("", " ", "-", "--", "0", "-1", "-0", "1.5", "nan", "inf", "1e400", "9" * 40, "x", "\udcff", "a" * 300, "a\nb")
PATHS = ("DIR", "X", "WORK", "SENTINEL", "MISSING", "", "/", ".", "..", "DIR/manifest.json", "a" * 300, "\udcff")


def _path(box: Sandbox, name: str) -> str:
    """A path token: DIR (the compiled folder), X (the input), WORK, SENTINEL (a folder outside the
    output folder), MISSING, or the odd string itself."""
    return {
        "DIR": str(box.folder),
        "X": str(box.input),
        "WORK": str(box.work),
        "SENTINEL": str(box.sentinel),
        "MISSING": str(box.work / "no" / "such"),
    }.get(name, name.replace("DIR", str(box.folder)))


def _output(box: Sandbox, name: str) -> str:
    """An --output inside work/ (writing where the user said is allowed; the sentinel is never a target)."""
    return {"new": str(box.work / "y.npy"), "folder": str(box.work), "deep": str(box.work / "no" / "y.npy")}.get(
        name, str(box.work / f"{name}.npy") if name.isprintable() and "/" not in name and name else ""
    )


@st.composite
def command_lines(draw: st.DrawFn) -> tuple[str, list[tuple[str, str | None]]]:
    """A command and its arguments as (flag, value) pairs; a flag of "" is a positional argument,
    a value of None a switch. Values are symbolic (see _resolve) until the sandbox exists."""
    odd = st.sampled_from(ODD)
    path = st.sampled_from(PATHS)
    out = st.sampled_from(("new", "folder", "deep", *ODD))
    memory = st.sampled_from(("ideal", "random", "random:7", "random:", "random:-1", "random:x", *ODD))
    cmd = draw(st.sampled_from(("info", "run", "simulate", "synth", "build", "compile", "explore", "junk")))
    args: list[tuple[str, str | None]] = []
    optional = lambda flag, values: args.append((flag, draw(values))) if draw(st.booleans()) else None  # noqa: E731
    switch = lambda flag: args.append((flag, None)) if draw(st.booleans()) else None  # noqa: E731
    if cmd == "junk":
        tokens = st.sampled_from(("--help", "--version", "-h", "info", "--on", "--bogus", "run", "--", *ODD))
        return cmd, [("", t) for t in draw(st.lists(tokens, max_size=5))]
    if cmd in ("compile", "explore"):
        model = st.sampled_from(("", "zoo:", "zoo:nope", "zoo:lenet:x", "nofile.py:f", "X:f", "DIR", "/:f", *ODD))
        args.append(("", draw(model)))
        outs = ("NEWOUT", "DIR", "SENTINEL", "X", "MISSING", *ODD)
        args.append(("--out", draw(st.sampled_from(outs))))
        optional("--input-shape", st.sampled_from(("1,1,8,8", "0", "1,,8", "-1,1", "1e9,1", "x", *ODD)))
        optional("--calib-samples", odd)
        optional("--seed", odd)
        if cmd == "compile":
            optional("--accel", st.sampled_from(("tiny", "huge", "X", "DIR/accel.json", "DIR/image.json", *ODD)))
            optional("--objective", st.sampled_from(("latency", "edp", *ODD)))
            switch("--no-rtl")
        else:
            args.append(("--target", draw(st.sampled_from(("ecp5-25k", "virtex", *ODD)))))
            optional("--trials", odd)
        return cmd, args
    args.append(("", draw(path)))
    if cmd == "run":
        args += [("--input", draw(path)), ("--output", "OUT:" + draw(out))]
        optional("--on", st.sampled_from(("reference", "rtl", "board", *ODD)))
        optional("--memory", memory)
        optional("--board", st.sampled_from((BOARD, "sim", "ulx3s-85f", "..", "../..", *ODD)))
        optional("--bridge", st.sampled_from(("tcp:127.0.0.1:1", "tcp:", "tcp:host:port", "uart:", "uart:@x", *ODD)))
        switch("--allow-modified")
        switch("--no-sdram-init")
        switch("--irq")
    elif cmd == "simulate":
        args.append(("--input", draw(path)))
        optional("--output", out.map(lambda o: "OUT:" + o))
        optional("--memory", memory)
        switch("--rtl")
    elif cmd == "synth":
        optional("--target", st.sampled_from(("ecp5-25k", "generic", "virtex", *ODD)))
        switch("--no-pnr")
    elif cmd == "build":
        args.append(("--board", draw(st.sampled_from(("ulx3s-85f", "sim", "nope", *ODD)))))
        switch("--no-bitstream")
        optional("--seed", odd)
        optional("--sys-clk-freq", odd)
        optional("--accel-clk-freq", odd)
    return cmd, args


def _resolve(box: Sandbox, cmd: str, flag: str, value: str) -> str:
    if value.startswith("OUT:"):
        return _output(box, value[4:])
    if value == "NEWOUT":
        return str(box.work / "new-out")
    if cmd != "junk" and flag in ("", "--input", "--out", "--accel"):
        return _path(box, value)
    return value


def _argv(box: Sandbox, cmd: str, args: list[tuple[str, str | None]]) -> list[str]:
    argv = [] if cmd == "junk" else [cmd]
    for flag, value in args:
        if value is None:
            argv.append(flag)  # a switch
        else:
            value = _resolve(box, cmd, flag, value)
            argv += [flag, value] if flag else [value]
    return argv


def _check(pristine: Path, sandboxes: Path, line: tuple[str, list[tuple[str, str | None]]]) -> None:
    box = Sandbox(pristine, sandboxes)
    try:
        box.freeze()
        argv = _argv(box, *line)
        box.run(argv, f"command line {argv!r}")
        box.check_files(f"command line {argv!r}")
    finally:
        box.close()


@given(line=command_lines())
@fuzz_settings(200)
def test_odd_command_lines_are_clear_errors(pristine: Path, sandboxes: Path, line) -> None:  # type: ignore[no-untyped-def]
    _check(pristine, sandboxes, line)


@pytest.mark.slow
@given(line=command_lines())
@fuzz_settings(1500)
def test_odd_command_lines_are_clear_errors_many(pristine: Path, sandboxes: Path, line) -> None:  # type: ignore[no-untyped-def]
    _check(pristine, sandboxes, line)


def test_out_name_too_long(pristine: Path, sandboxes: Path) -> None:
    """OSError (ENAMETOOLONG) from outdir.check_target's exists() used to escape `dian compile` (fixed on
    the write side, branch writes)."""
    _check(pristine, sandboxes, ("compile", [("", "zoo:nope"), ("--out", "a" * 300)]))
