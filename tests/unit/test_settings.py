"""Settings: validation messages, masking, and the example file documenting every variable."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from zaphubd.errors import ConfigError
from zaphubd.settings import Settings, cluster_nodes, load_settings, redact_url

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("ZAPHUB_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ZAPHUB_ENV_FILE", str(ROOT / "tests/unit/empty.env"))


def test_every_setting_is_documented_in_the_example() -> None:
    example = (ROOT / "config/zaphubd.env.example").read_text()
    documented = set(re.findall(r"^#?(ZAPHUB_[A-Z0-9_]+)=", example, re.MULTILINE))
    fields = {"ZAPHUB_" + name.upper() for name in Settings.model_fields}
    assert fields == documented


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZAPHUB_DATABASE_URL", "postgresql://x@h/db")
    settings = load_settings()
    assert (settings.http_host, settings.http_port) == ("127.0.0.1", 3000)
    assert settings.max_concurrent_sessions == 100
    assert settings.transport == "neonize"
    assert settings.webhook_timeout_ms == 10_000 and settings.webhook_max_retries == 3
    assert settings.media_max_bytes == 50 * 1024 * 1024
    assert settings.api_key is None


def test_every_problem_is_reported_without_echoing_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZAPHUB_API_KEY", "short-secret")
    monkeypatch.setenv("ZAPHUB_REDIS_URL", "http://nope")
    monkeypatch.setenv("ZAPHUB_NODE_ID", "bad node/id")
    with pytest.raises(ConfigError) as err:
        load_settings()
    problems = err.value.problems
    assert "ZAPHUB_DATABASE_URL: is required" in problems
    assert (
        "ZAPHUB_REDIS_URL: must be a redis://, rediss://, unix://, redis+cluster:// or "
        "rediss+cluster:// URL"
    ) in problems
    assert any(p.startswith("ZAPHUB_API_KEY: must be at least 16") for p in problems)
    assert any(p.startswith("ZAPHUB_NODE_ID:") for p in problems)
    assert "short-secret" not in str(problems)


def test_placeholder_secrets_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZAPHUB_DATABASE_URL", "postgresql://x@h/db")
    monkeypatch.setenv("ZAPHUB_WEBHOOK_SECRET", "changeme")
    with pytest.raises(ConfigError, match="ZAPHUB_WEBHOOK_SECRET: is a placeholder"):
        load_settings()


def test_env_file_is_read_and_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = tmp_path / "z.env"
    env_file.write_text("ZAPHUB_DATABASE_URL=postgresql://f@h/db\nZAPHUB_HTTP_PORT=4000\n")
    monkeypatch.setenv("ZAPHUB_ENV_FILE", str(env_file))
    monkeypatch.setenv("ZAPHUB_HTTP_PORT", "5000")
    settings = load_settings()
    assert settings.database_url == "postgresql://f@h/db"
    assert settings.http_port == 5000


def test_missing_env_file_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZAPHUB_ENV_FILE", "/nonexistent/zaphubd.env")
    with pytest.raises(
        ConfigError, match=r"ZAPHUB_ENV_FILE: /nonexistent/zaphubd\.env does not exist"
    ):
        load_settings()


def test_masked_hides_secrets_and_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZAPHUB_DATABASE_URL", "postgresql://u:p4ss@h/db")
    monkeypatch.setenv("ZAPHUB_API_KEY", "a" * 20)
    shown = load_settings().masked()
    assert shown["ZAPHUB_DATABASE_URL"] == "postgresql://u:***@h/db"
    assert shown["ZAPHUB_API_KEY"] == "********"
    assert shown["ZAPHUB_WEBHOOK_SECRET"] == "(unset)"
    assert "a" * 20 not in repr(load_settings())


def test_redact_url_leaves_urls_without_password() -> None:
    assert redact_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
    assert redact_url("redis://:pw@host:6379/0") == "redis://:***@host:6379/0"


def test_a_redis_cluster_is_named_by_its_url_or_the_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZAPHUB_DATABASE_URL", "postgresql://x@h/db")
    assert not load_settings().redis_cluster
    monkeypatch.setenv("ZAPHUB_REDIS_URL", "redis+cluster://:pw@10.0.0.1:7000,[::1]:7001")
    url = load_settings().redis_url
    assert cluster_nodes(url) == [("10.0.0.1", 7000), ("::1", 7001)]
    assert redact_url(url) == "redis+cluster://:***@10.0.0.1:7000,[::1]:7001"
    monkeypatch.setenv("ZAPHUB_REDIS_URL", "redis://10.0.0.1:7000")
    monkeypatch.setenv("ZAPHUB_REDIS_CLUSTER", "true")
    assert load_settings().redis_cluster


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("redis+cluster://h1:7000,h2", "a cluster URL lists host:port nodes separated by commas"),
        ("redis+cluster://h1:7000/2", "a cluster has only database 0"),
    ],
)
def test_a_malformed_cluster_url_is_refused(
    monkeypatch: pytest.MonkeyPatch, url: str, problem: str
) -> None:
    monkeypatch.setenv("ZAPHUB_DATABASE_URL", "postgresql://x@h/db")
    monkeypatch.setenv("ZAPHUB_REDIS_URL", url)
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert err.value.problems == [f"ZAPHUB_REDIS_URL: {problem}"]


def test_the_cluster_switch_needs_a_tcp_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZAPHUB_DATABASE_URL", "postgresql://x@h/db")
    monkeypatch.setenv("ZAPHUB_REDIS_URL", "unix:///run/redis.sock")
    monkeypatch.setenv("ZAPHUB_REDIS_CLUSTER", "true")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert "needs a redis:// or rediss:// URL" in err.value.problems[0]


def test_the_global_webhook_is_checked_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZAPHUB_DATABASE_URL", "postgresql://x@h/db")
    monkeypatch.setenv("ZAPHUB_GLOBAL_WEBHOOK_URL", "https://hooks.example/all")
    monkeypatch.setenv("ZAPHUB_GLOBAL_WEBHOOK_EVENTS", " message.*, session.connected ,")
    settings = load_settings()
    assert settings.global_webhook_patterns == ["message.*", "session.connected"]
    assert settings.webhooks_per_session == 10
    good = dict(os.environ)
    for name, value, says in [
        ("ZAPHUB_GLOBAL_WEBHOOK_URL", "http://10.0.0.7/hook", "forbidden address"),
        ("ZAPHUB_GLOBAL_WEBHOOK_URL", "ftp://hooks.example/all", "scheme"),
        ("ZAPHUB_GLOBAL_WEBHOOK_EVENTS", "message.*,nope", "nope"),
        ("ZAPHUB_GLOBAL_WEBHOOK_SECRET", "short", "16 characters"),
    ]:
        with monkeypatch.context() as case:
            case.setenv(name, value)
            with pytest.raises(ConfigError) as caught:
                load_settings()
        assert says in str(caught.value), (name, caught.value)
        assert os.environ.get(name) == good.get(name)
    monkeypatch.setenv("ZAPHUB_WEBHOOK_ALLOW_PRIVATE", "true")
    monkeypatch.setenv("ZAPHUB_GLOBAL_WEBHOOK_URL", "http://10.0.0.7/hook")
    assert load_settings().global_webhook_url == "http://10.0.0.7/hook"
