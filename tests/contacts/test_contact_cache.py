"""The contact check cache (real Redis) and pace, the contact-id rules, the profile JPEG,
and simnet's accounts surviving a restart: pure or cheap, no daemon."""

from __future__ import annotations

import asyncio
import io
import itertools
import time
import uuid
from pathlib import Path

import orjson
import pytest
from PIL import Image

from zaphubd.errors import CapacityReached
from zaphubd.http.contacts import contact_number
from zaphubd.jid import InvalidJid
from zaphubd.media import MediaError
from zaphubd.queue import keys
from zaphubd.queue.redis import RedisClient
from zaphubd.sessions.contact_cache import CheckCache, CheckPace
from zaphubd.sessions.profile_picture import to_profile_jpeg
from zaphubd.simnet import persist
from zaphubd.simnet.accounts import Directory
from zaphubd.simnet.media import MediaStore
from zaphubd.simnet.model import SimnetConfig
from zaphubd.simnet.network import Network
from zaphubd.transport.contacts import NumberCheck

SID = uuid.UUID(int=7)


async def test_cache_keeps_positives_longer_than_negatives(redis: RedisClient) -> None:
    cache = CheckCache(redis, positive_ttl_s=600, negative_ttl_s=60)
    yes = NumberCheck("5511900000001", True, "5511900000001@s.whatsapp.net")
    no = NumberCheck("5511900000002", False, None)
    await cache.put(SID, [yes, no])
    got = await cache.get(SID, ["5511900000001", "5511900000002", "5511900000003"])
    assert got == {yes.number: yes, no.number: no}
    assert 590 < await redis.ttl(keys.contact_check(SID, yes.number)) <= 600
    assert 50 < await redis.ttl(keys.contact_check(SID, no.number)) <= 60
    assert await cache.get(uuid.UUID(int=8), [yes.number]) == {}  # per session


async def test_pace_spaces_requests_and_caps_the_waiting() -> None:
    pace = CheckPace(interval_s=0.1, max_waiting=2)
    started: list[float] = []

    async def one() -> None:
        async with pace.turn(SID):
            started.append(time.monotonic())

    results = await asyncio.gather(*(one() for _ in range(4)), return_exceptions=True)
    refused = [r for r in results if isinstance(r, CapacityReached)]
    assert len(refused) == 1  # one runs, two wait, the fourth is refused
    gaps = [b - a for a, b in itertools.pairwise(started)]
    assert len(started) == 3 and all(gap >= 0.095 for gap in gaps), gaps
    async with pace.turn(uuid.UUID(int=9)):  # another session does not wait for this one
        pass


async def test_a_cancelled_waiter_gives_its_place_back() -> None:
    pace = CheckPace(interval_s=0.05, max_waiting=1)
    gate = asyncio.Event()

    async def hold() -> None:
        async with pace.turn(SID):
            await gate.wait()

    holder = asyncio.create_task(hold())
    await asyncio.sleep(0.01)
    waiter = asyncio.create_task(hold())
    await asyncio.sleep(0.01)
    waiter.cancel()
    await asyncio.gather(waiter, return_exceptions=True)
    gate.set()
    await holder
    async with pace.turn(SID):  # would be refused if the cancelled one still counted
        pass


@pytest.mark.parametrize(
    ("value", "digits"),
    [
        ("5511999990001", "5511999990001"),
        ("+55 (11) 99999-0001", "5511999990001"),
        ("5511999990001@s.whatsapp.net", "5511999990001"),
        ("5511999990001:3@s.whatsapp.net", "5511999990001"),
    ],
)
def test_contact_ids_become_digits(value: str, digits: str) -> None:
    assert contact_number(value) == digits


@pytest.mark.parametrize(
    "value", ["abc", "123", "120363000000@g.us", "123456789@lid", "../etc", "status@broadcast"]
)
def test_other_contact_ids_are_refused(value: str) -> None:
    with pytest.raises(InvalidJid):
        contact_number(value)


def _image(fmt: str, size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (10, 120, 200)).save(out, fmt)
    return out.getvalue()


def test_profile_pictures_become_square_jpegs_of_at_most_640() -> None:
    for data, side in ((_image("PNG", (1000, 700)), 640), (_image("JPEG", (300, 500)), 300)):
        with Image.open(io.BytesIO(to_profile_jpeg(data))) as got:
            assert (got.format, got.size) == ("JPEG", (side, side))
    for bad in (_image("GIF", (10, 10)), b"not an image"):
        with pytest.raises(MediaError):
            to_profile_jpeg(bad)


def test_simnet_directory_survives_a_restart() -> None:
    media = MediaStore()
    directory = Directory(registered={"5511900000001"}, check_interval_ms=250)
    directory.set_about("5511900000001", "oi")
    picture_id = directory.set_picture(media, "5511900000001", _image("JPEG", (8, 8)))
    directory.blocked["5511900000001"] = {"5511900000002"}
    again = Directory.restore(directory.snapshot())
    assert again.registered == directory.registered and again.check_interval_ms == 250
    assert again.profiles["5511900000001"] == directory.profiles["5511900000001"]
    assert again.profiles["5511900000001"].picture_id == picture_id
    assert again.blocks("5511900000001", "5511900000002")


def test_simnet_state_file_holds_the_directory(tmp_path: Path) -> None:
    net = Network(SimnetConfig())
    net.directory.registered.add("5511900000001")
    net.directory.blocked["5511900000001"] = {"5511900000002"}
    restored = Network(SimnetConfig())
    persist.restore(restored, orjson.loads(orjson.dumps(persist.snapshot(net))), tmp_path)
    assert restored.directory.registered == {"5511900000001"}
    assert restored.directory.blocks("5511900000001", "5511900000002")


async def test_a_refusal_as_too_fast_slows_the_session_down(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("zaphubd.sessions.contact_cache.PENALTY_MIN_S", 0.2)
    pace = CheckPace(interval_s=0.01, max_waiting=2)
    async with pace.turn(SID):
        pace.slow_down(SID)
    began = time.monotonic()
    async with pace.turn(SID):
        assert time.monotonic() - began >= 0.19
