"""Chat settings through neonize 0.5.2: app-state patches sent with `send_app_state`.

What neonize offers, read in its source:
- `client.chat_settings.put_archived / put_pinned / put_muted_until` write whatsmeow's LOCAL
  chat-settings store only (`Store.ChatSettings.Put...` in goneonize): nothing reaches
  WhatsApp or the phone. They are not used.
- `client.send_app_state(PatchInfo)` hands a patch to whatsmeow's `SendAppState`, which
  encrypts it with the account's app-state keys and sends it. The patches are built here as
  whatsmeow's `appstate.BuildArchive`, `BuildPin` and `BuildMuteAbs` build them (same
  indexes, versions and collections).
- Changes made on the phone: whatsmeow emits `events.Archive`, `Pin`, `Mute`, but neonize
  0.5.2 has no event type for them (`neonize/events.py`), so they do not reach zaphubd.

Known defect (neonize's Go bridge, `goneonize/utils` `DecodePatchInfo`): it compares the
patch's collection as a pointer and maps only CRITICAL_BLOCK, CRITICAL_UNBLOCK_LOW and
REGULAR, so whatsmeow receives an empty collection name; WhatsApp is expected to refuse such
a patch (a 502 to the API client). Unverified against real WhatsApp.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from neonize.proto.Neonize_pb2 import MutationInfo, PatchInfo
from neonize.proto.waSyncAction.WAWebProtobufSyncAction_pb2 import (
    ArchiveChatAction,
    MuteAction,
    PinAction,
    SyncActionMessageRange,
    SyncActionValue,
)

from zaphubd.transport.chats import ChatChange, Mute

#: whatsmeow's appstate index names and mutation versions.
INDEX_ARCHIVE, ARCHIVE_VERSION = "archive", 3
INDEX_PIN, PIN_VERSION = "pin_v1", 5
INDEX_MUTE, MUTE_VERSION = "mute", 2
#: MuteAction.muteEndTimestamp of a mute without end (whatsmeow's BuildMuteAbs).
MUTE_FOREVER = -1

Call = Callable[[str, Callable[[Any], Awaitable[Any]]], Awaitable[Any]]


def _archive(chat: str, archived: bool, now_s: int) -> MutationInfo:
    action = ArchiveChatAction(
        archived=archived, messageRange=SyncActionMessageRange(lastMessageTimestamp=now_s)
    )
    return MutationInfo(
        Index=[INDEX_ARCHIVE, chat],
        Version=ARCHIVE_VERSION,
        Value=SyncActionValue(archiveChatAction=action),
    )


def _pin(chat: str, pinned: bool) -> MutationInfo:
    return MutationInfo(
        Index=[INDEX_PIN, chat],
        Version=PIN_VERSION,
        Value=SyncActionValue(pinAction=PinAction(pinned=pinned)),
    )


def _mute(chat: str, mute: Mute) -> MutationInfo:
    action = MuteAction(muted=mute.muted)
    if mute.muted:
        until = mute.until
        action.muteEndTimestamp = int(until.timestamp() * 1000) if until else MUTE_FOREVER
    return MutationInfo(
        Index=[INDEX_MUTE, chat],
        Version=MUTE_VERSION,
        Value=SyncActionValue(muteAction=action),
    )


def patches(change: ChatChange, now_ns: int | None = None) -> list[PatchInfo]:
    """The patches that make `change`: archive and pin share the regular_low collection,
    mute is in regular_high (a patch holds mutations of one collection)."""
    now_ns = time.time_ns() if now_ns is None else now_ns
    low = []
    if change.archived is not None:
        low.append(_archive(change.chat, change.archived, now_ns // 1_000_000_000))
    if change.pinned is not None:
        low.append(_pin(change.chat, change.pinned))
    found = []
    if low:
        found.append(PatchInfo(Timestamp=now_ns, Type=PatchInfo.REGULAR_LOW, Mutations=low))
    if change.mute is not None:
        mute = [_mute(change.chat, change.mute)]
        found.append(PatchInfo(Timestamp=now_ns, Type=PatchInfo.REGULAR_HIGH, Mutations=mute))
    return found


class NeonizeChats:
    def __init__(self, call: Call) -> None:
        self._call = call

    async def change(self, change: ChatChange) -> None:
        for patch in patches(change):
            await self._call("chat settings", _sender(patch))


def _sender(patch: PatchInfo) -> Callable[[Any], Awaitable[Any]]:
    def send(client: Any) -> Awaitable[Any]:
        result: Awaitable[Any] = client.send_app_state(patch)
        return result

    return send
