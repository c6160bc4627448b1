"""Fixtures of the media tests: the S3-compatible server, webhook receivers, media files."""

from tests.messaging.conftest import media_server
from tests.object_store import object_store
from tests.webhooks.conftest import receiver_factory

__all__ = ["media_server", "object_store", "receiver_factory"]
