"""nas/checkpoint.py: a search checkpoint is data only. A crafted pickle (the old checkpoint.pt
format) is refused without running anything; a damaged or foreign file is a CheckpointError naming
it; the format gives back exactly what was saved (int keys, tuples, tensors of every dtype used)."""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path

import pytest
import torch
from nas_helpers import RunsCode

from dian.errors import CheckpointError
from dian.nas.checkpoint import checkpoint_bytes, read_checkpoint


def test_round_trip_keeps_types_and_values(tmp_path: Path) -> None:
    opt = torch.optim.Adam([torch.nn.Parameter(torch.ones(3))], lr=0.01, betas=(0.5, 0.999))
    opt.zero_grad()
    opt.param_groups[0]["params"][0].sum().backward()
    opt.step()
    doc = {
        "opt": opt.state_dict(),
        "gen": torch.Generator().manual_seed(5).get_state(),
        "ints": torch.arange(4, dtype=torch.int64),
        "nested": [{"a": (1, 2.5, None, True, "s")}],
    }
    path = tmp_path / "c.zip"
    path.write_bytes(checkpoint_bytes(doc))
    back = read_checkpoint(path)
    assert checkpoint_bytes(back) == path.read_bytes()  # deterministic, and nothing lost on the way
    state = back["opt"]["state"][0]  # optimizer state keys are ints, and stay ints
    assert torch.equal(state["exp_avg"], opt.state_dict()["state"][0]["exp_avg"])
    assert back["opt"]["param_groups"][0]["betas"] == (0.5, 0.999)
    assert back["gen"].dtype == torch.uint8 and torch.equal(back["gen"], doc["gen"])
    assert back["nested"] == [{"a": (1, 2.5, None, True, "s")}]
    fresh = torch.optim.Adam([torch.nn.Parameter(torch.ones(3))], lr=0.01)
    fresh.load_state_dict(back["opt"])  # torch accepts it as its own


def test_pickle_checkpoint_is_refused_and_runs_nothing(tmp_path: Path) -> None:
    sentinel = tmp_path / "pwned"
    for name, data in (
        ("torch.save", lambda f: torch.save({"settings": RunsCode(sentinel)}, f)),
        ("pickle", lambda f: pickle.dump(RunsCode(sentinel), f)),
    ):
        path = tmp_path / f"{name}.zip"
        with open(path, "wb") as f:
            data(f)
        with pytest.raises(CheckpointError, match="not a dian search checkpoint"):
            read_checkpoint(path)
    assert not sentinel.exists()


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def _npy(obj: object) -> bytes:
    import numpy as np

    buf = io.BytesIO()
    np.save(buf, np.array([obj], dtype=object), allow_pickle=True)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"", "not a dian search checkpoint"),
        (b"PK\x03\x04garbage", "cannot be read"),
        (_zip({"t0.npy": b"x"}), "cannot be read|no doc.json"),
        (_zip({"doc.json": b"[1, 2]"}), "not an object"),
        (_zip({"doc.json": b'{"dict": [["a", {"tensor": "t9"}]]}'}), "malformed 'tensor'"),
        (_zip({"doc.json": b"\xff\xfe"}), "cannot be read"),
        (_zip({"doc.json": b"[" * 100_000}), "cannot be read"),
        (_zip({"doc.json": b"{}", "../evil.npy": b""}), "unexpected member"),
        (_zip({"doc.json": b'{"dict": []}', "t0.npy": _npy(RunsCode(Path("/nonexistent")))}), "cannot be read"),
    ],
)
def test_damaged_checkpoints_are_clear_errors(tmp_path: Path, data: bytes, match: str) -> None:
    path = tmp_path / "checkpoint.zip"
    path.write_bytes(data)
    with pytest.raises(CheckpointError, match=match):
        read_checkpoint(path)
