"""Every damaged artifact is a clear error: `dian info`, `run` and `simulate` (machine simulator)
on a copy of a compiled folder with one artifact damaged exit 0 or 2, never with a traceback,
and write nothing outside the folder (issue 17, read side).

Three parts: the hypothesis fuzzer (a fast tier in CI, 200 examples; a slow tier with 3,000
more), the corpus of damage that once gave a traceback or a wrong answer (each case names what
it used to do and asserts the error it gives now), and planted symbolic links.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fuzz_folder import ARTIFACTS, BOARD
from fuzz_mutations import Mutation, byte_mutation, file_mutation, json_mutation, mutations
from fuzz_sandbox import FOLDER, Sandbox, fuzz_settings
from hypothesis import given
from hypothesis import strategies as st


def _commands(box: Sandbox) -> list[list[str]]:
    d, x, y = str(box.folder), str(box.input), str(box.work / "y.npy")
    board = ["--on", "board", "--board", BOARD, "--bridge", "tcp:127.0.0.1:1"]  # a port nothing listens on
    return [
        ["info", d],
        ["run", d, "--input", x, "--output", y],
        ["run", d, "--input", x, "--output", y, "--allow-modified"],  # past the integrity check, into the files
        ["simulate", d, "--input", x],
        ["run", d, "--input", x, "--output", y, "--allow-modified", *board],
    ]


def _damage_and_run(pristine: Path, sandboxes: Path, m: Mutation) -> list[tuple[int, str]]:
    """Apply ``m`` to a fresh copy; run every read command; check the files; the exit codes and stderr."""
    box = Sandbox(pristine, sandboxes)
    try:
        m.apply(box.folder)
        box.freeze()
        results = [box.run(argv, repr(m)) for argv in _commands(box)]
        box.check_files(repr(m))
        return results
    finally:
        box.close()


@given(data=st.data())
@fuzz_settings(200)
def test_damaged_artifact_is_a_clear_error(pristine: Path, sandboxes: Path, data: st.DataObject) -> None:
    _damage_and_run(pristine, sandboxes, data.draw(mutations(pristine / FOLDER, ARTIFACTS)))


@pytest.mark.slow
@given(data=st.data())
@fuzz_settings(3000)
def test_damaged_artifact_is_a_clear_error_many(pristine: Path, sandboxes: Path, data: st.DataObject) -> None:
    _damage_and_run(pristine, sandboxes, data.draw(mutations(pristine / FOLDER, ARTIFACTS)))


# -- the corpus: damage that once failed, each with what it used to do and the error it gives now ----------

CORPUS: list[tuple[Mutation, str]] = [
    # struct.error from read_header: program.bin one byte short of its header
    (byte_mutation("program.bin", "truncate", 63 / 8416), r"program\.bin is 63 bytes; image\.json says 8,416"),
    # struct.error: program.bin one byte short at the end
    (byte_mutation("program.bin", "truncate", 8415 / 8416), r"program\.bin is 8,415 bytes"),
    # the machine simulator ran a header whose chunk count says 4 billion chunks
    (byte_mutation("program.bin", "flip", 31 / 8416, 7), r"program\.bin: the DRAM image header says"),
    # UnicodeDecodeError: a manifest that is not UTF-8
    (byte_mutation("manifest.json", "nonutf8", 0.5), r"manifest\.json is not UTF-8 text \(byte 0xff at offset"),
    # UnicodeDecodeError: an IR that is not UTF-8
    (byte_mutation("model.ir.json", "nonutf8", 0.3), r"model\.ir\.json is not UTF-8 text"),
    # RecursionError: JSON nested 100,000 deep in the manifest, the IR, image.json
    (json_mutation("manifest.json", ("seed",), "nest"), r"manifest\.json nests arrays and objects more than 64"),
    (json_mutation("model.ir.json", ("metadata",), "nest"), r"model\.ir\.json nests arrays and objects more than"),
    (json_mutation("image.json", ("inputs", 0, "addr"), "nest"), r"image\.json nests arrays and objects"),
    # JSONDecodeError (ValueError) escaped from schedules/*.json that are not JSON
    (byte_mutation("schedules/conv1.json", "truncate", 0.5), r"conv1\.json is not valid JSON"),
    # AttributeError: schedules/*.json holding a list
    (json_mutation("schedules/fc2.json", (), "set", [1]), r"fc2\.json: the document must be an object, got \[1\]"),
    # numpy IndexError / wrong outputs: image.json addresses out of range
    (
        json_mutation("image.json", ("outputs", 0, "addr"), "set", 10**9),
        r"image\.json: field 'outputs\[0\]\.addr' must be an integer in \[0, ",
    ),
    (json_mutation("image.json", ("tensors", 3, "addr"), "set", -5), r"field 'tensors\[3\]\.addr' must be an int"),
    # reported as "machine and reference disagree": image.json with no input slot
    (json_mutation("image.json", ("inputs",), "set", []), r"field 'inputs' must be one slot per graph input"),
    # TypeError: a slot's shape given as a string
    (json_mutation("image.json", ("outputs", 0, "shape"), "set", "x"), r"'outputs\[0\]\.shape' must be a list"),
    # AttributeError: manifest "files" given as a list (its files were then never checked)
    (json_mutation("manifest.json", ("files",), "set", ["model.ir.json"]), r"field 'files' must be an object"),
    # `dian info` hashed a file outside DIR named by the manifest
    (
        json_mutation("manifest.json", ("files", "../../sentinel/keep.txt"), "set", "0" * 64),
        r"'\.\./\.\./sentinel/keep\.txt' names a file outside the folder",
    ),
    (json_mutation("manifest.json", ("files", "/etc/passwd"), "set", "0" * 64), r"'/etc/passwd' names a file outside"),
    # OverflowError in the verifier: a requant multiplier of 1e30 (written as an integer)
    (
        json_mutation("model.ir.json", ("ops", 0, "requant", "multiplier", 0), "set", 10**30),
        r"'ops\[0\]\.requant' must be a requant whose integers are in",
    ),
    # a 300-character and a newline-containing layer name were accepted (and became file names)
    (json_mutation("model.ir.json", ("ops", 0, "name"), "set", "a" * 300), r"'ops\[0\]\.name' must be a name of 1"),
    (json_mutation("model.ir.json", ("ops", 0, "name"), "set", "a\nb"), r"'ops\[0\]\.name' must be a name of 1"),
    # accepted: a duplicate tensor (the second silently replaced the first)
    (json_mutation("model.ir.json", ("tensors", 1), "set", "DUP0"), r"'tensors\[1\]\.name' must be a name no other"),
    # accepted: a shape of 1.5 (truncated to 1)
    (json_mutation("model.ir.json", ("tensors", 0, "shape", 2), "set", 1.5), r"'tensors\[0\]\.shape\[2\]' must be an"),
    # accepted: "inputs": "x" (a string is a list of characters)
    (json_mutation("model.ir.json", ("inputs",), "set", "x"), r"field 'inputs' must be a list of 1 to 64 items"),
    # ValueError from json: an integer of 5,000 digits in accel.json
    (json_mutation("accel.json", ("pe_rows",), "raw", "9" * 5000), r"accel\.json is not valid JSON for dian"),
    # NaN accepted in accel.json (clock_mhz)
    (json_mutation("accel.json", ("clock_mhz",), "set", float("nan")), r"accel\.json is not valid JSON for dian"),
    # a key given twice (the second silently won)
    (json_mutation("image.json", ("image_bytes",), "duplicate"), r"key 'image_bytes' appears twice"),
    # printed by `dian info` as it was: a terminal escape in the manifest's model string
    (json_mutation("manifest.json", ("model",), "set", "\x1b[2Jzoo:lenet"), r"field 'model' must be printable text"),
    # UnicodeDecodeError from `dian info`: summary.txt not UTF-8
    (byte_mutation("summary.txt", "nonutf8", 0.1), r"summary\.txt is not UTF-8 text"),
    # RecursionError: board.json nested deep
    (json_mutation(f"board/{BOARD}/board.json", ("dram",), "nest"), r"board\.json nests arrays and objects"),
    # ZeroDivisionError: board.json's clock of 0 Hz
    (
        json_mutation(f"board/{BOARD}/board.json", ("clocks", "sys_hz"), "set", 0),
        r"'clocks\.sys_hz' must be a finite number in \[1\.0",
    ),
]


def _dup_tensor(m: Mutation) -> Mutation:
    """The corpus's "DUP0" marker: tensors[1] becomes a copy of tensors[0]."""
    if "DUP0" not in m.describe:
        return m

    def apply(folder: Path) -> None:
        import json

        p = folder / m.file
        doc = json.loads(p.read_text())
        doc["tensors"][1] = dict(doc["tensors"][0])
        p.write_text(json.dumps(doc))

    return Mutation(m.file, "tensors[1] a copy of tensors[0]", apply)


