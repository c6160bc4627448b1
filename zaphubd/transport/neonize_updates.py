"""Receipts, presence, calls and group changes from neonize: pure mappers (see
`neonize_inbound` for messages, JIDs and times)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from zaphubd.transport.events import (
    Call,
    CallAction,
    ChatPresence,
    ChatPresenceState,
    GroupAction,
    GroupChange,
    Presence,
    Receipt,
    ReceiptType,
    TransportEvent,
)
from zaphubd.transport.neonize_inbound import Mapper, jid_text, optional_jid, to_datetime

# neonize enum numbers (Neonize.proto); the enum classes live on the protobuf messages.
_RECEIPT_TYPES: dict[int, ReceiptType] = {1: "delivered", 4: "read", 6: "played"}
_CHAT_COMPOSING, _CHAT_PAUSED, _MEDIA_AUDIO = 1, 2, 2


def _text(value: str) -> str | None:
    return value or None


def _optional_time(value: int) -> datetime | None:
    # whatsmeow's zero time encodes as a large negative number of seconds.
    return to_datetime(value) if value > 0 else None


# -- receipts, presence, calls -----------------------------------------------------------


def map_receipt(ev: Any) -> list[TransportEvent]:
    """Delivered, read and played receipts; our own devices' and retry receipts are not."""
    kind = _RECEIPT_TYPES.get(ev.Type)
    if kind is None:
        return []
    source = ev.MessageSource
    sender = jid_text(source.Sender)
    receipt = Receipt(
        message_ids=tuple(ev.MessageIDs),
        chat=jid_text(source.Chat),
        sender=sender,
        type=kind,
        timestamp=to_datetime(ev.Timestamp),
        participant=sender if source.IsGroup else None,
    )
    return [receipt]


def map_presence(ev: Any) -> list[TransportEvent]:
    presence = Presence(
        jid=jid_text(ev.From),
        available=not ev.Unavailable,
        last_seen=_optional_time(ev.LastSeen),
    )
    return [presence]


def map_chat_presence(ev: Any) -> list[TransportEvent]:
    state: ChatPresenceState
    if ev.State == _CHAT_PAUSED:
        state = "paused"
    elif ev.State == _CHAT_COMPOSING:
        state = "recording" if ev.Media == _MEDIA_AUDIO else "composing"
    else:
        return []
    source = ev.MessageSource
    return [ChatPresence(chat=jid_text(source.Chat), sender=jid_text(source.Sender), state=state)]


def call_mapper(action: CallAction) -> Mapper:
    """A mapper for `CallOfferEv` (offer), `CallAcceptEv` (accept), `CallTerminateEv`."""

    def map_call(ev: Any) -> list[TransportEvent]:
        meta = ev.basicCallMeta
        # `from` is a Python keyword, hence getattr.
        creator = meta.callCreator if meta.callCreator.User else getattr(meta, "from")
        call = Call(
            call_id=meta.callID,
            caller=jid_text(creator),
            action=action,
            timestamp=to_datetime(meta.timestamp),
            is_video=_has_child(ev.data, "video"),
            is_group=_has_attr(ev.data, "group-jid"),
            reason=_text(ev.reason) if action == "terminate" else None,
        )
        return [call]

    return map_call


def _has_child(node: Any, tag: str) -> bool:
    return any(child.Tag == tag for child in node.Nodes)


def _has_attr(node: Any, name: str) -> bool:
    return any(attr.name == name for attr in node.Attrs)


# -- groups ------------------------------------------------------------------------------


def map_joined_group(ev: Any) -> list[TransportEvent]:
    info = ev.GroupInfo
    participants = tuple(jid_text(p.JID) for p in info.Participants if p.HasField("JID"))
    change = GroupChange(
        group=jid_text(info.JID),
        action="joined",
        participants=participants,
        by=optional_jid(ev.Sender) if ev.HasField("Sender") else None,
        subject=_text(info.GroupName.Name),
        details={"reason": ev.Reason, "type": ev.Type},
    )
    return [change]


def map_group_info(ev: Any) -> list[TransportEvent]:
    """One `GroupChange` per kind of change a `GroupInfoEv` carries."""
    group = jid_text(ev.JID)
    by = optional_jid(ev.Sender) if ev.HasField("Sender") else None
    changes: list[TransportEvent] = []
    lists: tuple[tuple[GroupAction, Any], ...] = (
        ("add", ev.Join),
        ("remove", ev.Leave),
        ("promote", ev.Promote),
        ("demote", ev.Demote),
    )
    for action, jids in lists:
        if jids:
            who = tuple(jid_text(jid) for jid in jids)
            details = {"reason": ev.JoinReason} if action == "add" and ev.JoinReason else {}
            changes.append(GroupChange(group, action, who, by, details=details))
    if ev.HasField("Name"):
        changes.append(GroupChange(group, "subject", by=by, subject=ev.Name.Name))
    details = _group_settings(ev)
    if details:
        changes.append(GroupChange(group, "update", by=by, details=details))
    return changes


def _group_settings(ev: Any) -> dict[str, Any]:
    details: dict[str, Any] = {}
    if ev.HasField("Topic"):
        details["description"] = "" if ev.Topic.TopicDeleted else ev.Topic.Topic
    if ev.HasField("Locked"):
        details["locked"] = ev.Locked.isLocked
    if ev.HasField("Announce"):
        details["announce"] = ev.Announce.IsAnnounce
    if ev.HasField("Ephemeral"):
        timer = ev.Ephemeral.DisappearingTimer if ev.Ephemeral.IsEphemeral else 0
        details["ephemeralTimerS"] = timer
    if ev.HasField("Delete"):
        details["deleted"] = ev.Delete.Deleted
    if ev.HasField("NewInviteLink"):
        details["inviteLink"] = ev.NewInviteLink
    return details
