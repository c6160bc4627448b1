"""The catalogue and the code agree: every event the source emits is listed, and every listed
event is emitted somewhere.

The source is read, not imported: every string literal passed to `emit(`, `note(`, `_apply(`
(Transitions) or `lookup(` (which emitters use to name an event), or as a parameter of a
database call (repositories that insert events in their own statements); dict values indexed
in such a call; quoted names and `'prefix.' || column` patterns in SQL that inserts into
`events`; and f-string patterns such as `f"call.{...}"`.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

import zaphubd
from zaphubd.event_types import CATALOGUE

SOURCE = Path(zaphubd.__file__).parent
EMITTING_CALLS = frozenset(
    {"emit", "note", "_apply", "lookup", "execute", "executemany", "fetch", "fetchrow", "fetchval"}
)
EVENT_NAME = re.compile(r"^[a-z_]+(?:\.[a-z_]+)+$")
EVENT_TEXT = re.compile(r"^[a-z_.]+$")
SQL_EVENT = re.compile(r"'([a-z_]+(?:\.[a-z_]+)+)'")
#: `'message.receipt.' || status` in SQL: a prefix completed by a column.
SQL_PREFIX = re.compile(r"'([a-z_]+(?:\.[a-z_]+)*\.)'\s*\|\|")
#: Listed but emitted by no code yet. The test fails when one of them starts being emitted
#: (take it off this list then) or when another listed event stops being emitted.
NOT_YET_EMITTED = frozenset({"session.stopped"})


@dataclass
class Found:
    names: dict[str, str] = field(default_factory=dict)  # event -> where
    patterns: dict[str, str] = field(default_factory=dict)  # regex -> where


def _call_name(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    if isinstance(node.func, ast.Name):
        return node.func.id
    return None


def _module_dicts(tree: ast.Module) -> dict[str, list[str]]:
    """Module-level `NAME = {...}` literals: their string values."""
    dicts: dict[str, list[str]] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict):
            values = [
                v.value
                for v in node.value.values
                if isinstance(v, ast.Constant) and isinstance(v.value, str)
            ]
            for target in node.targets:
                if isinstance(target, ast.Name):
                    dicts[target.id] = values
    return dicts


def _looks_like_event(node: ast.JoinedStr) -> bool:
    """`f"call.{...}"` does; SQL built with an f-string does not."""
    texts = [v.value for v in node.values if isinstance(v, ast.Constant)]
    starts = bool(node.values) and isinstance(node.values[0], ast.Constant)
    return starts and all(isinstance(t, str) and EVENT_TEXT.match(t) for t in texts)


def _pattern(node: ast.JoinedStr) -> str:
    parts = []
    for value in node.values:
        if isinstance(value, ast.Constant):
            parts.append(re.escape(str(value.value)))
        else:
            parts.append(r"[a-z_]+")
    return "^" + "".join(parts) + "$"


def _argument(arg: ast.expr, dicts: dict[str, list[str]], where: str, found: Found) -> None:
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        if EVENT_NAME.match(arg.value):
            found.names[arg.value] = where
    elif isinstance(arg, ast.JoinedStr) and _looks_like_event(arg):
        found.patterns[_pattern(arg)] = where
    elif isinstance(arg, ast.Subscript) and isinstance(arg.value, ast.Name):
        for value in dicts.get(arg.value.id, []):
            found.names[value] = where


def _is_events_sql(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and "INSERT INTO events" in node.value
    )


def scan(root: Path = SOURCE) -> Found:
    found = Found()
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        dicts = _module_dicts(tree)
        for node in ast.walk(tree):
            where = f"{path.relative_to(root.parent)}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Call) and _call_name(node) in EMITTING_CALLS:
                for arg in node.args:
                    _argument(arg, dicts, where, found)
            elif _is_events_sql(node):
                assert isinstance(node, ast.Constant)
                for name in SQL_EVENT.findall(node.value):
                    found.names[name] = where
                for prefix in SQL_PREFIX.findall(node.value):
                    found.patterns["^" + re.escape(prefix) + "[a-z_]+$"] = where
    return found


def test_the_scan_sees_each_kind_of_emission() -> None:
    found = scan()
    assert "session.connected" in found.names  # Transitions._apply
    assert "message.reaction" in found.names  # a dict value indexed in emit(...)
    assert "message.send.queued" in found.names  # SQL
    assert "webhook.delivered" in found.names  # lookup(...)
    assert any(re.match(p, "call.offer") for p in found.patterns)
    assert any(re.match(p, "group.participants.add") for p in found.patterns)
    assert any(re.match(p, "message.receipt.read") for p in found.patterns)


def test_every_emitted_event_is_in_the_catalogue() -> None:
    found = scan()
    unknown = {name: where for name, where in found.names.items() if name not in CATALOGUE}
    assert not unknown, f"emitted but not in the catalogue: {unknown}"
    for pattern, where in found.patterns.items():
        assert any(re.match(pattern, name) for name in CATALOGUE), (
            f"{where}: no catalogue entry matches {pattern}"
        )


def test_every_catalogue_entry_is_emitted_somewhere() -> None:
    found = scan()
    emitted = set(found.names) | {
        name for name in CATALOGUE for p in found.patterns if re.match(p, name)
    }
    missing = set(CATALOGUE) - emitted
    assert missing == NOT_YET_EMITTED, f"catalogue entries no code emits: {sorted(missing)}"