@pytest.mark.parametrize("m, message", CORPUS, ids=[f"{m.file}:{m.describe}"[:70] for m, _ in CORPUS])
def test_corpus(pristine: Path, sandboxes: Path, m: Mutation, message: str) -> None:
    import re

    results = _damage_and_run(pristine, sandboxes, _dup_tensor(m))
    errors = [err for code, err in results if code == 2]
    assert any(re.search(message, err) for err in errors), f"{m!r}: no error matches {message!r}: {errors}"


# -- planted symbolic links: read commands never write through them (and refuse listed files that are links) --


def _plant_link(folder: Path, sentinel: Path, name: str) -> None:
    """Replace ``folder/name`` by a link to a copy of it in ``sentinel`` (build/: to an empty folder there)."""
    import shutil

    target = sentinel / name.replace("/", "_")
    src = folder / name
    if src.is_dir():
        shutil.copytree(src, target)
        shutil.rmtree(src)
    elif src.exists():
        shutil.copy(src, target)
        src.unlink()
    else:
        target.mkdir()
    src.symlink_to(target)


@pytest.mark.parametrize("name", [*ARTIFACTS, "schedules", "build"])
def test_planted_links_are_never_written_through(pristine: Path, sandboxes: Path, name: str) -> None:
    box = Sandbox(pristine, sandboxes)
    try:
        _plant_link(box.folder, box.sentinel, name)
        box.freeze()
        what = f"{name} a link to a copy outside the folder"
        results = [box.run(argv, what) for argv in _commands(box)]
        box.check_files(what)
        listed = name not in ("manifest.json", "build") and not name.startswith(("board/", "synth/"))
        if listed:  # a file the manifest lists is read through no link
            assert all(code == 2 and "is a symbolic link" in err for code, err in results), results
    finally:
        box.close()


@pytest.mark.parametrize("name", ARTIFACTS)
def test_fifo_in_place_of_an_artifact_is_an_error_not_a_hang(pristine: Path, sandboxes: Path, name: str) -> None:
    """A FIFO opened for reading blocks until a writer comes; dian checks a file is regular first."""
    _damage_and_run(pristine, sandboxes, file_mutation(name, "fifo"))


@pytest.mark.slow
def test_rtl_build_never_goes_through_a_planted_build_link(pristine_rtl: Path, sandboxes: Path) -> None:
    """`simulate --rtl` verilates into DIR/build/verilator; with build/ a link to a folder outside
    DIR it wrote the whole Verilator build there (seen on main at 689bf44; fixed by branch writes)."""
    box = Sandbox(pristine_rtl, sandboxes)
    try:
        _plant_link(box.folder, box.sentinel, "build")
        box.freeze()
        box.run(["simulate", str(box.folder), "--input", str(box.input), "--rtl"], "build/ a link outside")
        box.check_files("build/ a link outside")
    finally:
        box.close()
