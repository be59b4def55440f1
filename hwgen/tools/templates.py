"""Render the Jinja2 templates of ``dian.rtl_templates`` (and of other packages' data: ``render_from``).

Templates are read from the installed package (``importlib.resources``), with
``StrictUndefined`` (a missing variable is an error, not blank text),
``trim_blocks`` and ``lstrip_blocks``. They hold no logic beyond loops over
ports and parameters: callers pass plain, already-computed values.
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from dian.safe_paths import write_file

PACKAGE = "dian.rtl_templates"


def _load(name: str, package: str = PACKAGE) -> str:
    try:
        return resources.files(package).joinpath(name).read_text()
    except FileNotFoundError:
        raise jinja2.TemplateNotFound(name) from None


@functools.cache
def _environment(package: str = PACKAGE) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FunctionLoader(functools.partial(_load, package=package)),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )


def package_text(name: str) -> str:
    """The text of a file of ``dian.rtl_templates`` that is not a template (e.g. a C++ header)."""
    return _load(name)


def render(name: str, **params: Any) -> str:
    """The text of template ``name`` (e.g. ``"yosys_ecp5.ys.j2"``) with ``params``."""
    return _environment().get_template(name).render(**params)


def render_from(package: str, name: str, params: dict[str, Any]) -> str:
    """The text of template ``name`` of another package's data (e.g. ``dian.board``'s
    ``templates/soc.py.j2``) with ``params``, in the same environment."""
    return _environment(package).get_template(name).render(**params)


def render_to(name: str, path: Path, **params: Any) -> Path:
    """Render ``name`` into ``path``, written atomically and never through a symlink; returns ``path``."""
    write_file(path, render(name, **params))
    return path
