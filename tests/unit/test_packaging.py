"""A wheel holds only the packages pyproject.toml names: every one of zaphubd's must be there
(an editable install would hide a missing one until a user installs the wheel)."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_subpackage_is_listed_for_the_wheel() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "zaphubd").rglob("__init__.py")
    }
    assert found - listed == set()
