"""A searched network as a model file that `dian compile` loads on its own.

``write_model_file(DIR, space, arch, state_dict)`` writes

* ``DIR/searched_net.py``: the factory ``searched_net()``, ``INPUT_SHAPE`` and
  ``calibration_data(num_samples, rng)`` (training images of the space's data
  set), the contract of :mod:`dian.frontend.loader`. It holds the space and
  architecture as Python literals and rebuilds the network with
  :func:`dian.nas.supernet.derive`, so it imports only torch, numpy and dian
  and stays short enough to read; its text comes from
  ``rtl_templates/searched_net.py.j2``.
* ``DIR/searched_net.npz``: the weights (the derived network's state_dict),
  written with fixed zip timestamps so the same weights give the same bytes.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

from dian.errors import SearchSpaceError
from dian.hwgen.tools.templates import render
from dian.safe_paths import write_file

from .data import DATASETS
from .space import Arch, SearchSpace
from .supernet import DerivedNet

STEM = "searched_net"


def write_model_file(
    out_dir: str | Path, space: SearchSpace, arch: Arch, state_dict: Mapping[str, torch.Tensor]
) -> Path:
    """Write ``searched_net.py`` and ``searched_net.npz`` into ``out_dir`` (created if missing) for
    the network of ``arch`` with weights ``state_dict``; returns the .py path. The space's name must
    be a data set of :data:`~dian.nas.data.DATASETS` (calibration draws from it), and
    ``state_dict`` must be exactly the derived network's (checked before anything is written)."""
    space.check(arch)
    if space.name not in DATASETS:
        raise SearchSpaceError(
            f"search space '{space.name}' names no data set to calibrate on; a model file "
            f"needs one of: {', '.join(sorted(DATASETS))}."
        )
    arrays = {k: v.detach().cpu().numpy() for k, v in state_dict.items()}
    try:
        DerivedNet(space, arch).load_state_dict({k: torch.from_numpy(a) for k, a in arrays.items()})
    except RuntimeError as e:
        raise SearchSpaceError(
            f"the weights are not those of the network of {arch} in space {space.name}: "
            f"{' '.join(str(e).split())[:400]} Pass derive(space, arch).state_dict() after "
            f"training."
        ) from e
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    npz = out / f"{STEM}.npz"
    write_file(npz, npz_bytes(arrays))
    py = out / f"{STEM}.py"
    write_file(
        py,
        render(
            "searched_net.py.j2",
            stem=STEM,
            dataset=space.name,
            dataset_repr=repr(space.name),
            space=repr(space),
            arch=repr(arch),
            input_shape=repr(tuple(space.input_shape)),
            description=space.describe(arch).splitlines(),
        ),
    )
    return py


def npz_bytes(arrays: Mapping[str, np.ndarray]) -> bytes:
    """An uncompressed .npz of ``arrays`` (sorted by name) whose bytes depend on the arrays alone:
    numpy's own savez stamps each member with the current time."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for name in sorted(arrays):
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(arrays[name]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            z.writestr(info, member.getvalue())
    return buf.getvalue()
