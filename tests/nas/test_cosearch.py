"""nas/cosearch.py: the co-search is reproducible, resumes bit for bit, and its cost term
moves the network and hardware choices toward cheaper designs by the exact tables."""

from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path

import pytest
import torch
from nas_helpers import RunsCode

from dian.errors import CheckpointError, SearchSpaceError
from dian.nas.checkpoint import checkpoint_bytes, read_checkpoint
from dian.nas.cosearch import CoSearch, SearchSettings
from dian.nas.costs import RelaxedCoCost, cost_tables
from dian.nas.data import load_dataset
from dian.nas.hardware import hardware_space
from dian.nas.space import SearchSpace, StageSpec

#: A small space on digits (two stages, five blocks' worth of choices) so an epoch takes seconds.
SPACE = SearchSpace("digits", (1, 1, 8, 8), 10, 8, 2, (StageSpec((4, 8), 2, 1), StageSpec((8, 12), 1, 2)), 16)
SETTINGS = SearchSettings(epochs=2, warmup_epochs=1, batch_size=128, seed=3)


@pytest.fixture(scope="module")
def setup():  # type: ignore[no-untyped-def]
    hw = hardware_space("ecp5-85k", quick=True).options()
    return hw, cost_tables(SPACE, hw), load_dataset("digits")


def _search(setup, tmp: Path, settings: SearchSettings = SETTINGS) -> CoSearch:  # type: ignore[no-untyped-def]
    hw, tables, data = setup
    return CoSearch(SPACE, hw, tables, data, settings, tmp)


def _snapshot(cs: CoSearch) -> dict[str, torch.Tensor]:
    out = {f"net.{k}": v.clone() for k, v in cs.net.state_dict().items()}
    out["ops"], out["widths"] = cs.op_logits.detach().clone(), cs.width_logits.detach().clone()
    for i, lg in enumerate(cs.hw_logits):
        out[f"hw{i}"] = lg.detach().clone()
    return out


def _log(cs: CoSearch) -> list[dict]:  # type: ignore[type-arg]
    return [{k: v for k, v in asdict(e).items() if k != "seconds"} for e in cs.state.log]


def test_resumed_search_equals_uninterrupted(setup, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    whole = _search(setup, tmp_path / "whole")
    assert whole.run()
    first = _search(setup, tmp_path / "split", replace(SETTINGS, epochs=1))
    assert first.run()
    resumed = _search(setup, tmp_path / "split")
    resumed.load()
    assert resumed.state.epoch == 1
    assert resumed.run()
    a, b = _snapshot(whole), _snapshot(resumed)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a), [k for k in a if not torch.equal(a[k], b[k])]
    assert _log(whole) == _log(resumed)
    assert (tmp_path / "split" / "log.jsonl").read_text().count("\n") == 2


def test_cost_term_moves_to_cheaper_designs(setup, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    hw, tables, _ = setup
    cs = _search(setup, tmp_path, replace(SETTINGS, lam=5.0, warmup_epochs=0, epochs=2))
    with torch.no_grad():
        start = float(cs.cost(*cs.probabilities())[0])
    cs.run()
    assert cs.state.log[-1].expected_cycles < 0.8 * start
    # The hardware logits follow the cost alone: the likeliest option is the fastest for the
    # current network distribution (by the tables, recomputed here, at each option's priced clock).
    ops, widths, p_hw = cs.probabilities()
    per_hw = RelaxedCoCost(SPACE, tables).per_hardware(ops.detach(), widths.detach())[0]
    fitting = [h for h, opt in enumerate(hw) if opt.fits]
    assert int(p_hw.argmax()) == min(fitting, key=lambda h: float(per_hw[h]) / hw[h].clock_mhz)


def test_settings_and_checkpoint_errors(setup, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SearchSpaceError, match="objective"):
        SearchSettings(objective="speed")
    with pytest.raises(SearchSpaceError, match="warm-up"):
        SearchSettings(epochs=2, warmup_epochs=3)
    first = _search(setup, tmp_path, replace(SETTINGS, epochs=1))
    first.run()
    other = _search(setup, tmp_path, replace(SETTINGS, lam=0.25))
    with pytest.raises(SearchSpaceError, match=r"lam: 0\.1 -> 0\.25"):
        other.load()
    # A checkpoint with this search's settings but not its tensors: a clear error, not a KeyError.
    doc = read_checkpoint(first.checkpoint_path)
    del doc["hw_logits"]
    first.checkpoint_path.write_bytes(checkpoint_bytes(doc))
    with pytest.raises(CheckpointError, match="does not fit this search"):
        _search(setup, tmp_path).load()
    # A pickled checkpoint (the old format, and what an attacker plants) is never unpickled.
    sentinel = tmp_path / "ran"
    torch.save({"settings": RunsCode(sentinel)}, first.checkpoint_path)
    with pytest.raises(CheckpointError, match="never loaded"):
        _search(setup, tmp_path).load()
    assert not sentinel.exists()


def test_cli_defaults_are_the_settings_defaults() -> None:
    # dian/cli.py does not import torch for every command, so it repeats the defaults: pin them.
    from dian.cli import build_parser

    args = build_parser().parse_args(["search", "--dataset", "digits", "--target", "ecp5-85k", "--out", "x"])
    d = SearchSettings()
    assert (args.epochs, args.warmup_epochs, args.lam, args.objective, args.seed, args.device) == (
        d.epochs,
        d.warmup_epochs,
        d.lam,
        d.objective,
        d.seed,
        d.device,
    )


def test_latency_is_cycles_at_each_options_priced_clock(setup, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Two options' clocks changed by hand: the latency term is each option's table cycles over its
    own clock (the predicted Fmax, capped by the asked 150 MHz), so the hardware gradient prefers
    the option that is faster in time, not in cycles."""
    hw, tables, data = setup
    fmax = [90.0 + 20.0 * h for h in range(len(hw))]  # 90, 110, ... MHz; the last ones capped at 150
    priced = [replace(opt, fmax_mhz=f) for opt, f in zip(hw, fmax, strict=True)]
    cs = CoSearch(SPACE, priced, tables, data, SETTINGS, tmp_path)
    with torch.no_grad():
        ops, widths, _ = cs.probabilities()
        per_hw = cs.cost.per_hardware(ops, widths)[0]
    for h in range(len(hw)):
        onehot = torch.zeros(len(hw), dtype=torch.float64)
        onehot[h] = 1.0
        with torch.no_grad():
            latency = float(cs.latency_energy(ops, widths, onehot)[0])
        assert latency == pytest.approx(float(per_hw[h]) / min(fmax[h], 150.0))
