"""Outbound messages to waE2E protobufs: pure functions, so every shape is testable offline.

Only the upload itself needs the network; `build_message` takes its result (an
`UploadResponse`, or anything with the same attributes) and the values that would otherwise
come from the clock or the random generator, and returns the `Message` that `send_message`
sends. We build the protobufs ourselves rather than through neonize's `build_*` helpers:
those fetch files or URLs, probe with libmagic and shell out to ffmpeg, and we already hold
the bytes (downloaded under our own limits) and their MIME type.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import Any

from neonize.proto.Neonize_pb2 import JID
from neonize.proto.waCommon.WACommon_pb2 import MessageKey
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import (
    AudioMessage,
    ContactMessage,
    ContextInfo,
    DocumentMessage,
    ExtendedTextMessage,
    FutureProofMessage,
    ImageMessage,
    LocationMessage,
    Message,
    MessageContextInfo,
    PollCreationMessage,
    ProtocolMessage,
    ReactionMessage,
    StickerMessage,
    VideoMessage,
)
from neonize.utils.enum import MediaType

from zaphubd.jid import GROUP_SERVER, STATUS_BROADCAST, USER_SERVER
from zaphubd.transport.outbound import (
    Contact,
    Edit,
    Location,
    Media,
    MediaKind,
    OutboundMessage,
    Poll,
    Reaction,
    Revoke,
    Text,
)

THUMBNAIL_PX = 96
#: whatsmeow uploads stickers as images.
UPLOAD_TYPES: dict[MediaKind, Any] = {
    "image": MediaType.MediaImage,
    "video": MediaType.MediaVideo,
    "audio": MediaType.MediaAudio,
    "document": MediaType.MediaDocument,
    "sticker": MediaType.MediaImage,
}


class InvalidRecipient(ValueError):
    """A JID neonize cannot address."""


@dataclass(frozen=True, slots=True)
class ImageFacts:
    """What the recipient's app shows before downloading an image or sticker."""

    width: int
    height: int
    thumbnail: bytes
    animated: bool = False


def parse_jid(text: str) -> Any:
    """A neonize `JID` from `user[.agent][:device]@server` (a bare number is a user JID)."""
    if text == STATUS_BROADCAST:
        user, server = "status", "broadcast"
    elif "@" in text:
        user, _, server = text.rpartition("@")
    elif text.isdigit():
        user, server = text, USER_SERVER
    else:
        raise InvalidRecipient(f"not a WhatsApp JID: {text!r}")
    user, _, device = user.partition(":")
    user, _, agent = user.partition(".")
    if not (user and server and _number_or_empty(device) and _number_or_empty(agent)):
        raise InvalidRecipient(f"not a WhatsApp JID: {text!r}")
    return JID(
        User=user,
        RawAgent=int(agent or 0),
        Device=int(device or 0),
        Integrator=0,
        Server=server,
        IsEmpty=False,
    )


def _number_or_empty(text: str) -> bool:
    return not text or text.isdigit()


def build_message(
    message: OutboundMessage,
    *,
    upload: Any = None,
    facts: ImageFacts | None = None,
    now_ms: int = 0,
    secret: bytes = b"",
    me: str | None = None,
) -> Any:
    """The waE2E `Message` for `message`. Media needs its `upload`; a reaction and an edit
    `now_ms`; a poll its 32-byte `secret` (the key its votes are encrypted with); a reply to
    one of our own messages `me`, the account's JID (its author)."""
    content = message.content
    if isinstance(content, Edit):
        return build_edit(content, message.to, now_ms)
    if isinstance(content, Revoke):
        return build_revoke(content, message.to)
    context = context_info(message, me)
    if isinstance(content, Text):
        return build_text(content.text, context, status=message.to == STATUS_BROADCAST)
    if isinstance(content, Media):
        if upload is None:
            raise ValueError("media needs the upload response")
        return build_media(content, upload, context, facts)
    if isinstance(content, Location):
        return Message(locationMessage=LocationMessage(**_location_fields(content, context)))
    if isinstance(content, Contact):
        return Message(contactMessage=ContactMessage(**_contact_fields(content, context)))
    if isinstance(content, Reaction):
        return build_reaction(content, message.to, now_ms)
    return build_poll(content, context, secret)


def context_info(message: OutboundMessage, me: str | None = None) -> Any:
    """The reply, mentions and forward part, or None for a message that has none."""
    if message.quoted is None and not message.mentions and not message.forwarded:
        return None
    context = ContextInfo(mentionedJID=list(message.mentions))
    if message.forwarded:
        # WhatsApp counts the hops; "forwarded many times" starts at 5. zaphubd knows one.
        context.isForwarded = True
        context.forwardingScore = 1
    quoted = message.quoted
    if quoted is not None:
        context.stanzaID = quoted.message_id
        # Our own message's author is the account; in a one-to-one chat an unknown author
        # is the other party.
        participant = quoted.sender or (me if quoted.from_me else None)
        if participant is None and not quoted.from_me and not _is_group(message.to):
            participant = message.to
        if participant:
            context.participant = participant
        if quoted.text:
            context.quotedMessage.CopyFrom(Message(conversation=quoted.text))
    return context


def build_text(text: str, context: Any, *, status: bool = False) -> Any:
    """Plain text is `conversation`; a reply, mentions or a status need the extended form."""
    if context is None and not status:
        return Message(conversation=text)
    extended = ExtendedTextMessage(text=text)
    if context is not None:
        extended.contextInfo.CopyFrom(context)
    return Message(extendedTextMessage=extended)


