"""dian's mapping search side by side with ZigZag's (issue 5): search wall time
and predicted cycles on the same layers of ResNet-18 and MobileNetV2 and an
equivalent architecture, plus dian's machine-simulated (RTL-exact) cycles and
Verilator cycles on sampled layers.

ZigZag (KU Leuven's DNN-accelerator DSE tool, PyPI ``zigzag-dse``) runs in a
throwaway venv, ``build/zigzag-venv/`` (reused while its stamp matches the pins
below), never in dian's ``.venv``; this script re-runs itself there as the
worker (``--zigzag-worker JOB``), so the module imports only the standard
library at the top. Quirks worked around:

* ``zigzag-dse`` 3.9.1 (the newest; installs and runs on Python 3.11) imports
  ``six`` (parser/upgraded_validator.py) without declaring it: pinned here too.
* ``python -m zigzag`` is broken in 3.9.1 (``__main__`` passes
  ``accelerator_path=`` / ``onnx_model_path=`` to stages that want
  ``accelerator=`` / ``workload=``: TypeError), so the worker calls the API,
  ``zigzag.api.get_hardware_performance_zigzag``, with the workload as a list
  of layer dicts (its YAML format, no ONNX) and the architecture and mapping
  written as JSON files with a ``.yaml`` name (JSON is YAML; its parser checks
  the suffix).
* The API sets the root logger to INFO and dumps JSON/pickle files into
  ``outputs/<date>``: the worker silences INFO and dumps under build/zigzag/.

Architecture (the ``default`` preset as ZigZag memories; every approximation):
a 16x16 array of int8 MACs, spatial mapping D1 = K (columns), D2 = C (rows) for
GEMM layers, as dian's GEMM mode; per-PE 8-bit weight register fed from WBUF
(dian's array double-buffers it: ZigZag's latency model decides the overlap
itself); IBUF (I), WBUF (W) and ABUF (O, 32-bit partial sums) with the config's
total bytes (both halves of each double buffer: ZigZag may fill the whole
buffer with one tile, which favours it), one-word ports (IBUF/WBUF 16x8 bit,
ABUF 16x32 bit read and write, as dian's read-modify-write port); DRAM one
128-bit read/write port. Not modelled by ZigZag: OBUF and the PPU (requant:
ZigZag writes O at its final 8-bit precision straight from ABUF to DRAM), the
instruction fetch and chunking, DRAM latency (24 cycles a request in dian; the
field exists in ZigZag but its cost model ignores it), energy (opt=latency;
the pJ figures below are placeholders). Depthwise layers: ZigZag's
G (channels) on D1 and the kernel taps FY x FX on D2 (mixed unrolling), which
is dian's DW mode (rows = taps, columns = channels). Layers are independent
(no inter-layer locality on either side). Both get the layers as dian's hardware runs
them: a stem conv on a shallow image is the host-packed conv (kernel columns
folded into channels, docs/accelerator.md "Shallow input layers": ResNet-18's
7x7 s2 on 3 channels becomes 7x1 on 21 channels, the same products), for
ZigZag too, so that the packing is not counted as a mapping-search win.

    .venv/bin/python benchmarks/bench_zigzag.py [--models resnet18,mobilenetv2] [--layers N]
        [--no-verilator] [--no-write] [--lpf-limit 6]

Writes benchmarks/results/zigzag_comparison.md and .json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
BUILD = REPO / "build" / "zigzag"
VENV = REPO / "build" / "zigzag-venv"
PINS = ("zigzag-dse==3.9.1", "six==1.17.0")
PRESET = "default"
SHAPE = (1, 3, 224, 224)
GOAL_SPEEDUP = 50
WEIGHT_REG_BITS = 8
PORT_PREFIX = {"read": "r", "write": "w", "read_write": "rw"}  # ZigZag's validator wants r_port_N, w_port_N, rw_port_N
ENERGY_PJ = {"w_reg": 0.01, "ibuf": 5.0, "wbuf": 5.0, "abuf": 10.0, "dram": 700.0, "mac": 0.04}


# ---- the throwaway ZigZag venv -------------------------------------------------------------------


def zigzag_python() -> Path:
    """The ZigZag venv's python; (re)built with pip when its stamp differs from the pins."""
    py, stamp = VENV / "bin" / "python", VENV / ".stamp"
    want = "\n".join((platform.python_version(), *PINS)) + "\n"
    if py.is_file() and stamp.is_file() and stamp.read_text() == want:
        return py
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
    subprocess.run(
        ["nice", "-n", "10", str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *PINS],
        check=True,
    )
    stamp.write_text(want)
    return py


