"""Every ZAPHUB_* setting, validated once before the event loop starts.

Values come from the environment, and from the env file named by ZAPHUB_ENV_FILE
(default /etc/zaphubd/zaphubd.env when it exists); the environment wins. Problems are
collected into one `ConfigError` with one sentence per variable: `__main__` prints them and
exits with EX_CONFIG. config/zaphubd.env.example documents every variable.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from zaphubd.errors import ConfigError
from zaphubd.event_types import is_valid_pattern
from zaphubd.netguard import UrlRefused, check_url

ENV_PREFIX = "ZAPHUB_"
DEFAULT_ENV_FILE = Path("/etc/zaphubd/zaphubd.env")
MIB = 1024 * 1024
#: Kept here, not in queue/redis.py, so validating settings imports no Redis client.
CLUSTER_SCHEMES = ("redis+cluster", "rediss+cluster")
PLACEHOLDERS = frozenset({"changeme", "change-me", "change_me", "secret", "password", "xxx"})


def _default_auth_dir() -> Path:
    # Under systemd, StateDirectory= exports STATE_DIRECTORY (/var/lib/zaphubd).
    state = os.environ.get("STATE_DIRECTORY")
    return Path(state.split(":")[0]) / "auth" if state else Path("auth_data")


def _default_media_dir() -> Path:
    # Beside the credentials: $STATE_DIRECTORY/media under systemd, ./media_data otherwise.
    state = os.environ.get("STATE_DIRECTORY")
    return Path(state.split(":")[0]) / "media" if state else Path("media_data")


class Settings(BaseSettings):
    """The daemon's configuration. Field names are the variable names without the prefix."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        extra="ignore",
        frozen=True,
        hide_input_in_errors=True,
    )

    database_url: str = Field(description="Postgres URL (postgresql://user:pass@host:port/db)")
    redis_url: str = Field(
        "redis://127.0.0.1:6379/0",
        description="Redis URL; a cluster: redis+cluster://host:port[,host:port...]",
    )
    redis_cluster: bool = Field(
        False, description="treat ZAPHUB_REDIS_URL (redis:// or rediss://) as a cluster node"
    )
    http_host: str = Field("127.0.0.1", description="address the API listens on")
    http_port: int = Field(3000, ge=1, le=65535)
    http_max_body_bytes: int = Field(16 * MIB, ge=1024, description="request body limit")
    api_key: SecretStr | None = Field(None, description="unset: auth off (a WARNING at start)")
    auth_data_dir: Path = Field(default_factory=_default_auth_dir)
    credentials_store: Literal["postgres", "local"] = Field(
        "postgres",
        description="where session credentials live: postgres (shared by every node) or "
        "local (files under ZAPHUB_AUTH_DATA_DIR, single node only)",
    )
    max_concurrent_sessions: int = Field(100, ge=1, le=100_000)
    transport: Literal["neonize", "simnet"] = "neonize"
    simnet_url: str = "ws://127.0.0.1:7781/ws"
    webhook_timeout_ms: int = Field(10_000, ge=100, le=300_000)
    webhook_max_retries: int = Field(3, ge=0, le=20)
    webhook_backoff_base_ms: int = Field(2_000, ge=10, le=3_600_000)
    webhook_secret: SecretStr | None = None
    webhook_allow_private: bool = False
    webhooks_per_session: int = Field(
        10, ge=1, le=100, description="webhooks one session may have besides its webhook_url"
    )
    global_webhook_url: str | None = Field(
        None, description="a webhook that receives the events of every session"
    )
    global_webhook_secret: SecretStr | None = None
    global_webhook_events: str = Field(
        "", description="the global webhook's filter: comma-separated names and wildcards"
    )
    media_max_bytes: int = Field(50 * MIB, ge=1024)
    media_timeout_s: float = Field(60.0, gt=0, le=3600)
    media_allow_private: bool = False
    public_url: str | None = Field(
        None, description="the API's public base URL, for absolute mediaUrl links in webhooks"
    )
    media_store: Literal["local", "s3"] = Field(
        "local", description="where stored media and staged uploads live: local files or S3"
    )
    media_dir: Path = Field(default_factory=_default_media_dir)
    inbound_media_max_bytes: int = Field(
        50 * MIB, ge=1024, description="largest inbound media stored (config.storeMedia)"
    )
    media_store_concurrency: int = Field(
        4, ge=1, le=100, description="inbound media downloads stored at once per node"
    )
    upload_stale_s: float = Field(
        3600.0, ge=60, le=30 * 86_400, description="a staged upload no send holds is removed"
    )
    s3_endpoint: str | None = Field(None, description="S3-compatible endpoint URL")
    s3_bucket: str | None = None
    s3_region: str = "us-east-1"
    s3_access_key: SecretStr | None = None
    s3_secret_key: SecretStr | None = None
    s3_prefix: str = Field("zaphubd/", max_length=200, description="key prefix in the bucket")
    indoubt_sends: Literal["resend", "fail"] = "resend"
    node_id: str = Field(default_factory=socket.gethostname, min_length=1, max_length=64)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["auto", "journal", "text", "json"] = "auto"
    db_pool_min: int = Field(2, ge=1, le=100)
    db_pool_max: int = Field(20, ge=1, le=500)
    startup_timeout_s: float = Field(30.0, ge=0, le=3600)
    shutdown_timeout_s: float = Field(25.0, gt=0, le=3600)
    queue_visibility_timeout_s: float = Field(60.0, ge=1, le=86_400)
    send_prefetch: int = Field(
        32, ge=1, le=1000, description="pending sends one session's lane holds in memory"
    )
    send_prefetch_total: int = Field(
        4096, ge=1, le=1_000_000, description="pending sends all lanes hold in memory together"
    )
    send_poll_s: float = Field(
        30.0, ge=0.5, le=3600, description="an idle lane reads its queue again this often"
    )
    session_lease_ttl_s: float = Field(30.0, ge=3, le=3600)
    reconnect_base_s: float = Field(5.0, gt=0, le=3600)
    reconnect_cap_s: float = Field(300.0, gt=0, le=86_400)
    liveness_timeout_s: float = Field(
        90.0,
        ge=3,
        le=3600,
        description="a connection whose keep-alives go unanswered this long is reconnected",
    )
    recovery_starts_per_s: float = Field(100.0, gt=0, le=10_000)
    stream_max_per_key: int = Field(
        10, ge=1, le=10_000, description="event streams one key may hold open on a node"
    )
    stream_max_total: int = Field(1000, ge=1, le=100_000, description="event streams per node")
    stream_buffer_events: int = Field(
        500, ge=10, le=100_000, description="events a stream holds for a slow reader"
    )
    stream_heartbeat_s: float = Field(15.0, ge=1, le=300)
    stream_poll_s: float = Field(
        1.0, gt=0, le=60, description="how often streams look for the other nodes' events"
    )
    stream_token_ttl_s: int = Field(60, ge=5, le=3600)
    contacts_check_interval_ms: int = Field(
        1000, ge=0, le=600_000, description="a session's contact checks to WhatsApp this far apart"
    )
    contacts_check_max_waiting: int = Field(
        10, ge=1, le=1000, description="contact checks one session may have waiting (429 beyond)"
    )
    contacts_cache_positive_s: int = Field(7 * 86_400, ge=1, le=90 * 86_400)
    contacts_cache_negative_s: int = Field(6 * 3600, ge=1, le=90 * 86_400)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        if urlsplit(value).scheme not in ("postgres", "postgresql"):
            raise ValueError("must be a postgresql:// URL")
        return value

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str) -> str:
        scheme = urlsplit(value).scheme
        if scheme in CLUSTER_SCHEMES:
            if urlsplit(value).path not in ("", "/", "/0"):
                raise ValueError("a cluster has only database 0")
            cluster_nodes(value)
        elif scheme not in ("redis", "rediss", "unix"):
            raise ValueError(
                "must be a redis://, rediss://, unix://, redis+cluster:// or rediss+cluster:// URL"
            )
        return value

    @field_validator("public_url", "s3_endpoint", mode="before")
    @classmethod
    def _empty_url_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("public_url", "s3_endpoint")
    @classmethod
    def _check_http_url(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in ("http", "https"):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/") if value else value

    @field_validator("simnet_url")
    @classmethod
    def _check_simnet_url(cls, value: str) -> str:
        if urlsplit(value).scheme not in ("ws", "wss"):
            raise ValueError("must be a ws:// or wss:// URL")
        return value

    @field_validator(
        "api_key", "webhook_secret", "global_webhook_url", "global_webhook_secret", mode="before"
    )
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("global_webhook_events")
    @classmethod
    def _check_global_events(cls, value: str) -> str:
        for pattern in _patterns(value) or []:
            if not is_valid_pattern(pattern):
                raise ValueError(f"unknown event type or wildcard: {pattern!r}")
        return value

    @field_validator("api_key", "webhook_secret", "global_webhook_secret")
    @classmethod
    def _no_placeholder(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        secret = value.get_secret_value()
        if secret.strip().lower() in PLACEHOLDERS:
            raise ValueError("is a placeholder; set a real random value")
        if len(secret) < 16:
            raise ValueError("must be at least 16 characters (use `openssl rand -hex 32`)")
        return value

    @field_validator("node_id")
    @classmethod
    def _check_node_id(cls, value: str) -> str:
        if not all(ch.isalnum() or ch in "-_." for ch in value):
            raise ValueError("may contain only letters, digits, '-', '_' and '.'")
        return value

    @property
    def global_webhook_patterns(self) -> list[str] | None:
        """ZAPHUB_GLOBAL_WEBHOOK_EVENTS as a filter; None (unset): every event."""
        return _patterns(self.global_webhook_events)

    @model_validator(mode="after")
    def _check_global_webhook(self) -> Settings:
        # The address-independent rules here; the host's addresses are checked at start
        # (webhooks_ctx), as for a session's webhook_url.
        if self.global_webhook_url is not None:
            try:
                check_url(self.global_webhook_url, allow_private=self.webhook_allow_private)
            except UrlRefused as err:
                raise ValueError(f"ZAPHUB_GLOBAL_WEBHOOK_URL refused: {err}") from None
        return self

    @model_validator(mode="after")
    def _check_pool(self) -> Settings:
        if self.db_pool_min > self.db_pool_max:
            raise ValueError("ZAPHUB_DB_POOL_MIN must not exceed ZAPHUB_DB_POOL_MAX")
        if self.redis_cluster and urlsplit(self.redis_url).scheme == "unix":
            raise ValueError("ZAPHUB_REDIS_CLUSTER needs a redis:// or rediss:// URL, not unix://")
        if self.media_store == "s3" and not self.s3_bucket:
            raise ValueError("ZAPHUB_MEDIA_STORE=s3 needs ZAPHUB_S3_BUCKET")
        return self

    def masked(self) -> dict[str, str]:
        """The effective settings as ZAPHUB_* names, with secrets and URL passwords hidden."""
        shown: dict[str, str] = {}
        for name in type(self).model_fields:
            shown[ENV_PREFIX + name.upper()] = _mask(name, getattr(self, name))
        return shown


def _patterns(value: str) -> list[str] | None:
    patterns = [p.strip() for p in value.split(",") if p.strip()]
    return patterns or None


def cluster_nodes(url: str) -> list[tuple[str, int]]:
    """The (host, port) nodes of a redis+cluster:// URL; ValueError if one is malformed."""
    nodes = []
    for node in urlsplit(url).netloc.rpartition("@")[2].split(","):
        host, _, port = node.strip().rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("a cluster URL lists host:port nodes separated by commas")
        nodes.append((host.strip("[]"), int(port)))
    return nodes


def _mask(name: str, value: Any) -> str:
    if isinstance(value, SecretStr):
        return "********"
    if value is None:
        return "(unset)"
    if name.endswith("_url"):
        return redact_url(str(value))
    return str(value)


def redact_url(url: str) -> str:
    """The URL with its password replaced, fit for logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


def env_file_path() -> Path | None:
    """The env file to read: ZAPHUB_ENV_FILE, else the system default when it exists."""
    named = os.environ.get("ZAPHUB_ENV_FILE")
    if named:
        path = Path(named)
        if not path.is_file():
            raise ConfigError([f"ZAPHUB_ENV_FILE: {path} does not exist or is not a file"])
        return path
    return DEFAULT_ENV_FILE if DEFAULT_ENV_FILE.is_file() else None


def load_settings() -> Settings:
    """Read and validate the configuration; raise ConfigError listing every problem."""
    try:
        return Settings(_env_file=env_file_path())  # type: ignore[call-arg]
    except ValidationError as err:
        raise ConfigError(describe_errors(err)) from None


def describe_errors(err: ValidationError) -> list[str]:
    """One sentence per problem, naming the variable, never echoing its value."""
    problems = []
    for item in err.errors():
        loc = [str(part) for part in item["loc"]]
        name = ENV_PREFIX + loc[0].upper() if loc else "configuration"
        message = str(item["msg"]).removeprefix("Value error, ")
        if item["type"] == "missing":
            message = "is required"
        problems.append(f"{name}: {message}")
    return problems
