"""What a benchmark script records about its run and how it writes its results pair
(benchmarks/results/<stem>.md and .json), shared so that each script keeps only its measurement.
Scripts run as ``.venv/bin/python benchmarks/<script>.py`` import it as a sibling."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"


def environment(load_before: float, **extra: Any) -> dict[str, Any]:
    """The command as run (the script and its arguments), the commit, the date and the load average
    before and now, plus ``extra``: the ``env`` block benchmarks/index.py reads."""
    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO)
    script = Path(sys.argv[0]).resolve().relative_to(REPO)
    return {
        "command": " ".join([str(script), *sys.argv[1:]]),
        "git": git.stdout.strip(),
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        **extra,
    }


def provenance(env: dict[str, Any]) -> str:
    """The report's line on how it was made, from :func:`environment`'s block."""
    load = env["load_average"]
    return (
        f"Command: `.venv/bin/python {env['command']}`; code {env['git']}, {env['date']}, "
        f"load average {load[0]} -> {load[1]}."
    )


def write_results(stem: str, text: str, doc: dict[str, Any]) -> None:
    """``text`` to results/<stem>.md and ``doc`` to results/<stem>.json (sorted keys)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{stem}.md").write_text(text)
    (RESULTS / f"{stem}.json").write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
