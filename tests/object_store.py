"""A real S3-compatible server for tests: moto's standalone server mode, as a process on a
free port, and an aiobotocore client to create buckets and look inside them."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiobotocore.session import get_session

from tests.simnet_harness import free_port

ACCESS_KEY = "zaphub-test-access"
SECRET_KEY = "zaphub-test-secret-key-0123456789"
REGION = "us-east-1"
START_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class ObjectStore:
    endpoint: str

    def settings(self, bucket: str) -> dict[str, Any]:
        """The daemon settings that point it at this server's `bucket`."""
        return {
            "media_store": "s3",
            "s3_endpoint": self.endpoint,
            "s3_bucket": bucket,
            "s3_region": REGION,
            "s3_access_key": ACCESS_KEY,
            "s3_secret_key": SECRET_KEY,
        }

    @contextlib.asynccontextmanager
    async def client(self) -> AsyncIterator[Any]:
        creator = get_session().create_client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )
        async with creator as client:
            yield client

    async def keys(self, bucket: str, prefix: str = "") -> dict[str, int]:
        """Every object under `prefix`: key -> size."""
        async with self.client() as s3:
            got = await s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
        return {item["Key"]: item["Size"] for item in got.get("Contents", [])}


def _wait_ready(endpoint: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto_server exited with {process.returncode}")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(endpoint + "/moto-api/", timeout=1),
        ):
            return
        time.sleep(0.1)
    raise RuntimeError(f"moto_server did not answer within {START_TIMEOUT_S:g} s")


@pytest.fixture(scope="session")
def object_store() -> Iterator[ObjectStore]:
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    env = {**os.environ, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_ready(endpoint, process)
        yield ObjectStore(endpoint)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
