"""The neonize side of contacts, below the network: our calls bind to neonize 0.5.2's real
`NewAClient` signatures (an autospec of it), answered with the protobufs neonize really
returns, through the client's real `_call` (gate, NotConnected, error mapping)."""

from __future__ import annotations

import subprocess
import warnings
from types import SimpleNamespace
from typing import Any
from unittest.mock import create_autospec

import pytest

with warnings.catch_warnings():  # see tests/transport/conftest.py
    warnings.simplefilter("ignore", ResourceWarning)
    from neonize.aioze.client import NewAClient
    from neonize.exc import (
        GetProfilePictureError,
        IsOnWhatsAppError,
        SetStatusMessageError,
        UpdateBlocklistError,
    )
    from neonize.proto import Neonize_pb2 as npb
    from neonize.utils.enum import BlocklistAction
    from neonize.utils.jid import build_jid

    subprocess.run(["true"], check=False)

from zaphubd.transport.base import NotConnected, RateLimited, TargetNotFound, TransportError
from zaphubd.transport.contacts import NumberCheck, Picture
from zaphubd.transport.neonize_client import NeonizeClient
from zaphubd.transport.neonize_contacts import NeonizeContacts
from zaphubd.transport.neonize_gate import Gate

ANA = "5511999990001"
ANA_JID = f"{ANA}@s.whatsapp.net"


def jid(user: str, server: str = "s.whatsapp.net", device: int = 0) -> Any:
    value = build_jid(user, server)
    value.Device = device
    return value


class Stub:
    """What NeonizeClient._call needs of its client: the gate and the connected attempt."""

    _call = NeonizeClient._call

    def __init__(self, neonize: Any) -> None:
        self._transport = SimpleNamespace(gate=Gate())
        self.attempt: Any = SimpleNamespace(client=neonize)

    def _connected(self) -> Any:
        if self.attempt is None:
            raise NotConnected("the WhatsApp session is not connected")
        return self.attempt


@pytest.fixture(scope="module")
def spec() -> Any:
    return create_autospec(NewAClient, instance=True)  # slow to build: once per module


@pytest.fixture
def wa(spec: Any) -> Any:
    spec.reset_mock(return_value=True, side_effect=True)
    return spec


@pytest.fixture
def stub(wa: Any) -> Stub:
    return Stub(wa)


@pytest.fixture
def contacts(stub: Stub) -> NeonizeContacts:
    return NeonizeContacts(stub._call)


async def test_check_maps_answers_by_query_in_the_order_asked(
    wa: Any, contacts: NeonizeContacts
) -> None:
    wa.is_on_whatsapp.return_value = [
        npb.IsOnWhatsAppResponse(Query="+5511999990003", JID=jid("551199990003"), IsIn=True),
        npb.IsOnWhatsAppResponse(Query="+5511999990002", JID=jid("5511999990002"), IsIn=False),
        npb.IsOnWhatsAppResponse(Query=f"+{ANA}", JID=jid("123456789", "lid"), IsIn=True),
    ]
    got = await contacts.check([ANA, "5511999990002", "5511999990003", "5511999990004"])
    wa.is_on_whatsapp.assert_awaited_once_with(
        f"+{ANA}", "+5511999990002", "+5511999990003", "+5511999990004"
    )
    assert got == [
        NumberCheck(ANA, True, ANA_JID),  # a LID answer: the number asked is the phone JID
        NumberCheck("5511999990002", False, None),
        NumberCheck("5511999990003", True, "551199990003@s.whatsapp.net"),  # WhatsApp's JID
        NumberCheck("5511999990004", False, None),  # not in the answer
    ]


async def test_check_errors(wa: Any, contacts: NeonizeContacts) -> None:
    wa.is_on_whatsapp.side_effect = IsOnWhatsAppError("Function returned nothing.")
    assert await contacts.check([ANA]) == [NumberCheck(ANA, False, None)]
    wa.is_on_whatsapp.side_effect = IsOnWhatsAppError(
        "info query returned status 429: rate-overlimit"
    )
    with pytest.raises(RateLimited):
        await contacts.check([ANA])
    wa.is_on_whatsapp.side_effect = IsOnWhatsAppError("websocket not connected")
    with pytest.raises(NotConnected):
        await contacts.check([ANA])


