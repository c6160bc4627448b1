"""simnet's rules for edits and revokes (simnet/actions.py), on the network state itself:
who may edit or revoke what, and for how long."""

from __future__ import annotations

import pytest

from zaphubd.simnet.content import normalise
from zaphubd.simnet.messaging import Envelope, submit
from zaphubd.simnet.model import SimnetConfig, now_ms
from zaphubd.simnet.network import Network
from zaphubd.simnet.protocol import OpError

ANA, BO = "5511911110001", "5511922220002"


def send(net: Network, sender: str, to: str, message: dict, msg_id: str, ts: int = 0) -> None:
    env = Envelope(msg_id, sender, f"{to}@s.whatsapp.net", normalise(message), ts or now_ms())
    submit(net, env)


def edit(target: str, text: str = "new") -> dict:
    return {"type": "edit", "edit": {"messageId": target, "text": text}}


def revoke(target: str) -> dict:
    return {"type": "revoke", "revoke": {"messageId": target}}


@pytest.fixture
def net() -> Network:
    network = Network(SimnetConfig())
    send(network, ANA, BO, {"type": "text", "text": "old"}, "M1")
    return network


def test_only_the_sender_edits_a_text_in_time(net: Network) -> None:
    with pytest.raises(OpError, match="only the sender"):
        send(net, BO, ANA, edit("M1"), "E0")
    send(net, ANA, BO, {"type": "location", "location": {"latitude": 1, "longitude": 2}}, "L1")
    with pytest.raises(OpError, match="only a text"):
        send(net, ANA, BO, edit("L1"), "E1")
    with pytest.raises(OpError, match="no message"):
        send(net, ANA, BO, edit("NOPE"), "E2")
    send(net, ANA, BO, edit("M1"), "E3")
    (original,) = net.mailbox(BO).find("M1")
    assert original.content == {"text": "new"} and original.edited_at is not None
    original.timestamp -= 16 * 60 * 1000
    with pytest.raises(OpError, match="15 minutes"):
        send(net, ANA, BO, edit("M1", "later"), "E4")


def test_in_a_one_to_one_chat_only_the_sender_revokes(net: Network) -> None:
    with pytest.raises(OpError, match="only the sender"):
        send(net, BO, ANA, revoke("M1"), "R0")
    send(net, ANA, BO, revoke("M1"), "R1")
    (original,) = net.mailbox(BO).find("M1")
    assert original.content == {} and original.revoked_at is not None
    with pytest.raises(OpError, match="cannot be edited"):
        send(net, ANA, BO, edit("M1"), "E1")
