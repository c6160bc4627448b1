"""The neonize side of chat settings, below the network: the patches are whatsmeow's own
(index, version, collection, action), they go through `send_app_state` with the installed
neonize 0.5.2's signature, under the client's gate, and its failures become our errors."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from unittest import mock

import pytest
from neonize.aioze.client import NewAClient
from neonize.exc import SendAppStateError
from neonize.proto.Neonize_pb2 import PatchInfo

from tests.transport.conftest import Session
from zaphubd.transport.base import NotConnected, TransportError
from zaphubd.transport.chats import ChatChange, Mute
from zaphubd.transport.neonize_chats import NeonizeChats, patches

SESSION_LOOP = pytest.mark.asyncio(loop_scope="session")

CHAT = "5511944440000@s.whatsapp.net"
NOW_NS = 1_700_000_000_123_456_789


def _wire(patch: PatchInfo) -> PatchInfo:
    """What the Go side unmarshals: the patch through its real encoding."""
    return PatchInfo.FromString(patch.SerializeToString())


def test_archive_unpins_in_one_regular_low_patch() -> None:
    (patch,) = [_wire(p) for p in patches(ChatChange(CHAT, archived=True, pinned=False), NOW_NS)]
    assert patch.Type == PatchInfo.REGULAR_LOW and patch.Timestamp == NOW_NS
    archive, pin = patch.Mutations
    assert (list(archive.Index), archive.Version) == (["archive", CHAT], 3)
    assert archive.Value.archiveChatAction.archived is True
    assert archive.Value.archiveChatAction.messageRange.lastMessageTimestamp == NOW_NS // 10**9
    assert (list(pin.Index), pin.Version) == (["pin_v1", CHAT], 5)
    assert pin.Value.pinAction.HasField("pinned") and pin.Value.pinAction.pinned is False


def test_mute_is_regular_high_with_whatsmeows_end_times() -> None:
    until = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    timed, forever, off = (
        _wire(patches(ChatChange(CHAT, mute=mute), NOW_NS)[0])
        for mute in (Mute(True, until), Mute(True), Mute(False))
    )
    for patch in (timed, forever, off):
        assert patch.Type == PatchInfo.REGULAR_HIGH
        assert (list(patch.Mutations[0].Index), patch.Mutations[0].Version) == (["mute", CHAT], 2)
    assert timed.Mutations[0].Value.muteAction.muteEndTimestamp == int(until.timestamp() * 1000)
    assert forever.Mutations[0].Value.muteAction.muteEndTimestamp == -1
    action = off.Mutations[0].Value.muteAction
    assert action.muted is False and not action.HasField("muteEndTimestamp")


def test_pin_and_mute_make_two_patches() -> None:
    found = patches(ChatChange(CHAT, pinned=True, mute=Mute(True)), NOW_NS)
    assert [p.Type for p in found] == [PatchInfo.REGULAR_LOW, PatchInfo.REGULAR_HIGH]
    assert patches(ChatChange(CHAT), NOW_NS) == []


@SESSION_LOOP
async def test_the_calls_bind_to_neonizes_signature() -> None:
    client = mock.create_autospec(NewAClient, instance=True)
    calls: list[str] = []

    async def call(what: str, run: Any) -> Any:
        calls.append(what)
        return await run(client)

    await NeonizeChats(call).change(ChatChange(CHAT, archived=True, pinned=False, mute=Mute(False)))
    sent = [c.args[0] for c in client.send_app_state.await_args_list]
    assert [p.Type for p in sent] == [PatchInfo.REGULAR_LOW, PatchInfo.REGULAR_HIGH]
    assert calls == ["chat settings", "chat settings"]
    # Nothing else: the chat_settings.put_* calls write whatsmeow's local store only.
    assert [c[0] for c in client.mock_calls] == ["send_app_state", "send_app_state"]


@SESSION_LOOP
async def test_through_a_connected_client_and_its_errors(session: Session) -> None:
    with pytest.raises(NotConnected):
        await session.client.chats.change(ChatChange(CHAT, pinned=True))
    attempt = await session.connected()
    with mock.patch.object(attempt.client, "send_app_state", autospec=True) as send:
        await session.client.chats.change(ChatChange(CHAT, pinned=True))
        (patch,) = send.await_args.args
        assert _wire(patch).Mutations[0].Value.pinAction.pinned is True
        send.side_effect = SendAppStateError("server returned error 400")
        with pytest.raises(TransportError, match="chat settings failed"):
            await session.client.chats.change(ChatChange(CHAT, archived=False))
