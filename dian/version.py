"""dian's version: the installed distribution's, so pyproject.toml is its one source."""

from __future__ import annotations

from importlib.metadata import version

__version__ = version("dian")
