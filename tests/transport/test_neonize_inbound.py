"""neonize events in, normalised events out: real protobufs through neonize's own dispatcher.

Each event is serialised and handed to `client.event.execute` on a foreign thread, exactly
as Go does; neonize parses it and schedules our handler on the loop. All tests share the
session-scoped event loop, because neonize delivers events to one loop per process.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from neonize.proto import Neonize_pb2 as npb
from neonize.proto.waCommon.WACommon_pb2 import MessageKey
from neonize.proto.waE2E import WAWebProtobufsE2E_pb2 as wa

from tests.transport.conftest import Session, deliver, device, jid, message_event, source
from zaphubd.transport.events import (
    Call,
    ChatPresence,
    Connected,
    GroupChange,
    HistorySync,
    KeepAlive,
    MediaRef,
    MessageIn,
    MessageUnreadable,
    Presence,
    Receipt,
)
from zaphubd.transport.neonize_inbound import media_message

pytestmark = pytest.mark.asyncio(loop_scope="session")

ANA = "5511987654321@s.whatsapp.net"
WHEN = datetime(2026, 1, 1, tzinfo=UTC)
MEDIA = {
    "URL": "https://mmg.whatsapp.net/v/t62/abc",
    "directPath": "/v/t62/abc",
    "mediaKey": b"k" * 32,
    "fileSHA256": b"\x01" * 32,
    "fileEncSHA256": b"\x02" * 32,
    "fileLength": 2048,
}


async def test_connected_reports_the_account(session: Session) -> None:
    attempt = session.attempt()
    deliver(attempt.client, device("5511900000001", "Zap Hub"))
    (event,) = await session.feed(attempt, npb.Connected(status=True))
    assert event == Connected("5511900000001@s.whatsapp.net", "5511900000001", "Zap Hub")
    assert session.client.is_connected


async def received(session: Session, content: Any, **kwargs: Any) -> MessageIn:
    attempt = await session.connected()
    (event,) = await session.feed(attempt, message_event(content, **kwargs))
    assert isinstance(event, MessageIn)
    return event


async def test_plain_text(session: Session) -> None:
    message = await received(session, wa.Message(conversation="hello"))
    assert message == MessageIn(
        id="3EB0ABCDEF",
        chat=ANA,
        sender=ANA,
        type="text",
        content={"text": "hello"},
        timestamp=WHEN,
        push_name="Ana",
    )


async def test_extended_text_with_quote_and_mentions(session: Session) -> None:
    context = wa.ContextInfo(
        stanzaID="3EB0QUOTED",
        participant=ANA,
        quotedMessage=wa.Message(conversation="earlier"),
        mentionedJID=["5511911111111@s.whatsapp.net", "5511922222222@s.whatsapp.net"],
    )
    content = wa.Message(
        extendedTextMessage=wa.ExtendedTextMessage(text="hi @5511911111111", contextInfo=context)
    )
    message = await received(session, content)
    assert message.type == "text"
    assert message.content == {"text": "hi @5511911111111"}
    assert message.quoted_id == "3EB0QUOTED"
    assert message.mentions == ("5511911111111@s.whatsapp.net", "5511922222222@s.whatsapp.net")


async def test_group_message_from_a_lid_sender_carries_the_phone_alternative(
    session: Session,
) -> None:
    src = source(
        jid("120363000000000001", "g.us"),
        jid("987654321012345", "lid", device=2),
        group=True,
        sender_alt=jid("5511987654321"),
    )
    message = await received(session, wa.Message(conversation="from a lid"), src=src)
    assert message.chat == "120363000000000001@g.us"
    assert message.sender == "987654321012345@lid"
    assert message.sender_alt == ANA
    assert message.is_group


async def test_own_message_sent_from_the_phone(session: Session) -> None:
    src = source(jid("5511987654321"), jid("5511900000001", device=0), from_me=True)
    message = await received(session, wa.Message(conversation="mine"), src=src)
    assert message.from_me
    assert message.sender == "5511900000001@s.whatsapp.net"
    assert message.sender_alt is None


@pytest.mark.parametrize(
    ("field", "sub", "kind", "extra"),
    [
        (
            "imageMessage",
            wa.ImageMessage(mimetype="image/jpeg", caption="a photo", **MEDIA),
            "image",
            {"caption": "a photo"},
        ),
        (
            "videoMessage",
            wa.VideoMessage(mimetype="video/mp4", caption="clip", gifPlayback=True, **MEDIA),
            "video",
            {"caption": "clip", "gifPlayback": True},
        ),
        (
            "audioMessage",
            wa.AudioMessage(mimetype="audio/ogg; codecs=opus", PTT=True, **MEDIA),
            "audio",
            {"caption": None, "ptt": True},
        ),
        (
            "documentMessage",
            wa.DocumentMessage(mimetype="application/pdf", fileName="report.pdf", **MEDIA),
            "document",
            {"caption": None, "fileName": "report.pdf"},
        ),
        (
            "stickerMessage",
            wa.StickerMessage(mimetype="image/webp", **MEDIA),
            "sticker",
            {"caption": None},
        ),
    ],
)
async def test_media_message_and_its_download_token(
    session: Session, field: str, sub: Any, kind: str, extra: dict[str, Any]
) -> None:
    content = wa.Message()
    getattr(content, field).CopyFrom(sub)
    message = await received(session, content)
    assert message.type == kind
    assert message.content == {
        "mimeType": sub.mimetype,
        "size": 2048,
        "sha256": "01" * 32,
        **extra,
    }
    ref = message.media
    assert isinstance(ref, MediaRef)
    assert (ref.kind, ref.mime_type, ref.size) == (kind, sub.mimetype, 2048)
    # The token is JSON-safe and rebuilds what download_any needs.
    rebuilt = media_message(ref.token)
    again = getattr(rebuilt, field)
    for name, value in MEDIA.items():
        assert getattr(again, name) == value
    assert again.mimetype == sub.mimetype


async def test_location(session: Session) -> None:
    location = wa.LocationMessage(
        degreesLatitude=-23.55, degreesLongitude=-46.63, name="Sé", address="Praça da Sé"
    )
    message = await received(session, wa.Message(locationMessage=location))
    assert message.type == "location"
    assert message.content == {
        "latitude": -23.55,
        "longitude": -46.63,
        "name": "Sé",
        "address": "Praça da Sé",
    }


async def test_contact_card(session: Session) -> None:
    vcard = "BEGIN:VCARD\nVERSION:3.0\nFN:Bia\nTEL:+5511933333333\nEND:VCARD"
    contact = wa.ContactMessage(displayName="Bia", vcard=vcard)
    message = await received(session, wa.Message(contactMessage=contact))
    assert message.type == "contact"
    assert message.content == {"displayName": "Bia", "vcard": vcard}


@pytest.mark.parametrize("field", ["pollCreationMessage", "pollCreationMessageV3"])
async def test_poll_creation(session: Session, field: str) -> None:
    poll = wa.PollCreationMessage(
        name="Lunch?",
        options=[wa.PollCreationMessage.Option(optionName=n) for n in ("pizza", "sushi")],
        selectableOptionsCount=1,
    )
    content = wa.Message()
    getattr(content, field).CopyFrom(poll)
    message = await received(session, content)
    assert message.type == "poll"
    assert message.content == {
        "name": "Lunch?",
        "options": ["pizza", "sushi"],
        "selectableCount": 1,
    }


async def test_reaction(session: Session) -> None:
    key = MessageKey(remoteJID=ANA, fromMe=True, ID="3EB0TARGET")
    reaction = wa.ReactionMessage(key=key, text="👍", senderTimestampMS=1)
    message = await received(session, wa.Message(reactionMessage=reaction))
    assert message.type == "reaction"
    assert message.content == {"messageId": "3EB0TARGET", "emoji": "👍"}


async def test_edit(session: Session) -> None:
    protocol = wa.ProtocolMessage(
        key=MessageKey(remoteJID=ANA, fromMe=False, ID="3EB0TARGET"),
        type=wa.ProtocolMessage.MESSAGE_EDIT,
        editedMessage=wa.Message(conversation="fixed typo"),
    )
    message = await received(session, wa.Message(protocolMessage=protocol))
    assert message.type == "edit"
    assert message.content == {"messageId": "3EB0TARGET", "text": "fixed typo"}


async def test_revoke(session: Session) -> None:
    protocol = wa.ProtocolMessage(
        key=MessageKey(remoteJID=ANA, fromMe=False, ID="3EB0TARGET"),
        type=wa.ProtocolMessage.REVOKE,
    )
    message = await received(session, wa.Message(protocolMessage=protocol))
    assert message.type == "revoke"
    assert message.content == {"messageId": "3EB0TARGET"}


async def test_unknown_content_is_reported_and_plumbing_is_not(session: Session) -> None:
    attempt = await session.connected()
    plumbing = wa.Message(
        senderKeyDistributionMessage=wa.SenderKeyDistributionMessage(groupID="g"),
        protocolMessage=wa.ProtocolMessage(type=wa.ProtocolMessage.APP_STATE_SYNC_KEY_SHARE),
    )
    unknown = wa.Message(groupInviteMessage=wa.GroupInviteMessage(groupJID="1@g.us"))
    deliver(attempt.client, message_event(plumbing, msg_id="PLUMBING"))
    (event,) = await session.feed(attempt, message_event(unknown, msg_id="UNKNOWN"))
    assert isinstance(event, MessageIn)
    assert (event.id, event.type, event.content) == (
        "UNKNOWN",
        "unknown",
        {"kind": "groupInviteMessage"},
    )


async def test_events_keep_their_order(session: Session) -> None:
    attempt = await session.connected()
    for number in range(40):
        deliver(
            attempt.client, message_event(wa.Message(conversation=str(number)), msg_id=str(number))
        )
    before = len(session.events)
    await session.feed(attempt, message_event(wa.Message(conversation="last"), msg_id="last"))
    ids = [e.id for e in session.events if isinstance(e, MessageIn)]
    assert ids[-41:] == [str(n) for n in range(40)] + ["last"]
    assert len(session.events) >= before


@pytest.mark.parametrize(
    ("wire_type", "kind"),
    [
        (npb.Receipt.DELIVERED, "delivered"),
        (npb.Receipt.READ, "read"),
        (npb.Receipt.PLAYED, "played"),
    ],
)
async def test_receipts(session: Session, wire_type: int, kind: str) -> None:
    attempt = await session.connected()
    receipt = npb.Receipt(
        MessageSource=source(
            jid("120363000000000001", "g.us"), jid("5511987654321", device=2), group=True
        ),
        MessageIDs=["3EB0A", "3EB0B"],
        Timestamp=1_767_225_600,
        Type=wire_type,
    )
    (event,) = await session.feed(attempt, receipt)
    assert event == Receipt(
        message_ids=("3EB0A", "3EB0B"),
        chat="120363000000000001@g.us",
        sender=ANA,
        type=kind,  # type: ignore[arg-type]
        timestamp=WHEN,
        participant=ANA,
    )


async def test_own_device_receipts_are_not_reported(session: Session) -> None:
    attempt = await session.connected()
    sender = npb.Receipt(
        MessageSource=source(jid("5511987654321"), jid("5511900000001", device=3)),
        MessageIDs=["3EB0A"],
        Timestamp=1_767_225_600,
        Type=npb.Receipt.SENDER,
    )
    deliver(attempt.client, sender)
    (event,) = await session.feed(
        attempt, npb.Presence(From=jid("5511987654321"), Unavailable=False, LastSeen=0)
    )
    assert isinstance(event, Presence)


async def test_presence(session: Session) -> None:
    attempt = await session.connected()
    away = npb.Presence(From=jid("5511987654321"), Unavailable=True, LastSeen=1_767_225_600)
    (event,) = await session.feed(attempt, away)
    assert event == Presence(jid=ANA, available=False, last_seen=WHEN)
    online = npb.Presence(From=jid("5511987654321"), Unavailable=False, LastSeen=-62135596800)
    (event,) = await session.feed(attempt, online)
    assert event == Presence(jid=ANA, available=True, last_seen=None)


@pytest.mark.parametrize(
    ("state", "media", "expected"),
    [
        (npb.ChatPresence.COMPOSING, npb.ChatPresence.TEXT, "composing"),
        (npb.ChatPresence.COMPOSING, npb.ChatPresence.AUDIO, "recording"),
        (npb.ChatPresence.PAUSED, npb.ChatPresence.TEXT, "paused"),
    ],
)
async def test_chat_presence(session: Session, state: int, media: int, expected: str) -> None:
    attempt = await session.connected()
    typing = npb.ChatPresence(
        MessageSource=source(jid("5511987654321"), jid("5511987654321")), State=state, Media=media
    )
    (event,) = await session.feed(attempt, typing)
    assert event == ChatPresence(chat=ANA, sender=ANA, state=expected)  # type: ignore[arg-type]


def call_meta(call_id: str = "CALL1") -> Any:
    return npb.BasicCallMeta(
        **{"from": jid("5511987654321", device=4)},
        timestamp=1_767_225_600,
        callCreator=jid("5511987654321", device=4),
        callCreatorAlt=jid("987654321012345", "lid"),
        callID=call_id,
    )


def node(tag: str, children: tuple[str, ...] = (), attrs: tuple[str, ...] = ()) -> Any:
    return npb.Node(
        Tag=tag,
        Nodes=[npb.Node(Tag=child) for child in children],
        Attrs=[npb.NodeAttrs(name=name, text="x") for name in attrs],
    )


async def test_calls(session: Session) -> None:
    attempt = await session.connected()
    remote = npb.CallRemoteMeta(remotePlatform="android", remoteVersion="2.25")
    offer = npb.CallOffer(
        basicCallMeta=call_meta(), callRemoteMeta=remote, data=node("offer", ("video",))
    )
    accept = npb.CallAccept(basicCallMeta=call_meta(), callRemoteMeta=remote, data=node("accept"))
    end = npb.CallTerminate(basicCallMeta=call_meta(), reason="timeout", data=node("terminate"))
    group_offer = npb.CallOffer(
        basicCallMeta=call_meta("CALL2"),
        callRemoteMeta=remote,
        data=node("offer", ("audio",), ("group-jid",)),
    )
    events = [(await session.feed(attempt, ev))[0] for ev in (offer, accept, end, group_offer)]
    assert events == [
        Call("CALL1", ANA, "offer", WHEN, is_video=True),
        Call("CALL1", ANA, "accept", WHEN),
        Call("CALL1", ANA, "terminate", WHEN, reason="timeout"),
        Call("CALL2", ANA, "offer", WHEN, is_group=True),
    ]


def group_info(**fields: Any) -> Any:
    return npb.GroupInfoEvent(
        JID=jid("120363000000000001", "g.us"),
        Notify="",
        Sender=jid("5511987654321"),
        Timestamp=1_767_225_600,
        PrevParticipantsVersionID="",
        ParticipantVersionID="",
        JoinReason="",
        **fields,
    )


async def test_group_participant_changes_and_subject(session: Session) -> None:
    attempt = await session.connected()
    bia, caio = jid("5511933333333"), jid("5511944444444")
    name = npb.GroupName(Name="Friends", NameSetAt=1, NameSetBy=jid("5511987654321"))
    change = group_info(Join=[bia], Leave=[caio], Promote=[bia], Demote=[caio], Name=name)
    events = await session.feed(attempt, change, count=5)
    group = "120363000000000001@g.us"
    b, c = "5511933333333@s.whatsapp.net", "5511944444444@s.whatsapp.net"
    assert events == [
        GroupChange(group, "add", (b,), ANA),
        GroupChange(group, "remove", (c,), ANA),
        GroupChange(group, "promote", (b,), ANA),
        GroupChange(group, "demote", (c,), ANA),
        GroupChange(group, "subject", by=ANA, subject="Friends"),
    ]


async def test_group_settings_change(session: Session) -> None:
    attempt = await session.connected()
    topic = npb.GroupTopic(
        Topic="rules",
        TopicID="t1",
        TopicSetAt=1,
        TopicSetBy=jid("5511987654321"),
        TopicDeleted=False,
    )
    change = group_info(Topic=topic, Locked=npb.GroupLocked(isLocked=True))
    (event,) = await session.feed(attempt, change)
    assert event == GroupChange(
        "120363000000000001@g.us",
        "update",
        by=ANA,
        details={"description": "rules", "locked": True},
    )


async def test_joined_group(session: Session) -> None:
    attempt = await session.connected()
    participant = npb.GroupParticipant(
        JID=jid("5511987654321"),
        LID=jid("987654321012345", "lid"),
        PhoneNumber=jid("5511987654321"),
        IsAdmin=True,
        IsSuperAdmin=False,
        DisplayName="",
        Error=0,
    )
    info = npb.GroupInfo(
        OwnerJID=jid("5511987654321"),
        JID=jid("120363000000000001", "g.us"),
        OwnerPN=jid("5511987654321"),
        GroupName=npb.GroupName(Name="Friends", NameSetAt=1, NameSetBy=jid("5511987654321")),
        GroupTopic=npb.GroupTopic(
            Topic="", TopicID="", TopicSetAt=0, TopicSetBy=jid("5511987654321"), TopicDeleted=False
        ),
        GroupLocked=npb.GroupLocked(isLocked=False),
        GroupAnnounce=npb.GroupAnnounce(IsAnnounce=False, AnnounceVersionID=""),
        GroupEphemeral=npb.GroupEphemeral(IsEphemeral=False, DisappearingTimer=0),
        GroupIncognito=npb.GroupIncognito(IsIncognito=False),
        GroupParent=npb.GroupParent(IsParent=False, DefaultMembershipApprovalMode=""),
        GroupLinkedParent=npb.GroupLinkedParent(LinkedParentJID=jid("", "g.us")),
        GroupIsDefaultSub=npb.GroupIsDefaultSub(IsDefaultSubGroup=False),
        GroupCreated=1.0,
        ParticipantVersionID="",
        Participants=[participant],
    )
    joined = npb.JoinedGroup(Reason="invite", Type="new", CreateKey="", GroupInfo=info)
    (event,) = await session.feed(attempt, joined)
    assert event == GroupChange(
        "120363000000000001@g.us",
        "joined",
        participants=(ANA,),
        subject="Friends",
        details={"reason": "invite", "type": "new"},
    )


async def test_keepalive(session: Session) -> None:
    attempt = await session.connected()
    lost = npb.KeepAliveTimeout(ErrorCount=2, LastSuccess=1_767_225_600)
    assert await session.feed(attempt, lost) == [KeepAlive(ok=False)]
    assert await session.feed(attempt, npb.KeepAliveRestored()) == [KeepAlive(ok=True)]


# -- messages that cannot be read ---------------------------------------------------------


@pytest.mark.parametrize(
    ("unavailable", "detail"),
    [(False, "the sender was asked to send it again"), (True, "not available on this device")],
)
async def test_an_undecryptable_message_is_reported_not_dropped(
    session: Session, unavailable: bool, detail: str
) -> None:
    attempt = await session.connected()
    info = message_event(wa.Message(conversation="")).Info
    info.ID = "3EB0UNDECRYPTABLE"
    ev = npb.UndecryptableMessage(Info=info, IsUnavailable=unavailable, DecryptFailMode=1)
    (event,) = await session.feed(attempt, ev)
    assert isinstance(event, MessageUnreadable)
    assert (event.id, event.reason) == ("3EB0UNDECRYPTABLE", "undecryptable")
    assert event.sender == "5511987654321@s.whatsapp.net"
    assert event.chat == "5511987654321@s.whatsapp.net"
    assert detail in event.detail


async def test_a_message_the_mapper_cannot_read_is_reported_as_unsupported(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    from zaphubd.transport import neonize_inbound

    def broken(message: Any) -> Any:
        raise IndexError("a shape nobody has seen")

    monkeypatch.setattr(neonize_inbound, "decode_content", broken)
    attempt = await session.connected()
    (event,) = await session.feed(attempt, message_event(wa.Message(conversation="hi")))
    assert isinstance(event, MessageUnreadable)
    assert (event.id, event.reason) == ("3EB0ABCDEF", "unsupported")
    assert "IndexError" in event.detail and "hi" not in event.detail  # never the body


# -- history sync -------------------------------------------------------------------------


async def test_a_history_sync_chunk_becomes_past_messages_and_lid_mappings(
    session: Session,
) -> None:
    from neonize.proto.waHistorySync import WAWebProtobufsHistorySync_pb2 as hs
    from neonize.proto.waWeb import WAWebProtobufsWeb_pb2 as web

    def past(msg_id: str, text: str, from_me: bool = False, chat: str = ANA) -> Any:
        return hs.HistorySyncMsg(
            message=web.WebMessageInfo(
                key=MessageKey(remoteJID=chat, fromMe=from_me, ID=msg_id),
                message=wa.Message(conversation=text),
                messageTimestamp=1_767_225_600,
                pushName="Ana",
            )
        )

    plumbing = hs.HistorySyncMsg(
        message=web.WebMessageInfo(
            key=MessageKey(remoteJID=ANA, fromMe=False, ID="3EB0KEYS"),
            message=wa.Message(
                senderKeyDistributionMessage=wa.SenderKeyDistributionMessage(groupID="x")
            ),
            messageTimestamp=1_767_225_600,
        )
    )
    data = hs.HistorySync(
        syncType=hs.HistorySync.INITIAL_BOOTSTRAP,
        conversations=[
            hs.Conversation(ID=ANA, messages=[past("3EB0OLD1", "old"), plumbing]),
            hs.Conversation(ID=ANA, messages=[past("3EB0OLD2", "mine", from_me=True)]),
        ],
        phoneNumberToLidMappings=[
            hs.PhoneNumberToLIDMapping(pnJID=ANA, lidJID="987654321012345@lid")
        ],
    )
    attempt = await session.connected()
    (event,) = await session.feed(attempt, npb.HistorySync(Data=data))
    assert isinstance(event, HistorySync)
    assert event.conversations == 2
    assert [(m.id, m.content, m.from_me, m.history) for m in event.messages] == [
        ("3EB0OLD1", {"text": "old"}, False, True),
        ("3EB0OLD2", {"text": "mine"}, True, True),
    ]
    assert event.messages[0].sender == ANA and event.messages[0].chat == ANA
    mine = event.messages[1]  # sent by the account itself, as whatsmeow's ParseWebMessage
    assert mine.sender == "5511900000001@s.whatsapp.net" and mine.chat == ANA
    assert event.lid_mappings == (("987654321012345@lid", ANA),)
