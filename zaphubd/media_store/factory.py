"""The media store the settings name."""

from __future__ import annotations

from zaphubd.media_store.base import MediaStore
from zaphubd.media_store.local import LocalStore
from zaphubd.settings import Settings


def build_media_store(settings: Settings) -> MediaStore:
    if settings.media_store == "local":
        return LocalStore(settings.media_dir)
    # Imported only here: botocore's import alone costs a daemon ~15 MiB of RSS.
    from zaphubd.media_store.s3 import S3Store

    assert settings.s3_bucket is not None  # the settings check it
    return S3Store(
        endpoint=settings.s3_endpoint,
        bucket=settings.s3_bucket,
        region=settings.s3_region,
        access_key=_secret(settings.s3_access_key),
        secret_key=_secret(settings.s3_secret_key),
        prefix=settings.s3_prefix,
    )


def _secret(value: object) -> str | None:
    get = getattr(value, "get_secret_value", None)
    return str(get()) if get else None
