"""Groups on neonize below the network: neonize 0.5.2's real client code runs, and the Go
library's answers are real protobufs (or whatsmeow's error text) given by the `go` recorder,
so these tests bind to neonize's real signatures and wire formats. What WhatsApp itself
answers stays unverified here (no network)."""

from __future__ import annotations

from typing import Any

import pytest
from neonize.proto import Neonize_pb2 as npb

from tests.transport.conftest import GoRecorder, Session, jid
from zaphubd.transport.base import NotConnected, NotPermitted, RateLimited, TargetNotFound
from zaphubd.transport.groups import GroupSettings, ParticipantResult
from zaphubd.transport.neonize_groups import group_info

pytestmark = pytest.mark.asyncio(loop_scope="session")

GROUP = "120363000000000042@g.us"
ANA, BEN = "5511987650001", "5511987650002"
EMPTY = npb.JID(User="", RawAgent=0, Device=0, Integrator=0, Server="", IsEmpty=True)


def participant(
    user: str, *, lid: str | None = None, admin: bool = False, owner: bool = False, error: int = 0
) -> Any:
    """A `GroupParticipant` as whatsmeow fills it: a LID-addressed member has its LID as
    `JID` and its number in `PhoneNumber`."""
    main = jid(lid, "lid") if lid else jid(user)
    return npb.GroupParticipant(
        JID=main,
        LID=jid(lid, "lid") if lid else EMPTY,
        PhoneNumber=jid(user),
        IsAdmin=admin or owner,
        IsSuperAdmin=owner,
        DisplayName="",
        Error=error,
    )  # fmt: skip


def info_proto(**overrides: Any) -> Any:
    fields: dict[str, Any] = {
        "OwnerJID": jid("190000000000001", "lid"),  # a LID-addressed group names both
        "OwnerPN": jid(ANA),
        "GroupEphemeral": npb.GroupEphemeral(IsEphemeral=False, DisappearingTimer=0),
        "GroupIncognito": npb.GroupIncognito(IsIncognito=False),
        "GroupParent": npb.GroupParent(IsParent=False, DefaultMembershipApprovalMode=""),
        "GroupLinkedParent": npb.GroupLinkedParent(LinkedParentJID=EMPTY),
        "GroupIsDefaultSub": npb.GroupIsDefaultSub(IsDefaultSubGroup=False),
        "JID": jid("120363000000000042", "g.us"),
        "GroupName": npb.GroupName(Name="Team", NameSetAt=1_767_225_600, NameSetBy=jid(ANA)),
        "GroupTopic": npb.GroupTopic(
            Topic="About", TopicID="T1", TopicSetAt=1_767_225_600, TopicSetBy=jid(ANA),
            TopicDeleted=False,
        ),
        "GroupLocked": npb.GroupLocked(isLocked=True),
        "GroupAnnounce": npb.GroupAnnounce(IsAnnounce=False, AnnounceVersionID="1"),
        "GroupCreated": 1_767_225_600.0,
        "ParticipantVersionID": "v1",
        "Participants": [
            participant(ANA, owner=True),
            participant(BEN, lid="190000000000002"),
        ],
    }  # fmt: skip
    return npb.GroupInfo(**(fields | overrides))


def info_answer(**overrides: Any) -> bytes:
    answer = npb.GetGroupInfoReturnFunction(GroupInfo=info_proto(**overrides))
    return bytes(answer.SerializeToString())


async def test_group_info_mapper_reads_the_real_protobuf() -> None:
    info = group_info(npb.GroupInfo.FromString(info_proto().SerializeToString()))
    assert (info.jid, info.subject, info.description) == (GROUP, "Team", "About")
    assert (info.locked, info.announce, info.owner) == (True, False, f"{ANA}@s.whatsapp.net")
    assert info.created_at is not None and info.created_at.timestamp() == 1_767_225_600
    owner, ben = info.participants
    assert (owner.jid, owner.is_admin, owner.is_super_admin) == (
        f"{ANA}@s.whatsapp.net",
        True,
        True,
    )
    assert (ben.jid, ben.lid, ben.phone) == (
        "190000000000002@lid", "190000000000002@lid", f"{BEN}@s.whatsapp.net",
    )  # fmt: skip
    assert not ben.is_admin


