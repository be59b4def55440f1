"""docs/cli.md against the CLI's parser (dian/cli_parser.py): every command and every option it accepts
is documented with its default, and the page names no option the parser does not have."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from dian.cli import build_parser

PAGE = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def _commands() -> dict[str, argparse.ArgumentParser]:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def _section(command: str) -> str:
    text = PAGE.read_text()
    m = re.search(rf"^## `dian {command}`\n(.*?)(?=^## |\Z)", text, flags=re.S | re.M)
    assert m, f"docs/cli.md has no section ## `dian {command}`"
    return m.group(1)


@pytest.mark.parametrize("command", sorted(_commands()))
def test_every_option_is_documented(command: str) -> None:
    section = _section(command)
    for action in _commands()[command]._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        for flag in action.option_strings:
            assert f"`{flag}" in section, f"docs/cli.md, dian {command}: {flag} is not documented"
        default = action.default
        if action.option_strings and default not in (None, False) and not isinstance(default, bool):
            row = next(line for line in section.splitlines() if f"`{action.option_strings[0]}" in line)
            assert f"`{default}`" in row, f"docs/cli.md, dian {command}: {action.option_strings[0]} default {default}"


@pytest.mark.parametrize("command", sorted(_commands()))
def test_no_unknown_options(command: str) -> None:
    known = {f for a in _commands()[command]._actions for f in a.option_strings}
    named = set(re.findall(r"`(--[a-z][a-z-]*)", _section(command)))
    assert named <= known, f"docs/cli.md, dian {command}: {sorted(named - known)} do not exist"


def test_synopsis_lists_every_command() -> None:
    synopsis = PAGE.read_text().split("\n## ")[0]
    for command in _commands():
        assert f"dian {command}" in synopsis
