"""The contacts contract (`transport.contacts`) over neonize 0.5.2's client calls.

Each call goes through the client's `_call` (the shared gate, refused with NotConnected on a
client that is not connected: `get_me()` would abort the process otherwise). What whatsmeow
answers, and how it is mapped:

- `is_on_whatsapp(*numbers)` takes numbers in international format (`+5511...`) and answers
  one `IsOnWhatsAppResponse` (Query, JID, IsIn) per number it knows; matched back by Query.
  The JID may be the number's phone JID (possibly another number than the one asked) or, in
  whatsmeow's LID addressing, a `@lid`: then the phone JID is the number asked. An empty
  answer is neonize's error "Function returned nothing.": none of them is on WhatsApp.
- `get_profile_picture(jid)`: a user without a picture, or who hides it from us, is an error
  ("does not have a profile picture", "hidden their profile picture"): no picture. A picture
  unchanged since `ExistingID` is an empty `ProfilePictureInfo`: no picture either.
- `get_user_info(jid)` gives the about text (`UserInfo.Status`); neonize carries no date.
- `update_blocklist` of a phone JID without a LID on the server fails "no LID found": the
  number is not on WhatsApp. Its answer (and `get_blocklist`'s) may list `@lid` JIDs.
- `set_profile_photo(bytes)` answers the new picture id; neonize cannot remove a picture (it
  passes empty bytes on as a picture, not as whatsmeow's nil).
- whatsmeow's "rate-overlimit" (IQ error 429) is RateLimited.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from neonize.proto.Neonize_pb2 import (
    GetProfilePictureParams,
    IsOnWhatsAppResponse,
    ProfilePictureInfo,
)
from neonize.utils.enum import BlocklistAction

from zaphubd.jid import is_user, phone_of, user_jid
from zaphubd.transport.base import RateLimited, TargetNotFound, TransportError
from zaphubd.transport.contacts import ContactProfile, NumberCheck, OwnProfile, Picture
from zaphubd.transport.neonize_inbound import jid_text
from zaphubd.transport.neonize_outbound import InvalidRecipient, parse_jid

T = TypeVar("T")
Call = Callable[[str, Callable[[Any], Awaitable[Any]]], Awaitable[Any]]

_NO_PICTURE = ("does not have a profile picture", "hidden their profile picture")
_NOTHING_RETURNED = "Function returned nothing."
_NOT_ON_WHATSAPP = ("no LID found", "item-not-found")
_RATE_LIMITED = ("rate-overlimit", "status 429")


class NeonizeContacts:
    def __init__(self, call: Call) -> None:
        self._call = call

    async def check(self, numbers: Sequence[str]) -> list[NumberCheck]:
        queries = ["+" + n for n in numbers]
        try:
            answers = await self._run("contact check", lambda c: c.is_on_whatsapp(*queries))
        except TransportError as err:
            if _NOTHING_RETURNED not in str(err):
                raise
            answers = []
        return check_results(numbers, answers)

    async def profile(self, jid: str) -> ContactProfile:
        target = _jid(jid)
        about = await self._about(target)
        picture = await self._picture(target)
        return ContactProfile(jid=jid, about=about, about_set_at=None, picture=picture)

    async def block(self, jid: str) -> None:
        target = _jid(jid)
        await self._run("block", lambda c: c.update_blocklist(target, BlocklistAction.BLOCK))

    async def unblock(self, jid: str) -> None:
        target = _jid(jid)
        await self._run("unblock", lambda c: c.update_blocklist(target, BlocklistAction.UNBLOCK))

    async def blocklist(self) -> list[str]:
        answer = await self._run("blocklist", lambda c: c.get_blocklist())
        return [jid_text(j) for j in answer.JIDs]

    async def own_profile(self) -> OwnProfile:
        me = await self._run("own profile", lambda c: c.get_me())
        if not me.HasField("JID") or not me.JID.User:
            raise TransportError("own profile: WhatsApp gave no account JID")
        own = jid_text(me.JID)
        target = _jid(own)
        return OwnProfile(
            jid=own,
            push_name=me.PushName or None,
            about=await self._about(target),
            picture=await self._picture(target),
        )

    async def set_push_name(self, name: str) -> None:
        await self._run("set push name", lambda c: c.set_profile_name(name))

    async def set_about(self, about: str) -> None:
        await self._run("set about", lambda c: c.set_status_message(about))

    async def set_picture(self, jpeg: bytes) -> str:
        picture_id = await self._run("set picture", lambda c: c.set_profile_photo(jpeg))
        return str(picture_id)

    async def _about(self, target: Any) -> str | None:
        infos = await self._run("contact info", lambda c: c.get_user_info(target))
        for info in infos:
            if info.JID.User == target.User and info.HasField("UserInfo"):
                return str(info.UserInfo.Status) or None
        return None

    async def _picture(self, target: Any) -> Picture | None:
        params = GetProfilePictureParams(Preview=False)
        try:
            info = await self._run("picture", lambda c: c.get_profile_picture(target, params))
        except TransportError as err:
            if any(marker in str(err) for marker in _NO_PICTURE):
                return None
            raise
        return picture_of(info)

    async def _run(self, what: str, call: Callable[[Any], Awaitable[T]]) -> T:
        """One neonize call; whatsmeow's rate limit and unknown-number errors mapped."""
        try:
            result: T = await self._call(what, call)
        except TransportError as err:
            refined = _refined(err)
            if refined is err:
                raise
            raise refined from err
        return result


def check_results(
    numbers: Sequence[str], answers: Sequence[IsOnWhatsAppResponse]
) -> list[NumberCheck]:
    """Our answer per number asked, in their order, from whatsmeow's answers."""
    by_number: dict[str, IsOnWhatsAppResponse] = {}
    for answer in answers:
        by_number["".join(ch for ch in answer.Query if ch.isdigit())] = answer
    results = []
    for number in numbers:
        answer = by_number.get(number)
        if answer is None or not answer.IsIn:
            results.append(NumberCheck(number, False, None))
            continue
        found = jid_text(answer.JID) if answer.JID.User else ""
        results.append(NumberCheck(number, True, found if is_user(found) else user_jid(number)))
    return results


def picture_of(info: ProfilePictureInfo) -> Picture | None:
    if not info.URL:
        return None
    return Picture(url=info.URL, id=info.ID)


def _refined(err: TransportError) -> TransportError:
    if type(err) is not TransportError:  # NotConnected and the like stay as they are
        return err
    text = str(err)
    if any(marker in text for marker in _RATE_LIMITED):
        return RateLimited(text)
    if any(marker in text for marker in _NOT_ON_WHATSAPP):
        return TargetNotFound(text)
    return err


def _jid(text: str) -> Any:
    if not is_user(text):
        raise TargetNotFound(f"{text} is not a user JID")
    try:
        return parse_jid(user_jid(phone_of(text)))
    except InvalidRecipient as err:
        raise TransportError(str(err)) from err
