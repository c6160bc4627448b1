"""Message actions on neonize 0.5.2, below the network: the protobufs we build for edits,
revokes and forwards (checked against neonize's own builders), what the client hands to Go
for them (the real neonize client, its Go calls recorded), and inbound edits and revokes
parsed from real protobufs."""

from __future__ import annotations

from typing import Any

import pytest
from neonize.builder import build_edit, build_revoke
from neonize.proto.waCommon.WACommon_pb2 import MessageKey
from neonize.proto.waE2E import WAWebProtobufsE2E_pb2 as wa

from tests.transport.conftest import GoRecorder, Session, jid, message_event, source
from tests.transport.test_neonize_lifecycle import send_response
from zaphubd.transport.neonize_inbound import map_message
from zaphubd.transport.neonize_outbound import build_message, parse_jid
from zaphubd.transport.outbound import (
    Contact,
    Edit,
    Location,
    Media,
    OutboundMessage,
    Poll,
    Quoted,
    Revoke,
    Text,
)

ANA = "5511987654321@s.whatsapp.net"
ME = "5511900000001@s.whatsapp.net"
GROUP = "120363000000000001@g.us"


class Upload:
    url, DirectPath, MediaKey = "https://mmg/x", "/x", b"k" * 32
    FileEncSHA256, FileSHA256, FileLength = b"e" * 32, b"s" * 32, 3


def _without_time(message: Any) -> Any:
    copy = wa.Message()
    copy.CopyFrom(message)
    copy.editedMessage.message.protocolMessage.ClearField("timestampMS")
    return copy


def test_an_edit_is_what_neonizes_build_edit_makes() -> None:
    ours = build_message(OutboundMessage(ANA, Edit("3EB0ORIG", "new text")), now_ms=5)
    theirs = build_edit(parse_jid(ANA), "3EB0ORIG", wa.Message(conversation="new text"))
    assert _without_time(ours) == _without_time(theirs)
    protocol = ours.editedMessage.message.protocolMessage
    assert protocol.type == wa.ProtocolMessage.MESSAGE_EDIT and protocol.timestampMS == 5
    assert (protocol.key.ID, protocol.key.fromMe, protocol.key.remoteJID) == ("3EB0ORIG", True, ANA)


def test_a_revoke_is_what_neonizes_build_revoke_makes() -> None:
    ours = build_message(OutboundMessage(ANA, Revoke("3EB0ORIG")))
    theirs = build_revoke(parse_jid(ANA), parse_jid(ME), "3EB0ORIG", parse_jid(ME))
    assert ours == theirs
    admin = build_message(OutboundMessage(GROUP, Revoke("3EB0M", from_me=False, participant=ANA)))
    theirs = build_revoke(parse_jid(GROUP), parse_jid(ANA), "3EB0M", parse_jid(ME))
    assert admin == theirs
    assert admin.protocolMessage.type == wa.ProtocolMessage.REVOKE
    assert (admin.protocolMessage.key.participant, admin.protocolMessage.key.fromMe) == (ANA, False)


CONTENTS = [
    Text("hi"),
    Media("image", b"png", "image/png", caption="c"),
    Media("document", b"pdf", "application/pdf", file_name="a.pdf"),
    Location(1.0, 2.0),
    Contact("Bo", "BEGIN:VCARD\nEND:VCARD"),
    Poll("Q", ("a", "b")),
]


@pytest.mark.parametrize("content", CONTENTS, ids=lambda c: type(c).__name__)
def test_replies_mentions_and_forwards_carry_their_context_on_every_type(content: Any) -> None:
    message = OutboundMessage(ANA, content, quoted=Quoted("3EB0Q"), mentions=(ME,), forwarded=True)
    built = build_message(message, upload=Upload(), secret=b"s" * 32)
    (field, sub), *_ = [
        (f.name, v) for f, v in built.ListFields() if f.name != "messageContextInfo"
    ]
    context = sub.contextInfo
    assert (context.stanzaID, list(context.mentionedJID)) == ("3EB0Q", [ME]), field
    assert context.isForwarded and context.forwardingScore == 1, field


def test_a_forwarded_text_is_extended_text() -> None:
    built = build_message(OutboundMessage(ANA, Text("fw"), forwarded=True))
    assert built.extendedTextMessage.text == "fw"
    assert built.extendedTextMessage.contextInfo.isForwarded


@pytest.mark.asyncio(loop_scope="session")  # neonize delivers to one loop per process
async def test_edits_and_revokes_go_to_whatsmeow_through_send_message(
    session: Session, go: GoRecorder
) -> None:
    go.fakes["SendMessage"] = lambda *args: send_response("3EB0EDIT")
    await session.connected()
    result = await session.client.send(OutboundMessage(ANA, Edit("3EB0ORIG", "again")), None)
    assert result.message_id == "3EB0EDIT"
    await session.client.send(OutboundMessage(GROUP, Revoke("3EB0M", False, ANA)), None)
    edit_call, revoke_call = go.named("SendMessage")
    edit = wa.Message.FromString(edit_call.args[3]).editedMessage.message.protocolMessage
    assert (edit.type, edit.editedMessage.conversation) == (
        wa.ProtocolMessage.MESSAGE_EDIT,
        "again",
    )
    revoke = wa.Message.FromString(revoke_call.args[3]).protocolMessage
    assert (revoke.type, revoke.key.participant) == (wa.ProtocolMessage.REVOKE, ANA)
    assert go.named("GetMe") == []  # neonize's own build_revoke would ask (hazard 2)


def _protocol(kind: int, **key: Any) -> Any:
    return wa.Message(protocolMessage=wa.ProtocolMessage(type=kind, key=MessageKey(**key)))


def test_an_inbound_edit_names_the_message_and_its_new_text() -> None:
    inner = _protocol(wa.ProtocolMessage.MESSAGE_EDIT, remoteJID=ANA, fromMe=False, ID="3EB0O")
    inner.protocolMessage.editedMessage.CopyFrom(wa.Message(conversation="fixed"))
    for content in (inner, wa.Message(editedMessage=wa.FutureProofMessage(message=inner))):
        (event,) = map_message(message_event(content, msg_id="3EB0E"))
        assert (event.type, event.content) == ("edit", {"messageId": "3EB0O", "text": "fixed"})


def test_an_admins_inbound_revoke_names_the_author() -> None:
    content = _protocol(
        wa.ProtocolMessage.REVOKE, remoteJID=GROUP, fromMe=False, ID="3EB0O", participant=ANA
    )
    src = source(jid("120363000000000001", "g.us"), jid("5511911112222"), group=True)
    (event,) = map_message(message_event(content, src=src))
    assert (event.type, event.content) == ("revoke", {"messageId": "3EB0O", "participant": ANA})


def test_an_inbound_forward_is_flagged() -> None:
    context = wa.ContextInfo(isForwarded=True, forwardingScore=2)
    content = wa.Message(extendedTextMessage=wa.ExtendedTextMessage(text="fw", contextInfo=context))
    (event,) = map_message(message_event(content))
    assert event.forwarded and event.content == {"text": "fw"}


def test_a_reply_to_our_own_message_names_the_account_as_its_author() -> None:
    ours = OutboundMessage(ANA, Text("re"), quoted=Quoted("3EB0MINE", from_me=True))
    context = build_message(ours, me=ME).extendedTextMessage.contextInfo
    assert (context.stanzaID, context.participant) == ("3EB0MINE", ME)
    theirs = OutboundMessage(ANA, Text("re"), quoted=Quoted("3EB0THEIRS"))
    assert build_message(theirs, me=ME).extendedTextMessage.contextInfo.participant == ANA
