"""One line per fault with what it did to the messages, for the reliability report.

Printed (see it with `pytest -rP`) and, when ZAPHUB_CHAOS_REPORT names a file, appended to it.
"""

from __future__ import annotations

import os
from collections import Counter


def outcome(acked: list[str], counts: Counter[str]) -> dict[str, int]:
    """How the acknowledged messages `acked` fared, given each text's count in the mailboxes."""
    return {
        "acked": len(acked),
        "delivered_once": sum(1 for text in acked if counts[text] == 1),
        "lost": sum(1 for text in acked if counts[text] == 0),
        "duplicated": sum(1 for text, c in counts.items() if c > 1),
    }


def report(fault: str, **figures: object) -> None:
    line = f"chaos | {fault} | " + " ".join(f"{k}={v}" for k, v in figures.items())
    print(line)
    path = os.environ.get("ZAPHUB_CHAOS_REPORT")
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(line + "\n")
