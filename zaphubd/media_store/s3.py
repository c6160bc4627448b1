"""Media in S3-compatible object storage (any endpoint by URL), through aiobotocore.

One client for the daemon's life; every key is prefixed with ZAPHUB_S3_PREFIX so the bucket
can be shared. The credentials are read from the settings (SecretStr) and never logged.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any

from aiobotocore.session import get_session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from zaphubd.media_store.base import StoredObject, StoreError, check_key

_NOT_FOUND = frozenset({"NoSuchKey", "404", "NotFound"})


class S3Store:
    def __init__(
        self,
        *,
        endpoint: str | None,
        bucket: str,
        region: str,
        access_key: str | None,
        secret_key: str | None,
        prefix: str,
    ) -> None:
        self._bucket = bucket
        self._prefix = prefix
        self._options: dict[str, Any] = {
            "endpoint_url": endpoint,
            "region_name": region,
            "aws_access_key_id": access_key,
            "aws_secret_access_key": secret_key,
            "config": Config(retries={"max_attempts": 3}, connect_timeout=10, read_timeout=60),
        }
        self._stack = contextlib.AsyncExitStack()
        self._client: Any = None

    async def start(self) -> None:
        creator = get_session().create_client("s3", **self._options)
        self._client = await self._stack.enter_async_context(creator)

    async def close(self) -> None:
        await self._stack.aclose()

    def _name(self, key: str) -> str:
        return self._prefix + check_key(key)

    async def put(self, key: str, data: bytes) -> None:
        try:
            await self._client.put_object(Bucket=self._bucket, Key=self._name(key), Body=data)
        except (BotoCoreError, ClientError) as err:
            raise StoreError(f"media not written to S3: {_describe(err)}") from err

    async def get(self, key: str) -> bytes | None:
        try:
            got = await self._client.get_object(Bucket=self._bucket, Key=self._name(key))
            async with got["Body"] as body:
                data: bytes = await body.read()
                return data
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") in _NOT_FOUND:
                return None
            raise StoreError(f"media not read from S3: {_describe(err)}") from err
        except BotoCoreError as err:
            raise StoreError(f"media not read from S3: {_describe(err)}") from err

    async def delete(self, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):  # DeleteObjects takes 1000 keys at most
            objects = [{"Key": self._name(k)} for k in keys[start : start + 1000]]
            try:
                await self._client.delete_objects(
                    Bucket=self._bucket, Delete={"Objects": objects, "Quiet": True}
                )
            except (BotoCoreError, ClientError) as err:
                raise StoreError(f"media not deleted from S3: {_describe(err)}") from err

    async def scan(self, prefix: str, limit: int) -> list[StoredObject]:
        now = dt.datetime.now(dt.UTC)
        try:
            got = await self._client.list_objects_v2(
                Bucket=self._bucket, Prefix=self._prefix + prefix, MaxKeys=min(limit, 1000)
            )
        except (BotoCoreError, ClientError) as err:
            raise StoreError(f"media not listed in S3: {_describe(err)}") from err
        return [
            StoredObject(
                item["Key"][len(self._prefix) :], (now - item["LastModified"]).total_seconds()
            )
            for item in got.get("Contents", [])
        ]

    async def folders(self, prefix: str, limit: int) -> list[str]:
        start = self._prefix + prefix
        try:
            got = await self._client.list_objects_v2(
                Bucket=self._bucket, Prefix=start, Delimiter="/", MaxKeys=min(limit, 1000)
            )
        except (BotoCoreError, ClientError) as err:
            raise StoreError(f"media not listed in S3: {_describe(err)}") from err
        return [p["Prefix"][len(start) :].rstrip("/") for p in got.get("CommonPrefixes", [])]


def _describe(err: Exception) -> str:
    if isinstance(err, ClientError):
        error = err.response.get("Error", {})
        return f"{error.get('Code', 'error')}: {error.get('Message', '')}".strip()
    return type(err).__name__
