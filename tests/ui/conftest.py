"""Browser tests: `browser` is a real headless Chromium (tests/browser.py)."""

from __future__ import annotations

import pytest

from tests.browser import browser_fixture

browser = pytest.fixture(browser_fixture, name="browser")
