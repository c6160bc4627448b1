"""The one-way data flow, checked on the imports: the API reaches WhatsApp only through the
session engine and messaging, and nothing below the API reaches back up into it."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "zaphubd"
#: The composition root wires every layer together; it may import all of them.
ROOT = {"daemon.py", "components.py"}


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def offenders(files: list[Path], forbidden: str) -> dict[str, list[str]]:
    found = {}
    for path in files:
        bad = sorted(m for m in imported_modules(path) if m.startswith(forbidden))
        if bad:
            found[str(path.relative_to(PACKAGE))] = bad
    return found


def test_the_api_never_imports_the_transport() -> None:
    assert offenders(sorted((PACKAGE / "http").glob("*.py")), "zaphubd.transport") == {}


def test_nothing_below_the_api_imports_it() -> None:
    below = [
        p for p in sorted(PACKAGE.rglob("*.py")) if p.parent.name != "http" and p.name not in ROOT
    ]
    assert offenders(below, "zaphubd.http") == {}
