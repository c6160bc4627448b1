"""The standalone mode's decisions, as pure functions (its process is tested in
test_neonize_process.py)."""

from __future__ import annotations

import stat
from datetime import UTC, datetime
from pathlib import Path

from zaphubd.standalone import qr_text, reply_for, session_id_for
from zaphubd.transport.events import Connected, MessageIn
from zaphubd.transport.outbound import OutboundMessage, Quoted, Text

ANA = "5511987654321@s.whatsapp.net"


def text(body: str, **fields: object) -> MessageIn:
    values: dict[str, object] = {
        "id": "3EB0PING",
        "chat": ANA,
        "sender": ANA,
        "type": "text",
        "content": {"text": body},
        "timestamp": datetime(2026, 1, 1, tzinfo=UTC),
    }
    values.update(fields)
    return MessageIn(**values)  # type: ignore[arg-type]


def test_ping_gets_a_pong_quoting_it() -> None:
    assert reply_for(text(" Ping ")) == OutboundMessage(
        ANA, Text("pong"), quoted=Quoted("3EB0PING", ANA, " Ping ")
    )


def test_ping_in_a_group_is_answered_in_the_group() -> None:
    reply = reply_for(text("ping", chat="120363000000000001@g.us", is_group=True))
    assert reply is not None and reply.to == "120363000000000001@g.us"


def test_nothing_else_is_answered() -> None:
    assert reply_for(text("hello")) is None
    assert reply_for(text("ping", from_me=True)) is None  # our own ping from the phone
    assert reply_for(text("ping", type="image")) is None
    assert reply_for(Connected(ANA, "5511987654321")) is None


def test_qr_code_renders_for_a_terminal() -> None:
    drawing = qr_text("2@abcdef,ghijkl,mnopqr")
    assert len(drawing.splitlines()) > 10
    assert "█" in drawing or "▀" in drawing or "▄" in drawing


def test_session_id_is_created_once_and_kept(tmp_path: Path) -> None:
    auth = tmp_path / "auth"
    first = session_id_for(auth)
    assert session_id_for(auth) == first
    assert stat.S_IMODE(auth.stat().st_mode) == 0o700
    assert stat.S_IMODE((auth / "standalone-session").stat().st_mode) == 0o600
