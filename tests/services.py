"""Postgres and Redis for the test session, started on loopback in a temporary directory.

The servers come from scripts/localservices.py (the same code `make run` uses). Each test
gets a fresh database cloned from a template that already has every migration applied, and
an empty Redis.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_DB = "zaphub_template"


def _load_localservices():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(
        "localservices", ROOT / "scripts/localservices.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["localservices"] = module
    spec.loader.exec_module(module)
    return module


localservices = _load_localservices()


@dataclass
class LocalServices:
    tmp: Path
    postgres: object
    redis: object
    pg_admin_url: str
    redis_url: str

    def pg_url(self, database: str) -> str:
        return self.pg_admin_url.rsplit("/", 1)[0] + "/" + database

    def stop(self) -> None:
        self.postgres.stop()  # type: ignore[attr-defined]
        self.redis.stop()  # type: ignore[attr-defined]
        shutil.rmtree(self.tmp, ignore_errors=True)


def start_services() -> LocalServices:
    tmp = Path(tempfile.mkdtemp(prefix="zaphubd-test-"))
    os.chmod(tmp, 0o755)  # the postgres user must reach its data directory when we are root
    postgres = localservices.Postgres(tmp / "postgres", localservices.free_port())
    postgres.ensure(fast=True)
    redis = localservices.Redis(tmp / "redis", localservices.free_port())
    redis.ensure(appendonly=False)
    return LocalServices(tmp, postgres, redis, postgres.url, redis.url)


async def create_template(services: LocalServices) -> None:
    """The migrated template every test database is cloned from."""
    from zaphubd.db.migrations import migrate

    admin = await asyncpg.connect(services.pg_admin_url)
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {TEMPLATE_DB}")
        await admin.execute(f"CREATE DATABASE {TEMPLATE_DB}")
    finally:
        await admin.close()
    conn = await asyncpg.connect(services.pg_url(TEMPLATE_DB))
    try:
        await migrate(conn)
    finally:
        await conn.close()


async def clone_database(services: LocalServices, template: str = TEMPLATE_DB) -> str:
    name = "t_" + uuid.uuid4().hex[:16]
    admin = await asyncpg.connect(services.pg_admin_url)
    try:
        await admin.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
    finally:
        await admin.close()
    return services.pg_url(name)


async def drop_database(services: LocalServices, url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin = await asyncpg.connect(services.pg_admin_url)
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await admin.close()
