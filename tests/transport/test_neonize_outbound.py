"""Every outbound content as the waE2E protobuf neonize will send: pure builders, no network.

Media cannot be uploaded offline, so the media messages are built from an `UploadResponse`
constructed here, which is exactly what neonize's `upload()` returns.
"""

from __future__ import annotations

import io

import pytest
from neonize.proto import Neonize_pb2 as npb
from PIL import Image

from zaphubd.transport.neonize_outbound import (
    InvalidRecipient,
    build_message,
    image_facts,
    parse_jid,
)
from zaphubd.transport.outbound import (
    Contact,
    Location,
    Media,
    OutboundMessage,
    Poll,
    Quoted,
    Reaction,
    Text,
)

ANA = "5511987654321@s.whatsapp.net"
GROUP = "120363000000000001@g.us"
UPLOAD = npb.UploadResponse(
    url="https://mmg.whatsapp.net/v/t62/abc",
    DirectPath="/v/t62/abc",
    Handle="",
    MediaKey=b"k" * 32,
    FileEncSHA256=b"\x02" * 32,
    FileSHA256=b"\x01" * 32,
    FileLength=4096,
)


def png(width: int = 320, height: int = 200) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


def test_plain_text_is_a_conversation() -> None:
    message = build_message(OutboundMessage(ANA, Text("hello")))
    assert message.conversation == "hello"
    assert not message.HasField("extendedTextMessage")


def test_reply_with_mentions_is_an_extended_text_with_context() -> None:
    quoted = Quoted("3EB0QUOTED", sender="5511933333333@s.whatsapp.net", text="earlier")
    mentions = ("5511933333333@s.whatsapp.net",)
    message = build_message(OutboundMessage(GROUP, Text("yes @5511933333333"), quoted, mentions))
    assert not message.HasField("conversation")
    extended = message.extendedTextMessage
    assert extended.text == "yes @5511933333333"
    context = extended.contextInfo
    assert context.stanzaID == "3EB0QUOTED"
    assert context.participant == "5511933333333@s.whatsapp.net"
    assert context.quotedMessage.conversation == "earlier"
    assert list(context.mentionedJID) == list(mentions)


def test_reply_in_a_private_chat_defaults_the_quoted_author_to_the_chat() -> None:
    message = build_message(OutboundMessage(ANA, Text("ok"), Quoted("3EB0QUOTED")))
    context = message.extendedTextMessage.contextInfo
    assert (context.stanzaID, context.participant) == ("3EB0QUOTED", ANA)
    assert not context.HasField("quotedMessage")


def test_status_text_is_extended() -> None:
    message = build_message(OutboundMessage("status@broadcast", Text("my status")))
    assert message.extendedTextMessage.text == "my status"


def test_image_from_an_upload_with_its_preview() -> None:
    data = png()
    facts = image_facts(data)
    assert facts is not None and (facts.width, facts.height) == (320, 200)
    media = Media("image", data, "image/png", caption="look")
    quoted = Quoted("3EB0QUOTED", sender=ANA)
    message = build_message(OutboundMessage(ANA, media, quoted), upload=UPLOAD, facts=facts)
    image = message.imageMessage
    assert (image.URL, image.directPath) == (UPLOAD.url, UPLOAD.DirectPath)
    assert image.mediaKey == UPLOAD.MediaKey
    assert image.fileSHA256 == UPLOAD.FileSHA256
    assert image.fileEncSHA256 == UPLOAD.FileEncSHA256
    assert image.fileLength == 4096
    assert (image.mimetype, image.caption, image.width, image.height) == (
        "image/png",
        "look",
        320,
        200,
    )
    assert image.JPEGThumbnail.startswith(b"\xff\xd8")  # a JPEG
    assert Image.open(io.BytesIO(image.JPEGThumbnail)).size[0] <= 96
    assert image.contextInfo.stanzaID == "3EB0QUOTED"


def test_video_with_gif_playback() -> None:
    media = Media("video", b"\x00" * 10, "video/mp4", caption="clip", gif_playback=True)
    video = build_message(OutboundMessage(ANA, media), upload=UPLOAD).videoMessage
    assert (video.mimetype, video.caption, video.gifPlayback) == ("video/mp4", "clip", True)
    assert (video.URL, video.fileLength) == (UPLOAD.url, 4096)


def test_voice_note() -> None:
    media = Media("audio", b"OggS", "audio/ogg; codecs=opus", ptt=True)
    audio = build_message(OutboundMessage(ANA, media), upload=UPLOAD).audioMessage
    assert (audio.mimetype, audio.PTT) == ("audio/ogg; codecs=opus", True)
    assert audio.mediaKey == UPLOAD.MediaKey


