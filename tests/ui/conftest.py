"""Browser tests: `browser` is a real headless Chromium (tests/browser.py); the webhook
receiver comes from the webhook tests."""

from __future__ import annotations

import pytest

from tests.browser import browser_fixture
from tests.webhooks.conftest import receiver_factory

browser = pytest.fixture(browser_fixture, name="browser")
__all__ = ["receiver_factory"]  # a fixture, registered by being imported here
