"""Build a plain package tree of ``dian`` out of symlinks, for the static tools.

dian's subpackages live in top-level folders that pyproject's
``[tool.setuptools] package-dir`` maps into the ``dian`` package (``dian.ir``
is ``ir/``). Python finds them through the editable install's import hook,
but tools that read the file system (import-linter's grimp, mypy) look for
``dian/ir/`` on disk. This script makes that tree: ``DEST/dian`` holds a link
to every file of ``dian/`` and one link per mapped subpackage folder, so the
tools see exactly the sources in the working tree.

    python scripts/package_tree.py DEST
"""

from __future__ import annotations

import shutil
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def build(dest: Path) -> Path:
    mapping: dict[str, str] = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    package = dest / "dian"
    if package.is_symlink() or package.is_file():
        package.unlink()
    elif package.exists():
        shutil.rmtree(package)
    package.mkdir(parents=True)
    for entry in sorted((ROOT / mapping["dian"]).iterdir()):
        if entry.suffix == ".py":
            (package / entry.name).symlink_to(entry)
    for name, folder in sorted(mapping.items()):
        if name != "dian":
            (package / name.removeprefix("dian.")).symlink_to(ROOT / folder, target_is_directory=True)
    return package


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    print(build(Path(sys.argv[1])))