def test_document_keeps_its_file_name() -> None:
    media = Media("document", b"%PDF", "application/pdf", caption="Q3", file_name="q3.pdf")
    document = build_message(OutboundMessage(ANA, media), upload=UPLOAD).documentMessage
    assert (document.fileName, document.title, document.caption) == ("q3.pdf", "q3.pdf", "Q3")
    assert document.mimetype == "application/pdf" and document.directPath == UPLOAD.DirectPath


def test_sticker() -> None:
    out = io.BytesIO()
    Image.new("RGBA", (512, 512)).save(out, "WEBP")
    data = out.getvalue()
    media = Media("sticker", data, "image/webp")
    message = build_message(OutboundMessage(ANA, media), upload=UPLOAD, facts=image_facts(data))
    sticker = message.stickerMessage
    assert (sticker.mimetype, sticker.width, sticker.height, sticker.isAnimated) == (
        "image/webp",
        512,
        512,
        False,
    )
    assert (sticker.URL, sticker.directPath) == (UPLOAD.url, UPLOAD.DirectPath)


def test_media_needs_its_upload() -> None:
    with pytest.raises(ValueError, match="upload"):
        build_message(OutboundMessage(ANA, Media("image", b"x", "image/png")))


def test_location() -> None:
    message = build_message(OutboundMessage(ANA, Location(-23.55, -46.63, "Sé", "Praça da Sé")))
    location = message.locationMessage
    assert (location.degreesLatitude, location.degreesLongitude) == (-23.55, -46.63)
    assert (location.name, location.address) == ("Sé", "Praça da Sé")


def test_contact_card() -> None:
    vcard = "BEGIN:VCARD\nVERSION:3.0\nFN:Bia\nEND:VCARD"
    contact = build_message(OutboundMessage(ANA, Contact("Bia", vcard))).contactMessage
    assert (contact.displayName, contact.vcard) == ("Bia", vcard)


def test_reaction_in_a_group_names_the_author() -> None:
    reaction = Reaction("3EB0TARGET", "👍", participant="5511933333333@s.whatsapp.net")
    message = build_message(OutboundMessage(GROUP, reaction), now_ms=1_767_225_600_000)
    sent = message.reactionMessage
    assert (sent.text, sent.senderTimestampMS) == ("👍", 1_767_225_600_000)
    key = sent.key
    assert (key.remoteJID, key.ID, key.fromMe) == (GROUP, "3EB0TARGET", False)
    assert key.participant == "5511933333333@s.whatsapp.net"


def test_removing_a_reaction_to_our_own_message() -> None:
    message = build_message(OutboundMessage(ANA, Reaction("3EB0MINE", "", from_me=True)))
    key = message.reactionMessage.key
    assert message.reactionMessage.text == ""
    assert (key.fromMe, key.HasField("participant")) == (True, False)


def test_poll_carries_its_secret() -> None:
    secret = bytes(range(32))
    poll = Poll("Lunch?", ("pizza", "sushi", "salad"), selectable_count=2)
    message = build_message(OutboundMessage(GROUP, poll), secret=secret)
    creation = message.pollCreationMessage
    assert creation.name == "Lunch?"
    assert [o.optionName for o in creation.options] == ["pizza", "sushi", "salad"]
    assert creation.selectableOptionsCount == 2
    assert message.messageContextInfo.messageSecret == secret
    with pytest.raises(ValueError, match="32-byte"):
        build_message(OutboundMessage(GROUP, poll), secret=b"short")


@pytest.mark.parametrize(
    ("text", "user", "server", "device"),
    [
        (ANA, "5511987654321", "s.whatsapp.net", 0),
        ("5511987654321:12@s.whatsapp.net", "5511987654321", "s.whatsapp.net", 12),
        (GROUP, "120363000000000001", "g.us", 0),
        ("987654321012345@lid", "987654321012345", "lid", 0),
        ("status@broadcast", "status", "broadcast", 0),
        ("5511987654321", "5511987654321", "s.whatsapp.net", 0),
    ],
)
def test_parse_jid(text: str, user: str, server: str, device: int) -> None:
    parsed = parse_jid(text)
    assert (parsed.User, parsed.Server, parsed.Device, parsed.IsEmpty) == (
        user,
        server,
        device,
        False,
    )


@pytest.mark.parametrize("text", ["", "@s.whatsapp.net", "abc", "55:x@s.whatsapp.net", "55@"])
def test_parse_jid_refuses_garbage(text: str) -> None:
    with pytest.raises(InvalidRecipient):
        parse_jid(text)


def test_image_facts_of_something_that_is_not_an_image() -> None:
    assert image_facts(b"not an image") is None
