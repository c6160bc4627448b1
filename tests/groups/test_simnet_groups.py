"""simnet's group rules on the network state itself (no sockets): who may do what, what
every member's devices are told, and that all of it survives a restart of simnet."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from zaphubd.simnet import groups
from zaphubd.simnet.model import Device, SimnetConfig
from zaphubd.simnet.network import Network
from zaphubd.simnet.persist import restore, snapshot
from zaphubd.simnet.protocol import OpError

ANA, BEN, CAL = "5511900000401", "5511900000402", "5511900000403"


def network_with_devices(*phones: str) -> Network:
    net = Network(SimnetConfig())
    for phone in phones:
        device = net.devices.setdefault(f"dev-{phone}", Device(f"dev-{phone}"))
        net.pair(device, phone, None)
    return net


def told(net: Network, phone: str) -> list[dict[str, Any]]:
    """The group events queued for the account's device, oldest first."""
    pending = net.devices[f"dev-{phone}"].pending.values()
    return [f for f in pending if f.get("kind") == "group"]


def test_locked_groups_take_info_changes_from_admins_only() -> None:
    net = network_with_devices(ANA, BEN)
    group = groups.create(net, ANA, "Team", [BEN])
    groups.update(net, group.jid, BEN, {"subject": "Ben's"})  # unlocked: any member
    with pytest.raises(OpError) as refused:
        groups.update(net, group.jid, BEN, {"announce": True})
    assert refused.value.code == "forbidden"
    groups.update(net, group.jid, ANA, {"locked": True, "description": "x"})
    with pytest.raises(OpError, match="admins"):
        groups.update(net, group.jid, BEN, {"subject": "again"})
    assert (group.subject, group.locked, group.description) == ("Ben's", True, "x")
    actions = [(f["action"], f["subject"], f["details"]) for f in told(net, BEN)]
    assert actions == [
        ("joined", "Team", {}),
        ("subject", "Ben's", {}),
        ("update", None, {"description": "x"}),  # in the order neonize applies them
        ("update", None, {"locked": True}),
    ]


def test_the_owner_stays_and_members_only_see_their_group() -> None:
    net = network_with_devices(ANA, BEN, CAL)
    group = groups.create(net, ANA, "Team", [BEN])
    groups.change_participants(net, group.jid, ANA, "promote", [BEN])
    results = groups.change_participants(net, group.jid, BEN, "remove", [ANA])
    assert results == [{"jid": f"{ANA}@s.whatsapp.net", "status": "failed", "error": 403}]
    with pytest.raises(OpError) as outsider:
        groups.describe(net, groups.member_group(net, group.jid, CAL))
    assert outsider.value.code == "not_member"
    assert [g["jid"] for g in groups.joined(net, BEN)] == [group.jid]
    assert groups.joined(net, CAL) == []


def test_groups_survive_a_restart(tmp_path: Path) -> None:
    net = network_with_devices(ANA, BEN)
    group = groups.create(net, ANA, "Team", [BEN, CAL])  # CAL is not on WhatsApp
    groups.update(net, group.jid, ANA, {"description": "d", "announce": True, "locked": True})
    old = groups.invite_link(net, group.jid, ANA, revoke=False)
    new = groups.invite_link(net, group.jid, ANA, revoke=True)

    again = Network(SimnetConfig())
    restore(again, orjson.loads(orjson.dumps(snapshot(net))), tmp_path)
    assert again.groups[group.jid].as_dict() == group.as_dict()
    assert CAL not in again.groups[group.jid].members
    with pytest.raises(OpError, match="revoked"):
        groups.join(again, CAL, old.removeprefix(groups.INVITE_PREFIX))
    joined = groups.join(again, CAL, new.removeprefix(groups.INVITE_PREFIX))
    assert CAL in joined.members


def test_a_state_file_from_before_group_settings_still_loads(tmp_path: Path) -> None:
    net = Network(SimnetConfig())
    data = snapshot(net) | {
        "groups": [{"jid": "1203630001@g.us", "members": [ANA], "admins": [ANA],
                    "subject": "Old", "created_by": ANA}],
    }  # fmt: skip
    data.pop("directory")
    restore(net, data, tmp_path)
    old = net.groups["1203630001@g.us"]
    assert (old.subject, old.description, old.announce, old.invite_code) == ("Old", "", False, None)