def build_media(media: Media, upload: Any, context: Any, facts: ImageFacts | None) -> Any:
    """An image, video, audio, document or sticker message pointing at uploaded media."""
    fields: dict[str, Any] = {
        "URL": upload.url,
        "directPath": upload.DirectPath,
        "mediaKey": upload.MediaKey,
        "fileEncSHA256": upload.FileEncSHA256,
        "fileSHA256": upload.FileSHA256,
        "fileLength": upload.FileLength,
        "mimetype": media.mime_type,
    }
    if context is not None:
        fields["contextInfo"] = context
    if media.caption and media.kind in ("image", "video", "document"):
        fields["caption"] = media.caption
    if facts is not None and media.kind in ("image", "sticker"):
        fields.update(width=facts.width, height=facts.height)
    return _MEDIA_BUILDERS[media.kind](media, fields, facts)


def _image(media: Media, fields: dict[str, Any], facts: ImageFacts | None) -> Any:
    if facts is not None:
        fields["JPEGThumbnail"] = facts.thumbnail
    return Message(imageMessage=ImageMessage(**fields))


def _video(media: Media, fields: dict[str, Any], facts: ImageFacts | None) -> Any:
    return Message(videoMessage=VideoMessage(gifPlayback=media.gif_playback, **fields))


def _audio(media: Media, fields: dict[str, Any], facts: ImageFacts | None) -> Any:
    return Message(audioMessage=AudioMessage(PTT=media.ptt, **fields))


def _document(media: Media, fields: dict[str, Any], facts: ImageFacts | None) -> Any:
    name = media.file_name or "file"
    return Message(documentMessage=DocumentMessage(fileName=name, title=name, **fields))


def _sticker(media: Media, fields: dict[str, Any], facts: ImageFacts | None) -> Any:
    animated = facts.animated if facts is not None else False
    return Message(stickerMessage=StickerMessage(isAnimated=animated, **fields))


_MEDIA_BUILDERS = {
    "image": _image,
    "video": _video,
    "audio": _audio,
    "document": _document,
    "sticker": _sticker,
}


def _location_fields(location: Location, context: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "degreesLatitude": location.latitude,
        "degreesLongitude": location.longitude,
    }
    if location.name:
        fields["name"] = location.name
    if location.address:
        fields["address"] = location.address
    if context is not None:
        fields["contextInfo"] = context
    return fields


def _contact_fields(contact: Contact, context: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {"displayName": contact.display_name, "vcard": contact.vcard}
    if context is not None:
        fields["contextInfo"] = context
    return fields


def build_reaction(reaction: Reaction, chat: str, now_ms: int) -> Any:
    """A reaction to `reaction.message_id` in `chat`; an empty emoji takes it back."""
    key = MessageKey(remoteJID=chat, fromMe=reaction.from_me, ID=reaction.message_id)
    if reaction.participant and not reaction.from_me and _is_group(chat):
        key.participant = reaction.participant
    return Message(
        reactionMessage=ReactionMessage(key=key, text=reaction.emoji, senderTimestampMS=now_ms)
    )


def build_edit(edit: Edit, chat: str, now_ms: int) -> Any:
    """whatsmeow's BuildEdit (neonize.builder.build_edit): a MESSAGE_EDIT protocol message
    inside `editedMessage`, with the new text as `conversation`; send_message marks the
    stanza as an edit from it."""
    protocol = ProtocolMessage(
        key=MessageKey(remoteJID=chat, fromMe=True, ID=edit.message_id),
        type=ProtocolMessage.MESSAGE_EDIT,
        editedMessage=Message(conversation=edit.text),
        timestampMS=now_ms,
    )
    return Message(editedMessage=FutureProofMessage(message=Message(protocolMessage=protocol)))


def build_revoke(revoke: Revoke, chat: str) -> Any:
    """whatsmeow's BuildRevoke: a REVOKE protocol message naming the message; another
    member's message in a group (an admin's revoke) also names its author. Built here, not
    by neonize's client.build_revoke, which asks get_me() (NEONIZE.md, hazard 2)."""
    key = MessageKey(remoteJID=chat, fromMe=revoke.from_me, ID=revoke.message_id)
    if not revoke.from_me and revoke.participant and _is_group(chat):
        key.participant = revoke.participant
    return Message(protocolMessage=ProtocolMessage(type=ProtocolMessage.REVOKE, key=key))


def build_poll(poll: Poll, context: Any, secret: bytes) -> Any:
    """A poll; its `secret` must be 32 random bytes, kept by nobody but the message."""
    if len(secret) != 32:
        raise ValueError("a poll needs a 32-byte message secret")
    creation = PollCreationMessage(
        name=poll.name,
        options=[PollCreationMessage.Option(optionName=name) for name in poll.options],
        selectableOptionsCount=poll.selectable_count,
    )
    if context is not None:
        creation.contextInfo.CopyFrom(context)
    return Message(
        pollCreationMessage=creation,
        messageContextInfo=MessageContextInfo(messageSecret=secret),
    )


def _is_group(jid: str) -> bool:
    return jid.endswith("@" + GROUP_SERVER)


def image_facts(data: bytes) -> ImageFacts | None:
    """Size and a small JPEG preview of an image, or None when it cannot be decoded.

    CPU-bound: run it in the executor. Pillow comes with neonize.
    """
    try:
        from PIL import Image
    except ImportError:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return _decode_image(Image, data)
    except (OSError, ValueError, Image.DecompressionBombWarning, Image.DecompressionBombError):
        return None


def _decode_image(image_module: Any, data: bytes) -> ImageFacts:
    with image_module.open(io.BytesIO(data)) as image:
        width, height = image.size
        animated = getattr(image, "n_frames", 1) > 1
        image.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
        preview = io.BytesIO()
        image.convert("RGB").save(preview, "JPEG", quality=60)
    return ImageFacts(int(width), int(height), preview.getvalue(), animated)
