"""simnet as a subprocess with its state on disk, for the crash tests (some modules use
their own)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.simnet_process import SimnetProcess


@pytest.fixture
def simnet(tmp_path: Path) -> Iterator[SimnetProcess]:
    proc = SimnetProcess(tmp_path / "simnet.log", state=tmp_path / "simnet.json").start()
    yield proc
    proc.stop()
