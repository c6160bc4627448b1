"""The queue tests run on a single Redis and on a 3-master Redis Cluster."""

from __future__ import annotations

import pytest

from tests.conftest import redis_backend_from_env

# Under `make test-cluster` the single-Redis half already ran in `make test`.
BACKENDS = ["cluster"] if redis_backend_from_env() == "cluster" else ["single", "cluster"]


@pytest.fixture(params=BACKENDS)
def redis_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)
