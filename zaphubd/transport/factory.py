"""Choose the transport named by ZAPHUB_TRANSPORT (imported lazily: neonize loads a Go runtime)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from zaphubd.db.credentials import PostgresCredentials
from zaphubd.db.database import Database
from zaphubd.settings import Settings
from zaphubd.transport.base import Transport


def build_transport(
    settings: Settings, db: Database, registry: CollectorRegistry | None = None
) -> Transport:
    shared = settings.credentials_store == "postgres"
    if settings.transport == "simnet":
        from zaphubd.transport.credentials import FileCredentials
        from zaphubd.transport.simnet import CREDS_FILE, KEEPALIVE_S, SimnetTransport

        files = FileCredentials(settings.auth_data_dir, CREDS_FILE)
        simnet: Transport = SimnetTransport(
            settings.simnet_url,
            settings.auth_data_dir,
            store=PostgresCredentials(db, legacy=files) if shared else files,
            # Several pings fit in the liveness timeout, as whatsmeow's do in the default.
            keepalive_s=min(KEEPALIVE_S, settings.liveness_timeout_s / 3),
        )
        return simnet
    from zaphubd.transport.neonize import NeonizeTransport
    from zaphubd.transport.neonize_store import SharedStore

    neonize: Transport = NeonizeTransport(
        settings.auth_data_dir,
        settings.max_concurrent_sessions,
        registry=registry,
        shared=SharedStore(db, settings.database_url) if shared else None,
    )
    return neonize
