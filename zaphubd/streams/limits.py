"""How many event streams may be open at once on this node: per key, and in all."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from zaphubd.errors import CapacityReached


class StreamLimits:
    def __init__(self, *, per_key: int, total: int) -> None:
        self._per_key = per_key
        self._total = total
        self._open: dict[str, int] = {}  # at most `total` entries: closed keys are removed
        self.open = 0

    @contextmanager
    def admit(self, key: str) -> Iterator[None]:
        """Hold one stream slot for `key` while the block runs; 429 when none is free."""
        held = self._open.get(key, 0)
        if held >= self._per_key:
            raise CapacityReached(
                f"this key already holds {held} open event streams on this node "
                f"(ZAPHUB_STREAM_MAX_PER_KEY={self._per_key}): close one first"
            )
        if self.open >= self._total:
            raise CapacityReached(
                f"this node holds its maximum of {self._total} event streams "
                "(ZAPHUB_STREAM_MAX_TOTAL)"
            )
        self._open[key] = held + 1
        self.open += 1
        try:
            yield
        finally:
            self.open -= 1
            left = self._open[key] - 1
            if left:
                self._open[key] = left
            else:
                del self._open[key]
