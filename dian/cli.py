"""The `dian` command line: argument parsing and printing over :mod:`dian.api`.

Every :class:`~dian.errors.DianError` becomes one paragraph on stderr,
``dian: error: ...``, and exit status 2 (argparse's usage errors exit 2 as
well). Any other exception is a bug in dian and keeps its traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from . import api, cli_parser, staging
from .compile_front import CalibOptions
from .errors import DianError
from .limits import ENV, human, memory_limit
from .npy_file import read_npy
from .sim.host import dequantize_outputs

if TYPE_CHECKING:
    from .simulate import PredictedCounters, RunCounters

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a Ctrl-C


def _cmd_compile(args: argparse.Namespace) -> None:
    result = api.compile_model(
        args.model,
        args.input_shape,
        args.out,
        calib_samples=args.calib_samples,
        seed=args.seed,
        progress=sys.stderr.isatty(),
        accel=args.accel,
        rtl=not args.no_rtl,
        objective=args.objective,
        force=args.force,
        calib_data=args.calib_data,
        calib_method=args.calib_method,
        calib_percentile=args.calib_percentile,
    )
    print(result.summary, end="")
    if "qat_scales" in result.manifest:
        m = result.manifest
        print(
            f"\nQAT: {m['qat_scales']} activation scales from the model's fake-quant modules, "
            f"{m['calibrated_scales']} calibrated ({m['calib_method']}, {m['calib_source']})"
        )
    groups: dict[str, int] = {}
    for name in result.files:
        top = name.split("/")[0] + ("/" if "/" in name else "")
        groups[top] = groups.get(top, 0) + 1
    listing = ", ".join(f"{g} ({n} file{'s' if n > 1 else ''})" if g.endswith("/") else g for g, n in groups.items())
    print(f"\nwrote {result.out_dir}/ ({listing})")


def _check_output(path: str | None, folder: str) -> None:
    """Refuse an --output that cannot take the model's outputs before any work: an empty name
    (it would be written as ``.npy``), or a .npy name for a model with several outputs."""
    if path == "":
        raise DianError("--output is empty; give the path of the .npy file to write, e.g. --output y.npy.")
    if path is not None and not path.endswith(".npz"):
        outputs = api.load_compiled(folder).outputs
        if len(outputs) > 1:
            raise DianError(
                f"{folder} has {len(outputs)} outputs ({', '.join(outputs)}); give --output NAME.npz to save "
                f"them all (one float32 array per output name; np.load(NAME.npz)[name] reads one)."
            )


def _save_output(path: str, outputs: dict[str, np.ndarray]) -> None:
    """Save the float32 outputs at exactly ``path`` (``np.save`` given a name would add ".npy" to it):
    a .npz of every output by name when ``path`` ends in .npz, else the one output as .npy."""
    try:
        with open(path, "wb") as f:
            if path.endswith(".npz"):
                np.savez(f, **outputs)  # type: ignore[arg-type]  # numpy stubs type allow_pickle among kwds
            else:
                np.save(f, next(iter(outputs.values())), allow_pickle=False)
    except OSError as e:
        raise DianError(f"cannot write --output {path}: {e.strerror}.") from None
    for name, y in outputs.items():
        label = f"output {name}" if len(outputs) > 1 else "output"
        print(f"{label} {'x'.join(map(str, y.shape))} float32 written to {path}")
        if y.ndim == 2:
            print("argmax per row: " + " ".join(str(int(i)) for i in y.argmax(axis=1)))


def _cmd_run(args: argparse.Namespace) -> None:
    _check_output(args.output, args.dir)
    x = read_npy(args.input, "--input")
    if args.on == "reference":
        for flag, given in (("--memory", args.memory != "ideal"), ("--board", args.board), ("--irq", args.irq)):
            if given:
                raise DianError(f"{flag} belongs to a run on the accelerator; add --on rtl or --on board.")
        outputs = api.run_model_outputs(args.dir, x, allow_modified=args.allow_modified)
    else:
        if args.on == "board" and args.board == "sim":
            where = f"{args.dir}/build/soc_sim"
            print(
                f"dian: starting the simulated SoC (verilated into {where} on first use: about a minute)",
                file=sys.stderr,
            )
        run = api.run_on(
            args.dir,
            x,
            args.on,
            memory=args.memory,
            board=args.board,
            bridge=args.bridge,
            init_sdram=args.sdram_init,
            irq=args.irq,
            allow_modified=args.allow_modified,
        )
        inf, cfg = run.inference, run.folder.cfg
        c = inf.counters
        print(f"ran on {run.where}: outputs bit-exact with the reference simulator")
        print(
            f"  {c.cycles:,} cycles ({c.cycles / run.clock_hz * 1e6:,.1f} us at {run.clock_hz / 1e6:g} MHz), busy-PE "
            f"{100 * c.utilization(cfg):.1f}%, DRAM read {c.dram_bytes_read:,} B, written {c.dram_bytes_written:,} B "
            f"(the accelerator's counters); host wall time {inf.seconds:.2f} s"
        )
        outputs = dequantize_outputs(run.folder.graph, inf.outputs)
    _save_output(args.output, outputs)


def _describe_output(q: np.ndarray) -> str:
    if q.ndim == 2 and q.shape[0] == 1:
        return f"argmax {int(q.argmax())}"
    return f"{q.size:,} int8"


def _cmd_simulate(args: argparse.Namespace) -> None:
    _check_output(args.output, args.dir)
    x = read_npy(args.input, "--input")
    if args.memory != "ideal" and not args.rtl:
        raise DianError(f"--memory {args.memory} is the memory of the RTL run; add --rtl.")
    res = api.simulate_model(args.dir, x, rtl=args.rtl, memory=args.memory)
    for name in res.modified:
        print(f"dian: note: {name} was modified since compile; simulated as it is now", file=sys.stderr)
    cfg = res.cfg
    runs = [r for r in (res.machine, res.rtl) if r is not None]
    head = [
        "",
        "reference",
        "schedules",
        *("machine simulator" if r.backend == "machine" else f"RTL (Verilator, {r.memory} memory)" for r in runs),
    ]
    rows = [head]
    for o in res.graph.outputs:
        shape = "x".join(map(str, res.reference[o].shape))
        rows.append(
            [
                f"output {o} {shape}",
                _describe_output(res.reference[o]),
                "",
                *(f"{_describe_output(r.outputs[o])}, bit-exact" for r in runs),
            ]
        )
    rows.append(
        ["activation tensors", f"{res.tensors_checked}", "", *(f"{res.tensors_checked} bit-exact" for _ in runs)]
    )
    pe = cfg.pe_rows * cfg.pe_cols
    cols: list[PredictedCounters | RunCounters] = [res.predicted, *(r.counters for r in runs)]
    rows.append(["cycles", "", *(f"{c.cycles:,}" for c in cols)])
    rows.append([f"time at {cfg.clock_mhz:g} MHz", "", *(f"{c.cycles / cfg.clock_mhz:,.1f} us" for c in cols)])
    rows.append(
        [
            "MACs / (cycles x PEs)",
            f"{res.macs:,} MACs",
            *(f"{100 * res.macs / max(1, c.cycles * pe):.1f}%" for c in cols),
        ]
    )
    rows.append(["busy-PE utilization", "", "", *(f"{100 * r.counters.utilization(cfg):.1f}%" for r in runs)])
    rows.append(["DRAM bytes read", "", *(f"{c.dram_bytes_read:,}" for c in cols)])
    rows.append(["DRAM bytes written", "", *(f"{c.dram_bytes_written:,}" for c in cols)])
    rows.append(["wall time", "", "", *(f"{r.seconds:.2f} s" for r in runs)])
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    print(
        f"{res.graph.name} on accelerator {cfg.name} ({cfg.pe_rows}x{cfg.pe_cols} PEs, {cfg.clock_mhz:g} MHz), "
        f"program.bin {res.image_bytes:,} bytes, from {res.out_dir}"
    )
    for r in rows:
        print(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
            ).rstrip()
        )
    names = " and ".join("the machine simulator" if r.backend == "machine" else "the RTL" for r in runs)
    random = res.rtl is not None and res.rtl.memory != "ideal"
    print(
        f"\nbit-exact: every byte of the {res.tensors_checked} activation tensors {names} left in DRAM equals "
        f"sim/reference"
        + (", and the RTL's counters equal the machine simulator's" if res.rtl and not random else "")
        + (", and the RTL's DRAM bytes read and written equal the machine simulator's" if random else "")
    )
    if res.rtl is not None and random:
        ideal, measured = res.machine.counters.cycles, res.rtl.counters.cycles
        print(
            f"cycles: {ideal:,} on the ideal memory (the machine simulator's), {measured:,} measured on the "
            f"{res.rtl.memory} memory ({measured / max(1, ideal):.2f}x)"
        )
    m, p = res.machine.counters, res.predicted
    keys = ("cycles", "dram_bytes_read", "dram_bytes_written")
    if all(getattr(m, k) == getattr(p, k) for k in keys):
        print("exact: the schedules predicted the cycles and DRAM bytes the machine simulator counts")
    else:
        print(
            "the schedules' predictions differ from the machine simulator's counts: "
            + ", ".join(f"{k} {getattr(p, k):,} vs {getattr(m, k):,}" for k in keys if getattr(m, k) != getattr(p, k))
            + " (compiled by an older dian, or program.bin was modified)"
        )
    if args.output is not None:
        _save_output(args.output, dequantize_outputs(res.graph, res.machine.outputs))


def _cmd_synth(args: argparse.Namespace) -> None:
    res = api.synth_model(args.dir, target=args.target, place_and_route=not args.no_pnr)
    r = res.report
    print(
        f"{r['top']} for {r['target']} at {r['clock_mhz']:g} MHz"
        + (" (synthesis only)" if not r["place_and_route"] else " (synthesis, place and route)")
    )
    if r["luts"] is None:
        print(f"  cells   {r['cells']:,}")
        for name, n in sorted(r["cell_types"].items(), key=lambda kv: -kv[1])[:8]:
            print(f"    {name:<14} {n:,}")
    else:
        for key, label in (("luts", "LUTs"), ("ffs", "FFs"), ("dsps", "DSPs"), ("brams", "BRAMs")):
            print(f"  {label:<6} {r[key]:,}")
        if r["wrapper"]:
            print(f"  (including the P&R wrapper, at most {r['wrapper']['luts']} LUTs / {r['wrapper']['ffs']} FFs)")
    if r.get("fit"):
        print(f"  {r['fit']}")
    if r["fmax_mhz"] is not None:
        verdict = "meets" if r["meets_timing"] else "MISSES"
        print(f"  Fmax   {r['fmax_mhz']:.1f} MHz ({verdict} the configured {r['clock_mhz']:g} MHz)")
    print(f"wrote {res.report_path} (logs beside it)")


def _cmd_build(args: argparse.Namespace) -> None:
    res = api.build_board(
        args.dir,
        args.board,
        bitstream=not args.no_bitstream,
        seed=args.seed,
        sys_clk_hz=args.sys_clk_freq,
        accel_clk_hz=args.accel_clk_freq,
        progress=True,
        force=args.force,
    )
    d, clocks = res.doc, res.doc["clocks"]
    own = clocks["accel_domain"] != "sys"
    print(
        f"{res.board.title} ({d['device']}): accelerator {d['accel']['name']}, sys {clocks['sys_hz'] / 1e6:g} MHz, "
        f"accelerator {clocks['accel_hz'] / 1e6:g} MHz" + (" (its own clock domain)" if own else " (the sys clock)")
    )
    dram = d["dram"]
    print(
        f"  accelerator registers  0x{d['accel_regs']:08x} on the SoC bus (register off at "
        f"0x{d['accel_regs']:08x} + off)"
    )
    print(
        f"  SDRAM                  0x{dram['host_base']:08x} on the SoC bus = 0x{dram['accel_base']:x} for the "
        f"accelerator, {dram['size'] >> 20} MiB {dram['module']}"
    )
    baud = f" at {d['bridge']['baudrate']} baud" if d["bridge"]["baudrate"] else ""
    print(f"  bridge                 UARTBone{baud} on {d['bridge']['connect']}")
    for domain, t in (d["timing"] or {}).items():
        verdict = "met" if t["met"] else "MISSED"
        print(f"  timing {domain:<15} Fmax {t['fmax_mhz']} MHz for {t['asked_mhz']:g} MHz ({verdict})")
    if d["utilization"]:
        u = d["utilization"]
        print(
            "  utilization            "
            + ", ".join(f"{k.upper()} {u[k]['used']:,} of {u[k]['available']:,}" for k in ("lut4", "ff", "dsp", "ebr"))
        )
    print("  seconds                " + ", ".join(f"{k} {v:g}" for k, v in d["seconds"].items()))
    what = f"bitstream {d['bitstream']['file']}, " if d["bitstream"] else "no bitstream (--no-bitstream), "
    print(f"wrote {res.out_dir}/ ({what}board.json, soc.py, csr.csv, gateware/)")


def _cmd_explore(args: argparse.Namespace) -> None:
    from .explore import EXPLORE, explore_model, fmax_note

    res = explore_model(
        args.model,
        args.input_shape,
        args.out,
        args.target,
        args.objective,
        args.trials,
        args.seed,
        progress=sys.stderr.isatty(),
        rtl=not args.no_rtl,
        force=args.force,
        calib=CalibOptions(args.calib_samples, args.calib_data, args.calib_method, args.calib_percentile),
        max_clock_mhz=args.max_clock,
        price=tuple(args.price or ()),
        fusion=args.fusion,
    )
    fits = sum(d.fits for d in res.designs)
    print(
        f"explored {len(res.designs)} designs for {res.compiled.int_graph.name} on {args.target}: {fits} fit, "
        f"{len(res.front)} on the latency/energy Pareto front\n"
    )
    print((res.compiled.out_dir / EXPLORE / "pareto.md").read_text().split("\n\n", 2)[2].split("\n\n")[0])
    c = res.chosen
    print(
        f"\nchosen: trial {c.trial} ({args.objective}): {c.cfg.pe_rows}x{c.cfg.pe_cols} PEs, {c.cycles:,} cycles "
        f"= {c.latency_us:,.1f} us at {c.clock_mhz:g} MHz, {c.energy_uj:,.1f} uJ"
    )
    print(f"clock: the predicted Fmax capped by the asked clock; {fmax_note()}")
    print(
        f"wrote {res.compiled.out_dir}/ (the chosen design compiled: accel.json, schedules/, program.bin, rtl/; "
        f"{EXPLORE}/designs.json, pareto.md, pareto.png)"
    )


def _cmd_search(args: argparse.Namespace) -> None:
    from .co_search import SearchOptions, search_model
    from .nas.cosearch import SearchSettings

    settings = SearchSettings(
        objective=args.objective,
        lam=args.lam,
        epochs=args.epochs,
        warmup_epochs=min(args.warmup_epochs, args.epochs),
        seed=args.seed,
        device=args.device,
    )
    options = SearchOptions(
        args.dataset,
        args.target,
        args.budget,
        args.retrain_epochs,
        args.front_epochs,
        args.cosim_images,
        synth=not args.no_synth,
        place_and_route=not args.no_pnr,
        quick_hardware=args.quick_hardware,
    )
    res = search_model(args.out, options, settings, resume=args.resume, progress=True)
    print(res.report.split("## Search")[0].rstrip())
    print(f"\nwrote {res.out_dir}/ (report.md, plots/, net/searched_net.py, compiled/, search/)")


def _cmd_info(args: argparse.Namespace) -> None:
    print(api.model_info(args.dir), end="")


HANDLERS: dict[str, cli_parser.Handler] = {
    "compile": _cmd_compile,
    "run": _cmd_run,
    "info": _cmd_info,
    "simulate": _cmd_simulate,
    "synth": _cmd_synth,
    "build": _cmd_build,
    "explore": _cmd_explore,
    "search": _cmd_search,
}


def build_parser() -> argparse.ArgumentParser:
    return cli_parser.build_parser(HANDLERS)


def _interrupted() -> int:
    print("dian: interrupted (an output folder being written was left as it was)", file=sys.stderr)
    return EXIT_INTERRUPTED


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    with staging.catching_interrupts() as interrupted:
        try:
            args.func(args)
        except DianError as e:
            if interrupted():  # e.g. torch turned the Ctrl-C into a tracing error
                return _interrupted()
            print(f"dian: error: {e}", file=sys.stderr)
            return EXIT_USER_ERROR
        except KeyboardInterrupt:
            return _interrupted()
        except MemoryError:
            if interrupted():
                return _interrupted()
            print(
                f"dian: error: this machine ran out of memory running `dian {args.command}`; give a smaller "
                f"input or fewer samples, or lower dian's own limit ({ENV}, now {human(memory_limit())}) so it "
                f"refuses such work up front.",
                file=sys.stderr,
            )
            return EXIT_USER_ERROR
        except Exception:
            if interrupted():
                return _interrupted()
            raise
        return _interrupted() if interrupted() else 0


if __name__ == "__main__":
    sys.exit(main())