# ---- the default preset and the layers, in ZigZag's input formats -------------------------------


def _memory(bits: int, operands: list[str], served: list[str], energy: float, *ports: tuple) -> dict:
    """A ZigZag memory; each port is (type, bits a cycle, allocations such as "I1, tl")."""
    return {
        "size": bits,
        "r_cost": energy,
        "w_cost": energy,
        "area": 0,
        "latency": 1,
        "operands": operands,
        "served_dimensions": served,
        "ports": [
            {
                "name": f"{PORT_PREFIX[kind]}_port_1",
                "type": kind,
                "bandwidth_min": bw,
                "bandwidth_max": bw,
                "allocation": al,
            }
            for kind, bw, al in ports
        ],
    }


def architecture(cfg) -> dict:
    """``cfg`` as a ZigZag accelerator: per-PE weight register, IBUF, WBUF, ABUF, DRAM."""
    word, acc, both = cfg.pe_cols * cfg.operand_bits, cfg.pe_cols * cfg.acc_bits, ["D1", "D2"]
    e = ENERGY_PJ
    one_way = lambda op, bw: (("read", bw, [f"{op}, tl"]), ("write", bw, [f"{op}, fh"]))  # noqa: E731
    dram_alloc = [f"{o}, {d}" for o in ("I1", "I2") for d in ("fh", "tl")] + [
        f"O, {d}" for d in ("fh", "tl", "fl", "th")
    ]
    mems = {
        "w_reg": _memory(WEIGHT_REG_BITS, ["I2"], [], e["w_reg"], *one_way("I2", cfg.operand_bits)),
        "ibuf": _memory(cfg.ibuf.bytes * 8, ["I1"], both, e["ibuf"], *one_way("I1", word)),
        "wbuf": _memory(cfg.wbuf.bytes * 8, ["I2"], both, e["wbuf"], *one_way("I2", word)),
        "abuf": _memory(
            cfg.abuf.bytes * 8,
            ["O"],
            both,
            e["abuf"],
            ("read", acc, ["O, tl", "O, th"]),
            ("write", acc, ["O, fh", "O, fl"]),
        ),
        "dram": _memory(10**10, ["I1", "I2", "O"], both, e["dram"], ("read_write", cfg.dram_bus_bits, dram_alloc)),
    }
    mems["dram"]["latency"] = cfg.dram_latency
    return {
        "name": f"dian_{cfg.name}",
        "memories": mems,
        "operational_array": {
            "unit_energy": e["mac"],
            "unit_area": 1,
            "dimensions": both,
            "sizes": [cfg.pe_cols, cfg.pe_rows],
        },
    }


def layer_dims(graph, op) -> dict:
    """K, C, G (per group), OY, OX, FY, FX, stride, padding, dilation, input H, W of a Conv2d or Linear."""
    out = graph.tensors[op.output].shape
    inp = graph.tensors[op.inputs[0]].shape
    if len(out) == 2:  # Linear [N, F]
        return {
            "K": out[1],
            "C": inp[1],
            "G": 1,
            "OY": 1,
            "OX": 1,
            "FY": 1,
            "FX": 1,
            "stride": (1, 1),
            "padding": (0, 0),
            "dilation": (1, 1),
            "H": 1,
            "W": 1,
            "depthwise": False,
        }
    k, cg, fy, fx = graph.tensors[op.weight].shape
    g = op.groups
    return {
        "K": k // g,
        "C": cg,
        "G": g,
        "OY": out[2],
        "OX": out[3],
        "FY": fy,
        "FX": fx,
        "stride": tuple(op.stride),
        "padding": tuple(op.padding),
        "dilation": tuple(op.dilation),
        "H": inp[2],
        "W": inp[3],
        "depthwise": g > 1 and cg == 1 and k == g,
    }


