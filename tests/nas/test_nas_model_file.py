"""nas/model_file.py: searched_net.py + .npz load through dian's own loader and compile, and the
compiled graph (reference simulator, and the tiny accelerator's machine simulator) agrees with torch."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from frontend_helpers import torch_outputs
from nas_helpers import ARCHS, rows, trained

from dian import api
from dian.errors import SearchSpaceError
from dian.frontend import with_batch
from dian.frontend.loader import load_model
from dian.nas.data import load_dataset
from dian.nas.model_file import write_model_file
from dian.nas.space import SPACES, Arch

NAME = "mixed_k5e1"


def _write(folder: Path) -> Path:
    return write_model_file(folder, SPACES["digits"], ARCHS[NAME], trained(NAME).state_dict())


def test_model_file_loads_as_the_trained_net(tmp_path: Path) -> None:
    py = _write(tmp_path / "a")
    assert sorted(p.name for p in py.parent.iterdir()) == ["searched_net.npz", "searched_net.py"]
    loaded = load_model(f"{py}:searched_net")
    assert loaded.default_input_shape == (1, 1, 8, 8)
    x = np.array(load_dataset("digits").x_test[:16])
    np.testing.assert_array_equal(torch_outputs(loaded.module, x)[0], torch_outputs(trained(NAME), x)[0])
    calib = loaded.calibration_fn(20, np.random.default_rng(0))  # type: ignore[misc]
    assert calib.shape == (20, 1, 8, 8) and calib.dtype == np.float32
    train_rows = Counter(rows(load_dataset("digits").x_train))
    assert all(train_rows[r] > 0 for r in rows(calib))  # drawn from the training split
    again = _write(tmp_path / "b")  # the same inputs, the same bytes
    for name in ("searched_net.py", "searched_net.npz"):
        assert (py.parent / name).read_bytes() == (again.parent / name).read_bytes()


def test_compiled_model_file_matches_torch(tmp_path: Path) -> None:
    py = _write(tmp_path / "net")
    out = api.compile_model(f"{py}:searched_net", None, tmp_path / "out", accel="tiny", rtl=False).out_dir
    ds = load_dataset("digits")
    x = np.array(ds.x_test[:100])
    want = torch_outputs(trained(NAME), x)[0]
    graph = api.load_compiled(out)
    got = api.run_compiled(with_batch(graph, len(x)), x)
    scale = graph.tensors[graph.outputs[0]].quant.scale[0]  # type: ignore[union-attr]
    assert np.abs(got - want).mean() <= 4 * scale and np.abs(got - want).max() <= 0.15 * np.abs(want).max()
    assert (got.argmax(1) == want.argmax(1)).mean() >= 0.95
    sim = api.simulate_model(out, x[:1])  # the machine simulator, checked against the reference inside
    np.testing.assert_array_equal(sim.output, got[:1])


def test_weights_of_another_network_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SearchSpaceError, match="not those of the network"):
        write_model_file(tmp_path, SPACES["digits"], ARCHS["typical"], trained(NAME).state_dict())
    with pytest.raises(SearchSpaceError, match="block 0 cannot take op 6"):
        write_model_file(tmp_path, SPACES["digits"], Arch((6,) * 6, (0, 0, 0)), {})
    assert not any(tmp_path.iterdir())
    state = {k: torch.zeros_like(v) for k, v in trained(NAME).state_dict().items()}
    with pytest.raises(SearchSpaceError, match="no data set"):
        write_model_file(tmp_path, replace(SPACES["digits"], name="cifar"), ARCHS[NAME], state)
