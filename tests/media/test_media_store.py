"""The media store's keys and local files, its settings, and the send route's OpenAPI body."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from zaphubd.errors import ConfigError
from zaphubd.media_store.base import check_key, inbound_key, session_prefix, staged_key
from zaphubd.media_store.local import LocalStore
from zaphubd.settings import load_settings

SESSION = uuid.UUID("6f1c8a52-3b7e-4d3a-9b8e-0c1d2e3f4a5b")


def test_keys_are_made_of_uuids_and_hashes_only() -> None:
    key = inbound_key(SESSION, "../../etc/passwd")
    assert key.startswith(session_prefix(SESSION)) and ".." not in key
    assert key == inbound_key(SESSION, "../../etc/passwd")  # the same message, the same key
    assert check_key(staged_key()) and check_key(key) == key
    for bad in ("staged/../../x", f"inbound/{SESSION}/../../x", "/etc/passwd", ""):
        with pytest.raises(ValueError):
            check_key(bad)


async def test_local_store_writes_reads_lists_and_deletes(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "media")
    await store.start()
    assert not (tmp_path / "media").exists()  # nothing on disk until something is kept
    first, second = inbound_key(SESSION, "A"), inbound_key(SESSION, "B")
    await store.put(first, b"one")
    await store.put(second, b"two")
    assert await store.get(first) == b"one"
    assert await store.get(inbound_key(SESSION, "C")) is None
    assert (tmp_path / "media").stat().st_mode & 0o777 == 0o700
    assert await store.folders("inbound/", 10) == [str(SESSION)]
    assert sorted(o.key for o in await store.scan(session_prefix(SESSION), 10)) == sorted(
        [first, second]
    )
    await store.delete([first, inbound_key(SESSION, "never")])
    assert [o.key for o in await store.scan("inbound/", 10)] == [second]
    assert list((tmp_path / "media" / "inbound" / str(SESSION)).glob(".*")) == []  # no temp left
    with pytest.raises(ValueError):
        await store.get("../outside")


def _env(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    monkeypatch.setenv("ZAPHUB_ENV_FILE", str(Path(__file__).parents[1] / "unit/empty.env"))
    monkeypatch.setenv("ZAPHUB_DATABASE_URL", "postgresql://x@h/db")
    for name, value in values.items():
        monkeypatch.setenv("ZAPHUB_" + name.upper(), value)


def test_s3_settings_need_a_bucket_and_hide_the_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    _env(monkeypatch, media_store="s3", s3_endpoint="ftp://x")
    with pytest.raises(ConfigError) as err:
        load_settings()
    text = str(err.value.problems) if hasattr(err.value, "problems") else str(err.value)
    assert "ZAPHUB_S3_ENDPOINT" in text
    _env(monkeypatch, s3_endpoint="http://s3.test:9000/")
    with pytest.raises(ConfigError):
        load_settings()  # no bucket
    _env(monkeypatch, s3_bucket="b", s3_secret_key="very-secret-key-value", public_url="")
    settings = load_settings()
    assert settings.s3_endpoint == "http://s3.test:9000" and settings.public_url is None
    shown = settings.masked()
    assert shown["ZAPHUB_S3_SECRET_KEY"] == "********"
    assert "very-secret-key-value" not in repr(settings)


async def test_the_send_route_documents_a_multipart_body(api: Any) -> None:
    client = await api()
    spec = await (await client.get("/api/docs/openapi.json")).json()
    body = spec["paths"]["/api/v1/sessions/{id}/messages"]["post"]["requestBody"]
    assert set(body["content"]) == {"application/json", "multipart/form-data"}
    form = body["content"]["multipart/form-data"]["schema"]
    assert form["required"] == ["payload", "file"]
    assert form["properties"]["file"]["format"] == "binary"
    assert "$ref" in body["content"]["application/json"]["schema"]
