"""Pure pieces of the chats feature: list cursors, the change as it crosses nodes and simnet's
wire, and how a change applies to the recorded settings."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from zaphubd.db.chats import ChatRow, ChatSettings
from zaphubd.db.messages import MessageRow
from zaphubd.errors import ValidationFailed
from zaphubd.http.chats import _mute, decode_cursor, encode_cursor
from zaphubd.sessions import chats as session_chats
from zaphubd.transport import simnet_chats
from zaphubd.transport.chats import ChatChange, Mute

WHEN = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)
CHAT = "120363000000000042@g.us"


def _row() -> ChatRow:
    """Only the chat and its last message's time make a cursor."""
    message = MessageRow(**dict.fromkeys(MessageRow.__slots__))  # type: ignore[arg-type]
    return ChatRow(CHAT, None, WHEN, message, ChatSettings())


def test_a_cursor_round_trips_to_the_microsecond() -> None:
    cursor = decode_cursor(encode_cursor(_row()))
    assert (cursor.last_at, cursor.chat_jid) == (WHEN, CHAT)


def _b64(value: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(value)).decode()


@pytest.mark.parametrize(
    "text",
    [
        "!!!",
        "bm90IGEgY3Vyc29y",
        _b64([1, 2, 3]),
        _b64({"a": 1, "b": 2}),
        _b64(["2026-01-01T00:00:00", CHAT]),  # no time zone
        _b64(["2026-01-01T00:00:00+00:00", 5]),
        _b64([5, CHAT]),
        _b64(["9999-12-31T23:59:59-05:00", CHAT]),  # past the end of time in UTC
        _b64(None),
    ],
)
def test_a_cursor_this_api_did_not_give_is_a_400(text: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        decode_cursor(text)
    assert caught.value.details == {"cursor": ["not a cursor of this list"]}


def test_the_mute_fields_of_a_patch() -> None:
    soon = datetime.now(UTC) + timedelta(hours=1)
    assert _mute({}) == (None, None)
    assert _mute({"muted": True}) == (True, None)
    assert _mute({"muted": False}) == (False, None)
    assert _mute({"mutedUntil": None}) == (False, None)
    assert _mute({"muted": True, "mutedUntil": None}) == (True, None)
    assert _mute({"mutedUntil": soon}) == (True, soon)
    with pytest.raises(ValidationFailed):
        _mute({"mutedUntil": datetime.now(UTC) - timedelta(seconds=1)})


@pytest.mark.parametrize(
    "change",
    [
        ChatChange(CHAT, archived=True, pinned=False),
        ChatChange(CHAT, mute=Mute(True, WHEN)),
        ChatChange(CHAT, mute=Mute(True)),
        ChatChange(CHAT, pinned=True, mute=Mute(False)),
    ],
)
def test_a_change_crosses_nodes_and_simnet_unchanged(change: ChatChange) -> None:
    assert session_chats.decode(orjson.loads(orjson.dumps(session_chats.encode(change)))) == change
    frame = orjson.loads(orjson.dumps(simnet_chats.encode(change)))
    told = simnet_chats.decode(frame).change
    if change.mute is None:
        assert told.mute is None
    else:  # simnet speaks milliseconds
        until = change.mute.until.replace(microsecond=891000) if change.mute.until else None
        assert told.mute == Mute(change.mute.muted, until)
    assert (told.chat, told.archived, told.pinned) == (change.chat, change.archived, change.pinned)


def test_a_change_applies_only_what_it_names() -> None:
    current = ChatSettings(archived=True, muted=True, muted_until=WHEN)
    assert session_chats.applied(current, ChatChange(CHAT, pinned=True)) == ChatSettings(
        archived=True, pinned=True, muted=True, muted_until=WHEN
    )
    assert session_chats.applied(current, ChatChange(CHAT, mute=Mute(False))) == ChatSettings(
        archived=True
    )
