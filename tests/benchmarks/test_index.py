"""docs/ against benchmarks/results/: the generated index is current and covers every results file,
and every measured figure in the hand-written docs sits beside a link to the results it came from."""

from __future__ import annotations

import functools
import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
#: accelerator.md is the machine's specification (its figures are design constants, not measurements);
#: benchmarks.md is generated from the results and checked by test_index_is_current.
UNCHECKED = {"accelerator.md", "benchmarks.md"}


@functools.cache
def _index() -> ModuleType:
    spec = importlib.util.spec_from_file_location("benchmarks_index", ROOT / "benchmarks" / "index.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def test_index_is_current() -> None:
    index = _index()
    assert index.PAGE.read_text() == index.render(), (
        "docs/benchmarks.md is stale: a results file changed; run .venv/bin/python benchmarks/index.py"
    )


def test_every_results_file_has_an_entry() -> None:
    index = _index()
    files = {p for p in index.RESULTS.iterdir() if p.suffix in (".md", ".json")}
    assert files - index.claimed() == set(), "results without an entry in benchmarks/index.py ENTRIES"
    assert index.claimed() - files == set(), "entries in benchmarks/index.py whose results file is gone"


@pytest.mark.parametrize("entry", _index().ENTRIES, ids=lambda e: e.stem)
def test_every_entry_names_its_command(entry: Any) -> None:
    assert _index().usage(entry.script), f"benchmarks/{entry.script}'s docstring has no usage line"


# The figure rule. A block is a paragraph, a list item, a table row, a heading or a fenced code
# block. A block that states a measured figure (a number with one of the units below, outside
# `code spans`, which hold settings and literals) must link benchmarks/results/ or
# docs/benchmarks.md; a fenced block may take the link from the paragraph just before it.

UNIT = (
    r"(?:MHz|GHz|cycles?|FPS|evals?/s|evaluations/s|LUTs?|LUT4|FFs|DSPs|BRAMs|DP16KD|"
    r"s/image|ms|us|µs|s|min|h|%|[x\u00d7](?!\s*\d))"
)
FIGURE = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?\s?" + UNIT + r"(?![\w/])")
LINK = re.compile(r"\]\((?:\.\./)?(?:docs/)?(?:benchmarks/results/[^)\s]+|benchmarks\.md(?:#[^)\s]*)?)\)")
CODE_SPAN = re.compile(r"`[^`\n]*`")


def blocks(text: str) -> list[tuple[str, str]]:
    """(block, the block before it), in order."""
    out: list[str] = []
    cur: list[str] = []
    fence: list[str] | None = None

    def flush() -> None:
        if cur:
            out.append("\n".join(cur))
            cur.clear()

    for line in text.splitlines():
        if fence is not None:
            fence.append(line)
            if line.strip().startswith("```"):
                out.append("\n".join(fence))
                fence = None
            continue
        s = line.strip()
        if s.startswith("```"):
            flush()
            fence = [line]
        elif not s:
            flush()
        elif s.startswith(("|", "#")):
            flush()
            out.append(line)
        elif re.match(r"(?:[-*]|\d+\.)\s", s):
            flush()
            cur.append(line)
        else:
            cur.append(line)
    flush()
    if fence is not None:
        out.append("\n".join(fence))
    return [(b, out[i - 1] if i else "") for i, b in enumerate(out)]


def unlinked_figures(text: str) -> list[str]:
    bad = []
    for block, before in blocks(text):
        fenced = block.lstrip().startswith("```")
        prose = block if fenced else CODE_SPAN.sub("", block)
        if FIGURE.search(prose) and not LINK.search(block) and not (fenced and LINK.search(before)):
            bad.append(block)
    return bad


@pytest.mark.parametrize(
    "text, flagged",
    [
        ("Fmax is 78.5 MHz.", True),
        ("Fmax is 78.5 MHz ([synth_ecp5](../benchmarks/results/synth_ecp5.md)).", False),
        ("Within 2.1 % of Yosys, see [the index](benchmarks.md#resource_fit).", False),
        ("| tiny | 9,570 cycles |", True),
        ("Run `dian search --budget 10` on 8x8 PEs with a 256-bit word.", False),
        ("- the mapper is 119x faster than ZigZag", True),
        ("dian at 2.89\u00d7 the FPS", True),
        ("A paragraph with a [link](benchmarks.md)\n\n- and a list item at 97 %", True),
        ("Real output ([figures](benchmarks.md)):\n\n```\ncycles 4,945\n```", False),
        ("```\n$ dian synth\n  Fmax 80.1 MHz\n```", True),
    ],
)
def test_figure_rule(text: str, flagged: bool) -> None:
    assert bool(unlinked_figures(text)) is flagged


@pytest.mark.parametrize("doc", sorted(p.name for p in DOCS.glob("*.md") if p.name not in UNCHECKED), ids=lambda n: n)
def test_doc_figures_link_their_results(doc: str) -> None:
    bad = unlinked_figures((DOCS / doc).read_text())
    assert not bad, f"docs/{doc}: figures without a link to benchmarks/results/ or docs/benchmarks.md:\n\n" + (
        "\n\n".join(bad)
    )


# Links: every relative link of the README and of the docs this test owns names a file that exists,
# and an anchor into a Markdown file names one of its headings (GitHub's slugs).

LINKED = (
    "README.md",
    "docs/arithmetic.md",
    "docs/benchmarks.md",
    "docs/cli.md",
    "docs/cosearch.md",
    "docs/cost-model.md",
    "docs/zoo.md",
)
MD_LINK = re.compile(r"\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(md: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", md.read_text(), flags=re.S)
    return {slug(line.lstrip("#")) for line in text.splitlines() if line.startswith("#")}


def test_slug() -> None:
    assert slug("## `dian search`".lstrip("#")) == "dian-search"
    assert slug(" Synthesis and place & route on ECP5") == "synthesis-and-place--route-on-ecp5"


@pytest.mark.parametrize("doc", LINKED)
def test_links_resolve(doc: str) -> None:
    page = ROOT / doc
    bad = []
    for target in MD_LINK.findall(page.read_text()):
        if re.match(r"[a-z]+:", target):
            continue  # http(s), mailto
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            bad.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            bad.append(f"{target}: no heading with that anchor in {dest.relative_to(ROOT)}")
    assert not bad, f"{doc}: " + "; ".join(bad)