async def test_each_call_reaches_neonize_with_what_it_takes(
    session: Session, go: GoRecorder
) -> None:
    go.fakes["GenerateMessageID"] = lambda *a: b"3EB0CREATEKEY"
    go.fakes["CreateGroup"] = lambda *a: info_answer()
    go.fakes["GetGroupInfo"] = lambda *a: info_answer()
    go.fakes["GetJoinedGroups"] = lambda *a: npb.GetJoinedGroupsReturnFunction(
        Group=[info_proto()]
    ).SerializeToString()
    for name in (
        "SetGroupName",
        "SetGroupTopic",
        "SetGroupAnnounce",
        "SetGroupLocked",
        "LeaveGroup",
    ):
        go.fakes[name] = lambda *a: b""
    link = npb.GetGroupInviteLinkReturnFunction(InviteLink="https://chat.whatsapp.com/ABC123")
    go.fakes["GetGroupInviteLink"] = lambda *a: link.SerializeToString()
    go.fakes["JoinGroupWithLink"] = lambda *a: npb.JoinGroupWithLinkReturnFunction(
        Jid=jid("120363000000000042", "g.us")
    ).SerializeToString()
    await session.connected()
    groups = session.client.groups

    refused = participant("5511987650009", error=403)  # privacy: not added
    go.fakes["CreateGroup"] = lambda *a: info_answer(
        Participants=[participant(ANA, owner=True), participant(BEN), refused]
    )
    created = await groups.create("Team", [f"{BEN}@s.whatsapp.net", "5511987650009"])
    assert created.jid == GROUP
    assert [p.phone for p in created.participants] == [
        f"{ANA}@s.whatsapp.net",
        f"{BEN}@s.whatsapp.net",
    ]
    request = npb.ReqCreateGroup.FromString(go.named("CreateGroup")[0].args[1])
    assert (request.name, [p.User for p in request.Participants]) == (
        "Team",
        [BEN, "5511987650009"],
    )
    assert [g.jid for g in await groups.joined()] == [GROUP]
    assert (await groups.info(GROUP)).subject == "Team"
    assert npb.JID.FromString(go.named("GetGroupInfo")[0].args[1]).Server == "g.us"

    await groups.update(GROUP, GroupSettings("New", "Desc", True, False))
    name, topic = go.named("SetGroupName")[0], go.named("SetGroupTopic")[0]
    assert name.args[3].value == b"New"
    assert topic.args[3:] == (b"", b"", b"Desc")  # whatsmeow finds the previous topic id
    assert go.named("SetGroupAnnounce")[0].args[3] is True
    assert go.named("SetGroupLocked")[0].args[3] is False

    assert await groups.invite_link(GROUP, revoke=True) == "https://chat.whatsapp.com/ABC123"
    assert go.named("GetGroupInviteLink")[0].args[3] is True
    assert await groups.join("ABC123") == GROUP
    assert go.named("JoinGroupWithLink")[0].args[1] == b"ABC123"
    await groups.leave(GROUP)
    assert len(go.named("LeaveGroup")) == 1


async def test_per_participant_codes_become_stable_statuses(
    session: Session, go: GoRecorder
) -> None:
    answer = npb.UpdateGroupParticipantsReturnFunction(
        participants=[
            participant(ANA),
            participant(BEN, error=409),
            participant("5511987650003", error=403),
            participant("5511987650004", error=404),
            participant("5511987650005", error=408),
            participant("5511987650006", error=500),
        ]
    )
    go.fakes["UpdateGroupParticipants"] = lambda *a: answer.SerializeToString()
    await session.connected()
    results = await session.client.groups.change_participants(
        GROUP, "add", [f"{ANA}@s.whatsapp.net"]
    )
    assert [(r.status, r.error) for r in results] == [
        ("ok", None),
        ("already_member", 409),
        ("privacy_restricted", 403),
        ("not_on_whatsapp", 404),
        ("recently_left", 408),
        ("failed", 500),
    ]
    assert results[0] == ParticipantResult(f"{ANA}@s.whatsapp.net", "ok")
    call = go.named("UpdateGroupParticipants")[0]
    assert call.args[5] == b"add"
    assert [j.User for j in npb.JIDArray.FromString(call.args[3]).JIDS] == [ANA]

    go.fakes["UpdateGroupParticipants"] = lambda *a: npb.UpdateGroupParticipantsReturnFunction(
        participants=[participant(BEN, error=404)]
    ).SerializeToString()
    (removed,) = await session.client.groups.change_participants(
        GROUP, "remove", [f"{BEN}@s.whatsapp.net"]
    )
    assert removed.status == "not_member"


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        ("that group does not exist", TargetNotFound),
        ("you're not participating in that group", NotPermitted),
        ("you don't have the permission to get the group's invite link", NotPermitted),
        ("info query returned status 403: forbidden", NotPermitted),
        ("info query returned status 401: not-authorized", NotPermitted),
        ("that group invite link has been revoked", TargetNotFound),
        ("that group invite link is not valid", TargetNotFound),
        ("info query returned status 429: rate-overlimit", RateLimited),
        ("websocket not connected", NotConnected),
    ],
)
async def test_whatsmeows_refusals_become_transport_errors(
    session: Session, go: GoRecorder, error: str, expected: type[Exception]
) -> None:
    go.fakes["GetGroupInfo"] = lambda *a: npb.GetGroupInfoReturnFunction(
        Error=error
    ).SerializeToString()
    go.fakes["SetGroupLocked"] = lambda *a: error.encode()
    go.fakes["JoinGroupWithLink"] = lambda *a: npb.JoinGroupWithLinkReturnFunction(
        Error=error
    ).SerializeToString()
    await session.connected()
    groups = session.client.groups
    with pytest.raises(expected, match=error.split(":")[0]):
        await groups.info(GROUP)
    with pytest.raises(expected):
        await groups.update(GROUP, GroupSettings(locked=True))
    with pytest.raises(expected):
        await groups.join("ABC123")


async def test_nothing_reaches_neonize_while_not_connected(
    session: Session, go: GoRecorder
) -> None:
    with pytest.raises(NotConnected):
        await session.client.groups.info(GROUP)
    assert go.named("GetGroupInfo") == []