def bounds(d: dict, lanes: int, bus_bytes: int) -> tuple[int, int]:
    """Lower bounds on the layer's cycles on this array, from the shapes alone: (compute, DRAM). Compute:
    GEMM streams one pixel a cycle per (C block, K block, tap); DW one input word a cycle per (channel block,
    tap) through the single IBUF port (v1). DRAM: the int8 input, weights and output moved once each."""
    blocks = lambda n: -(-n // lanes)  # noqa: E731
    pix, taps = d["OY"] * d["OX"], d["FY"] * d["FX"]
    compute = blocks(d["G"]) * pix * taps if d["depthwise"] else d["G"] * blocks(d["C"]) * blocks(d["K"]) * pix * taps
    data = d["G"] * (d["C"] * d["H"] * d["W"] + d["K"] * d["C"] * taps + d["K"] * pix)
    return compute, -(-data // bus_bytes)


def zigzag_layer(idx: int, name: str, d: dict) -> dict:
    """One layer in ZigZag's workload format (the equation its ONNX conv parser uses)."""
    (sy, sx), (py, px), (dy, dx) = d["stride"], d["padding"], d["dilation"]
    return {
        "id": idx,
        "name": name,
        "operator_type": "Conv",
        "equation": "O[b][g][k][oy][ox]+=W[g][k][c][fy][fx]*I[b][g][c][iy][ix]",
        "dimension_relations": [f"ix={sx}*ox+{dx}*fx", f"iy={sy}*oy+{dy}*fy"],
        "loop_dims": ["B", "K", "G", "OX", "OY", "C", "FX", "FY"],
        "loop_sizes": [1, d["K"], d["G"], d["OX"], d["OY"], d["C"], d["FX"], d["FY"]],
        "operand_precision": {"W": 8, "I": 8, "O": 32, "O_final": 8},
        "pr_loop_dims": ["IX", "IY"],
        "pr_loop_sizes": [d["W"], d["H"]],
        "padding": [[px, px], [py, py]],
    }


def zigzag_mapping(name: str, lanes: int, dw_taps: tuple[int, int] | None = None) -> dict:
    """The fixed spatial unrolling of dian's array (ZigZag searches the temporal mapping): K on the columns,
    C on the rows (GEMM mode); for a depthwise layer with kernel ``dw_taps`` = (FY, FX), channels (G) on
    the columns and the taps on the rows (DW mode)."""
    if dw_taps is None:
        spatial = {"D1": [f"K, {lanes}"], "D2": [f"C, {lanes}"]}
    else:
        fy, fx = dw_taps
        rows = [f"FX, {fx}", f"FY, {fy}"] if fy * fx <= lanes else [f"FX, {min(fx, lanes)}"]
        spatial = {"D1": [f"G, {lanes}"], "D2": rows}
    return {"name": name, "spatial_mapping": spatial, "memory_operand_links": {"O": "O", "W": "I2", "I": "I1"}}


# ---- ZigZag: the worker (runs in the ZigZag venv) and its caller -------------------------------


def zigzag_worker(job_path: Path) -> None:
    """Inside the ZigZag venv: run the API on the job's network, write per-layer latencies and the wall time."""
    import logging

    from zigzag.api import get_hardware_performance_zigzag

    job = json.loads(job_path.read_text())
    folder = job_path.parent
    (folder / "arch.yaml").write_text(json.dumps(job["architecture"]))
    (folder / "mapping.yaml").write_text(json.dumps(job["mapping"]))
    logging.disable(logging.INFO)
    t = time.perf_counter()
    _, latency, cmes = get_hardware_performance_zigzag(
        job["workload"],
        str(folder / "arch.yaml"),
        str(folder / "mapping.yaml"),
        opt="latency",
        dump_folder=str(folder / "dump"),
        lpf_limit=job["lpf_limit"],
        loma_show_progress_bar=False,
    )
    wall = time.perf_counter() - t
    layers = {}
    for cme, _ in cmes[0][1]:
        layers[cme.layer.name] = {
            "cycles": float(cme.latency_total2),
            "ideal_cycles": float(cme.ideal_cycle),
            "ideal_temporal_cycles": float(cme.ideal_temporal_cycle),
            "onloading": float(cme.data_onloading_cycle),
            "offloading": float(cme.data_offloading_cycle),
            "temporal_mapping": str(cme.temporal_mapping),
        }
    (folder / "result.json").write_text(
        json.dumps({"wall_s": wall, "total_cycles": float(latency), "layers": layers}, indent=1)
    )


def run_zigzag(py: Path, model: str, job: dict, timeout: float) -> dict:
    """Run the worker on one network under ``nice -n 10``; its result plus the process's own wall time."""
    folder = BUILD / model
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "result.json").unlink(missing_ok=True)
    (folder / "job.json").write_text(json.dumps(job))
    t = time.perf_counter()
    with open(folder / "worker.log", "w") as log:
        subprocess.run(
            ["nice", "-n", "10", str(py), __file__, "--zigzag-worker", str(folder / "job.json")],
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            check=True,
        )
    out = json.loads((folder / "result.json").read_text())
    out["process_s"] = time.perf_counter() - t
    return out


# ---- dian ----------------------------------------------------------------------------------------


def dian_search(graph, cfg) -> dict[str, int]:
    """dian's mapping search as this benchmark times it: every op of ``graph`` mapped for ``cfg`` by
    search/mapper.py (the compile path's default: the first-order model's top candidates timed by the
    exact cost model); the predicted cycles by op name, each a layer's exact share of the network run
    (its chunk fetches and execution; a run of the layer alone adds the boot and done)."""
    from dian.search.mapper import map_graph

    return {p.work.op.name: p.schedule.prediction.cycles for p in map_graph(graph, cfg)}


def machine_cycles(graph, op, cfg) -> int:
    """Cycles of ``op`` lowered and run alone in sim/machine (exact against the RTL; includes the layer's own
    boot, program fetch, first load and last store)."""
    from bench_accelerator import random_inputs, single_op_graph

    from dian.hwgen.lower.graph import lower_graph
    from dian.search.mapper import map_graph
    from dian.sim.machine import run_lowered

    lg = single_op_graph(graph, op)
    return run_lowered(lower_graph(lg, cfg, map_graph(lg, cfg)), random_inputs(lg, 1)).counters.cycles


def traced(model: str):
    from dian.frontend import calibration_samples, load_model, lower

    m = load_model(f"zoo:{model}")
    return lower(m.module, SHAPE, calibration_samples(m, SHAPE, 8, 0), model)[1]


def mac_layers(graph, n: int | None) -> list:
    """The convs and linears of ``graph`` (the layers a mapping search maps), ``n`` of them evenly spaced."""
    from dian.ir.ops import Conv2d, Linear

    ops = [op for op in graph.ops if isinstance(op, (Conv2d, Linear))]
    if n is None or n >= len(ops):
        return ops
    return [ops[round(i * (len(ops) - 1) / max(1, n - 1))] for i in range(n)]


def rtl_sample(rows: list[dict]) -> list[str]:
    """The first layer (the stem, host-packed) and one layer of each kind (conv FxF, pointwise, depthwise,
    linear): the one with the fewest machine cycles."""
    pick: dict[str, dict] = {"first": rows[0]}
    for r in rows:
        kind = r["kind"].split()[0]
        if kind not in pick or r["machine_cycles"] < pick[kind]["machine_cycles"]:
            pick[kind] = r
    return list(dict.fromkeys(r["layer"] for r in pick.values()))


def dian_rows(model: str, g, ops: list, cfg) -> list[dict]:
    """Per compared layer: its ZigZag-facing dims (after host packing), shape-only bounds, sim/machine cycles."""
    from bench_accelerator import describe

    from dian.hwgen.accel_config import Dataflow
    from dian.hwgen.lower.gathers import accelerator_form
    from dian.hwgen.lower.workload import WorkKind
    from dian.ir import op_macs

    packed = accelerator_form(g, cfg)[0]
    rows = []
    for op in ops:
        d = layer_dims(packed, packed.op(op.name))
        dw = d["depthwise"] and Dataflow.DEPTHWISE in cfg.dataflows
        kind, shape = describe(g, op, WorkKind.DW if dw else WorkKind.GEMM)
        if packed.op(op.name) != op:
            kind += f" (packed: {d['C']} ch, {d['FY']}x{d['FX']})"
        t = time.perf_counter()
        mc = machine_cycles(g, op, cfg)
        rows.append(
            {
                "layer": op.name,
                "kind": kind,
                "shape": shape,
                "macs": op_macs(g, op),
                "dims": d,
                "bounds": bounds(d, cfg.pe_rows, cfg.dram_bus_bits // 8),
                "machine_cycles": mc,
                "machine_s": time.perf_counter() - t,
            }
        )
        print(model, op.name, mc, flush=True)
    return rows


def zigzag_side(model: str, rows: list[dict], cfg, args, py: Path) -> dict:
    """ZigZag on the compared layers of one network; adds each row's ``zigzag`` entry (None when missing)."""
    lanes = cfg.pe_rows
    dw = [zigzag_mapping(r["layer"], lanes, (r["dims"]["FY"], r["dims"]["FX"])) for r in rows if r["dims"]["depthwise"]]
    job = {
        "architecture": architecture(cfg),
        "lpf_limit": args.lpf_limit,
        "mapping": [zigzag_mapping("default", lanes), *dw],
        "workload": [zigzag_layer(i, r["layer"], r["dims"]) for i, r in enumerate(rows)],
    }
    try:
        out = {"zigzag": run_zigzag(py, model, job, args.zigzag_timeout)}
    except (subprocess.SubprocessError, OSError) as e:
        out = {"zigzag_error": f"{type(e).__name__}: {e} (log: {BUILD / model / 'worker.log'})"[:600]}
    for r in rows:
        r["zigzag"] = out.get("zigzag", {}).get("layers", {}).get(r["layer"])
    return out


def rtl_side(g, rows: list[dict], exe: Path, timeout: float) -> list[dict]:
    """bench_verilator's run on the sampled layers: sim/machine and Verilator counters on one DRAM image."""
    from bench_verilator import run_layer

    out = []
    for name in rtl_sample(rows):
        rr = run_layer(exe, PRESET, g, name, SHAPE[2], timeout)
        row = next(r for r in rows if r["layer"] == name)
        rr["kind"], rr["machine_cycles_table"] = row["kind"], row["machine_cycles"]
        out.append(rr)
        print(json.dumps({k: rr.get(k) for k in ("layer", "machine", "rtl", "rtl_error")}), flush=True)
    return out


def bench_model(model: str, args, py: Path | None, exe: Path | None) -> dict:
    from dian.hwgen.presets import PRESETS

    cfg = PRESETS[PRESET]
    g = traced(model)
    walls, pred = [], {}
    for _ in range(args.repeats):
        t = time.perf_counter()
        pred = dian_search(g, cfg)
        walls.append(time.perf_counter() - t)
    rows = dian_rows(model, g, mac_layers(g, args.layers), cfg)
    for r in rows:
        r["dian_predicted"] = pred[r["layer"]]
    out = {
        "model": model,
        "layers_in_network": len(mac_layers(g, None)),
        "ops_in_network": len(g.ops),
        "dian_search_s": walls,
        "rows": rows,
    }
    if py is not None:
        out.update(zigzag_side(model, rows, cfg, args, py))
        if "zigzag" in out:
            out["summary"] = summary(out)
    if exe is not None:
        out["rtl"] = [dict(x, model=model) for x in rtl_side(g, rows, exe, args.rtl_timeout)]
    return out


# ---- report --------------------------------------------------------------------------------------


def _yes(ok: bool) -> str:
    return "yes" if ok else "NO"


def summary(r: dict) -> dict:
    """Totals over the layers both tools predicted, the search times and the speed-up (dian's cold run)."""
    rows = [x for x in r["rows"] if x.get("zigzag")]
    dian_s, zz_s = r["dian_search_s"][0], r["zigzag"]["wall_s"]
    return {
        "layers": len(rows),
        "zigzag_cycles": sum(x["zigzag"]["cycles"] for x in rows),
        "dian_predicted": sum(x["dian_predicted"] for x in rows),
        "dian_machine": sum(x["machine_cycles"] for x in rows),
        "dian_s_first": dian_s,
        "dian_s_median": statistics.median(r["dian_search_s"]),
        "zigzag_s": zz_s,
        "speedup": zz_s / dian_s,
        "layers_pred_le": sum(x["dian_predicted"] <= x["zigzag"]["cycles"] for x in rows),
        "layers_meas_le": sum(x["machine_cycles"] <= x["zigzag"]["cycles"] for x in rows),
    }


def misses(r: dict) -> str:
    """The layers where dian's prediction is over ZigZag's, worst first, and where ZigZag's is under the bound."""
    rows = [x for x in r["rows"] if x.get("zigzag")]
    ratio = lambda x: x["dian_predicted"] / x["zigzag"]["cycles"]  # noqa: E731
    over = sorted((x for x in rows if ratio(x) > 1), key=lambda x: -ratio(x))
    under = [x["layer"] for x in rows if x["zigzag"]["cycles"] < max(x["bounds"])]
    if not rows:
        return "No ZigZag figures for this network."
    text = "dian's prediction is at or under ZigZag's on every layer."
    if over:
        extra = sum(x["dian_predicted"] - x["zigzag"]["cycles"] for x in over)
        text = (
            f"dian's prediction is over ZigZag's on {len(over)} of {len(rows)} layers ({extra:,.0f} cycles in "
            "all); worst: " + ", ".join(f"{x['layer']} ({x['kind']}) {ratio(x):.2f}x" for x in over[:6]) + "."
        )
    return text + (f" ZigZag predicts fewer cycles than the shape-only bound on {', '.join(under)}." if under else "")


def _header(env: dict) -> list[str]:
    return [
        "# dian vs ZigZag: mapping-search time and predicted cycles on the `default` accelerator",
        "",
        f"`{env['command'].strip()}`. Machine: {env['cpu']} ({env['cores']} cores, shared with other agents), "
        f"Python {env['python']}; load average before/after {env['load_average'][0]} / "
        f"{env['load_average'][1]}; code {env['git']}; {env['date']}. ZigZag: {', '.join(PINS)} in "
        f"build/zigzag-venv, API `get_hardware_performance_zigzag` (LOMA temporal-mapping search, lpf_limit "
        f"{env['lpf_limit']}, opt=latency, uneven mappings), one call per network on the compared layers, run "
        "under `nice -n 10`; its time is the API call's wall time (parsing, search, cost model, its result "
        "dumps; not the interpreter start or imports). dian: `dian_search` = the mapper "
        f"(`search.mapper.map_graph`, latency) on the whole network ({env['repeats']} runs; the speed-up uses "
        "the first, cold run), every op including the pooling/add ops ZigZag is not given. Cycles: ZigZag's "
        "`latency_total2` per layer; dian's mapper prediction (exact: the layer's share of a network run); "
        "dian's sim/machine run of the layer as its own graph, which is exact against the RTL (Verilator "
        "table below) and adds the run's boot and done. Architecture and approximations: the script's docstring "
        "(16x16 int8 MACs, K x C "
        "spatial, DW layers G x (FY, FX) as dian's DW mode; buffers at their full size; ZigZag ignores DRAM "
        f"latency). Goal (issue 5): >= {GOAL_SPEEDUP}x faster than ZigZag with equal or fewer predicted cycles.",
    ]


def _network_table(results: list[dict]) -> list[str]:
    lines = [
        "",
        "## Per network (compared layers: convs and linears)",
        "",
        "| model | layers | ZigZag search s | dian search s (first / median) | speed-up | ZigZag cycles "
        "| dian predicted | dian measured (RTL-exact) | dian predicted <= ZigZag | layers predicted <= "
        "| layers measured <= |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    for r in results:
        if "summary" not in r:
            lines.append(f"| {r['model']} | {len(r['rows'])} | failed: {r.get('zigzag_error', 'not run')} |" + " |" * 8)
            continue
        s = r["summary"]
        goal = f"{'meets' if s['speedup'] >= GOAL_SPEEDUP else 'MISSES'} {GOAL_SPEEDUP}x"
        le = "yes" if s["dian_predicted"] <= s["zigzag_cycles"] else "NO (MISSES)"
        lines.append(
            f"| {r['model']} | {s['layers']} of {r['layers_in_network']} | {s['zigzag_s']:.1f} "
            f"| {s['dian_s_first']:.3f} / {s['dian_s_median']:.3f} | {s['speedup']:,.0f}x ({goal}) "
            f"| {s['zigzag_cycles']:,.0f} | {s['dian_predicted']:,} | {s['dian_machine']:,} "
            f"| {le} ({s['dian_predicted'] / s['zigzag_cycles']:.2f}x) "
            f"| {s['layers_pred_le']} of {s['layers']} | {s['layers_meas_le']} of {s['layers']} |"
        )
    return lines


def _rtl_table(rtl: list[dict], env: dict) -> list[str]:
    lines = [
        "",
        f"## Verilator on sampled layers (`{PRESET}` preset, the same 224x224 layers)",
        "",
        f"Verilator build of the `{PRESET}` RTL: {env.get('verilator_build_s', 0):.0f} s (cached when "
        "unchanged). Each layer lowered alone, run in sim/machine and in Verilator on the same DRAM image; "
        "equal = all four performance counters (cycles, busy-PE cycles, DRAM bytes read/written).",
        "",
        "| model | layer | kind | machine cycles | Verilator cycles | counters equal | DRAM equal "
        "| = per-layer table | Verilator s |",
        "|---|---|---|---:|---:|---|---|---|---:|",
    ]
    for x in rtl:
        head = f"| {x['model']} | {x['layer']} | {x['kind']} | {x['machine']['cycles']:,} "
        if "rtl" not in x:
            lines.append(head + f"| {x.get('rtl_error', '')} | | | | |")
        else:
            lines.append(
                head + f"| {x['rtl']['cycles']:,} | {_yes(x['counters_equal'])} | {_yes(x['dram_equal'])} "
                f"| {_yes(x['rtl']['cycles'] == x['machine_cycles_table'])} | {x['rtl_wall_s']:.1f} |"
            )
    return lines


def _layer_table(r: dict) -> list[str]:
    lines = [
        "",
        f"## {r['model']}: per layer",
        "",
        misses(r),
        "",
        "| layer | kind | shape | MACs | bound (compute / DRAM) | ZigZag cycles | ZigZag ideal "
        "| dian predicted | dian measured | predicted / ZigZag | measured / ZigZag |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for x in r["rows"]:
        z, b = x.get("zigzag"), x["bounds"]
        zz = (
            "- | - | - | -"
            if not z
            else f"{z['cycles']:,.0f}{' (below bound)' if z['cycles'] < max(b) else ''} | "
            f"{z['ideal_temporal_cycles']:,.0f} | {x['dian_predicted'] / z['cycles']:.2f} "
            f"| {x['machine_cycles'] / z['cycles']:.2f}"
        ).split(" | ")
        lines.append(
            f"| {x['layer']} | {x['kind']} | {x['shape']} | {x['macs']:,} | {b[0]:,} / {b[1]:,} | {zz[0]} "
            f"| {zz[1]} | {x['dian_predicted']:,} | {x['machine_cycles']:,} | {zz[2]} | {zz[3]} |"
        )
    return lines


def markdown(results: list[dict], env: dict) -> str:
    lines = _header(env) + _network_table(results)
    rtl = [x for r in results for x in r.get("rtl", [])]
    if rtl:
        lines += _rtl_table(rtl, env)
    for r in results:
        lines += _layer_table(r)
    lines += [
        "",
        "Bound: lower bounds from the shapes alone (script's `bounds`): compute = cycles the array needs "
        "at one pixel a cycle per (C block, K block, tap) in GEMM mode, one IBUF word a cycle per (channel "
        "block, tap) in v1 DW mode; DRAM = int8 input + weights + output bytes / 16-byte bus. `below bound`: "
        "ZigZag's figure is under the larger of the two. ZigZag ideal = its `ideal_temporal_cycle` (MACs / "
        "spatially used PEs, no memory stalls).",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default="resnet18,mobilenetv2")
    p.add_argument("--layers", type=int, default=None, help="compare N evenly spaced conv/linear layers a model")
    p.add_argument("--no-verilator", action="store_true")
    p.add_argument("--no-zigzag", action="store_true", help="dian side only (debugging)")
    p.add_argument("--no-write", action="store_true")
    p.add_argument("--lpf-limit", type=int, default=6, help="ZigZag LOMA's loop prime factor limit (its default 6)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--zigzag-timeout", type=float, default=3600)
    p.add_argument("--rtl-timeout", type=float, default=900)
    p.add_argument("--from-json", action="store_true", help="rewrite the .md from the committed .json")
    p.add_argument("--zigzag-worker", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.zigzag_worker:
        zigzag_worker(args.zigzag_worker)
        return
    if args.from_json:
        data = json.loads((RESULTS / "zigzag_comparison.json").read_text())
        (RESULTS / "zigzag_comparison.md").write_text(markdown(data["results"], data["env"]))
        return
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    before = os.getloadavg()[0]
    py = None if args.no_zigzag else zigzag_python()
    env: dict = {
        "command": "benchmarks/bench_zigzag.py " + " ".join(sys.argv[1:]),
        "lpf_limit": args.lpf_limit,
        "repeats": args.repeats,
    }
    exe = None
    if not args.no_verilator:
        from dian.hwgen.presets import PRESETS
        from dian.hwgen.rtl.emit import TOP_NAME, emit_verilog
        from dian.hwgen.tools.verilator_run import build_harness

        cfg, t = PRESETS[PRESET], time.perf_counter()
        folder = BUILD / "verilator" / PRESET
        exe = build_harness(
            emit_verilog(cfg, folder / "rtl"),
            TOP_NAME,
            cfg.dram_bus_bits,
            cfg.dram_latency,
            folder / "build",
            max_burst=cfg.max_burst_beats,
        )
        env["verilator_build_s"] = time.perf_counter() - t
    results = [bench_model(m, args, py, exe) for m in args.models.split(",")]
    cpu = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        ),
        platform.processor(),
    )
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "hwgen", "sim", "ir", "frontend"], capture_output=True, text=True, cwd=REPO
    ).stdout.strip()
    env.update(
        {
            "git": head + (" + uncommitted changes in hwgen/sim/ir/frontend" if dirty else ""),
            "cpu": cpu,
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "date": time.strftime("%Y-%m-%d %H:%M"),
            "load_average": [round(before, 2), round(os.getloadavg()[0], 2)],
        }
    )
    text = markdown(results, env)
    print(text)
    if not args.no_write:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "zigzag_comparison.md").write_text(text)
        (RESULTS / "zigzag_comparison.json").write_text(
            json.dumps({"env": env, "pins": PINS, "results": results}, indent=1, sort_keys=True) + "\n"
        )


if __name__ == "__main__":
    main()