async def test_profile_about_and_picture(wa: Any, contacts: NeonizeContacts) -> None:
    info = npb.UserInfo(Status="Disponível", PictureID="171", Devices=[jid(ANA, device=3)])
    wa.get_user_info.return_value = [
        npb.GetUserInfoSingleReturnFunction(JID=jid(ANA), UserInfo=info)
    ]
    wa.get_profile_picture.return_value = npb.ProfilePictureInfo(
        URL="https://pps.whatsapp.net/v/t61/x.jpg", ID="171", Type="image", DirectPath="/v/x"
    )
    got = await contacts.profile(ANA_JID)
    assert (got.jid, got.about, got.about_set_at) == (ANA_JID, "Disponível", None)
    assert got.picture == Picture("https://pps.whatsapp.net/v/t61/x.jpg", "171")
    target = wa.get_user_info.await_args.args[0]
    assert (target.User, target.Server, target.Device) == (ANA, "s.whatsapp.net", 0)
    params = wa.get_profile_picture.await_args.args[1]
    assert isinstance(params, npb.GetProfilePictureParams) and not params.Preview

    # No picture, or a hidden one: neonize raises with the whole answer as its argument.
    for text in (
        "that user or group does not have a profile picture",  # whatsmeow's words, exactly
        "the user has hidden their profile picture from you",
    ):
        answer = npb.GetProfilePictureReturnFunction(Error=text)
        wa.get_profile_picture.side_effect = GetProfilePictureError(answer)
        assert (await contacts.profile(ANA_JID)).picture is None
    wa.get_profile_picture.side_effect = None
    wa.get_profile_picture.return_value = npb.ProfilePictureInfo()  # unchanged since ExistingID
    wa.get_user_info.return_value = []
    got = await contacts.profile(ANA_JID)
    assert (got.about, got.picture) == (None, None)
    with pytest.raises(TargetNotFound):
        await contacts.profile("120363000000@g.us")


async def test_blocking(wa: Any, contacts: NeonizeContacts) -> None:
    listed = npb.Blocklist(DHash="1", JIDs=[jid(ANA), jid("123456789", "lid")])
    wa.update_blocklist.return_value = listed
    wa.get_blocklist.return_value = listed
    await contacts.block(ANA_JID)
    await contacts.unblock(ANA_JID)
    actions = [call.args[1] for call in wa.update_blocklist.await_args_list]
    assert actions == [BlocklistAction.BLOCK, BlocklistAction.UNBLOCK]
    assert wa.update_blocklist.await_args.args[0].User == ANA
    assert await contacts.blocklist() == [ANA_JID, "123456789@lid"]
    wa.update_blocklist.side_effect = UpdateBlocklistError(
        f"no LID found for {ANA_JID} from server"
    )
    with pytest.raises(TargetNotFound):
        await contacts.block(ANA_JID)


async def test_own_profile_and_changes(wa: Any, contacts: NeonizeContacts) -> None:
    wa.get_me.return_value = npb.Device(
        JID=jid(ANA, device=12), Platform="", BussinessName="", PushName="Loja", Initialized=True
    )
    wa.get_user_info.return_value = [
        npb.GetUserInfoSingleReturnFunction(
            JID=jid(ANA), UserInfo=npb.UserInfo(Status="", PictureID="")
        )
    ]
    wa.get_profile_picture.side_effect = GetProfilePictureError(
        npb.GetProfilePictureReturnFunction(
            Error="that user or group does not have a profile picture"
        )
    )
    own = await contacts.own_profile()
    assert (own.jid, own.push_name, own.about, own.picture) == (ANA_JID, "Loja", None, None)
    assert wa.get_user_info.await_args.args[0].Device == 0  # asked about the account, not a device

    wa.set_profile_photo.return_value = "1733500000"
    assert await contacts.set_picture(b"\xff\xd8\xffjpeg") == "1733500000"
    wa.set_profile_photo.assert_awaited_once_with(b"\xff\xd8\xffjpeg")
    await contacts.set_push_name("Loja Centro")
    wa.set_profile_name.assert_awaited_once_with("Loja Centro")
    await contacts.set_about("Aberto")
    wa.set_status_message.assert_awaited_once_with("Aberto")
    wa.set_status_message.side_effect = SetStatusMessageError("server returned error 500")
    with pytest.raises(TransportError) as caught:
        await contacts.set_about("Aberto")
    assert type(caught.value) is TransportError


async def test_a_client_that_is_not_connected_is_never_called(
    wa: Any, stub: Stub, contacts: NeonizeContacts
) -> None:
    stub.attempt = None
    with pytest.raises(NotConnected):
        await contacts.own_profile()  # get_me() would abort the process (NEONIZE.md)
    assert not wa.get_me.called
