"""Choose the transport named by ZAPHUB_TRANSPORT (imported lazily: neonize loads a Go runtime)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from zaphubd.settings import Settings
from zaphubd.transport.base import Transport


def build_transport(settings: Settings, registry: CollectorRegistry | None = None) -> Transport:
    if settings.transport == "simnet":
        from zaphubd.transport.simnet import SimnetTransport

        simnet: Transport = SimnetTransport(settings.simnet_url, settings.auth_data_dir)
        return simnet
    from zaphubd.transport.neonize import NeonizeTransport

    neonize: Transport = NeonizeTransport(
        settings.auth_data_dir, settings.max_concurrent_sessions, registry=registry
    )
    return neonize
