"""JID normalisation and the backoff curve."""

from __future__ import annotations

import random

import pytest

from zaphubd.backoff import backoff_delay
from zaphubd.jid import InvalidJid, normalize


@pytest.mark.parametrize(
    ("value", "jid"),
    [
        ("5511987654321", "5511987654321@s.whatsapp.net"),
        ("+55 (11) 98765-4321", "5511987654321@s.whatsapp.net"),
        ("5511987654321@s.whatsapp.net", "5511987654321@s.whatsapp.net"),
        ("120363025246125486@g.us", "120363025246125486@g.us"),
        ("123456789012345@lid", "123456789012345@lid"),
        ("status@broadcast", "status@broadcast"),
    ],
)
def test_normalize_accepts_numbers_and_jids(value: str, jid: str) -> None:
    assert normalize(value) == jid


@pytest.mark.parametrize(
    "value", ["", "abc", "123", "55119876543210000", "x@evil.com", "../../etc@g.us"]
)
def test_normalize_refuses_the_rest(value: str) -> None:
    with pytest.raises(InvalidJid):
        normalize(value)


def test_backoff_doubles_caps_and_jitters() -> None:
    rng = random.Random(1)
    delays = [backoff_delay(n, 5.0, 60.0, jitter=0, rng=rng) for n in range(6)]
    assert delays == [5.0, 10.0, 20.0, 40.0, 60.0, 60.0]
    spread = {round(backoff_delay(0, 5.0, 60.0, rng=rng), 3) for _ in range(20)}
    assert len(spread) > 10 and all(4.0 <= d <= 6.0 for d in spread)
