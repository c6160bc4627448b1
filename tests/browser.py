"""A real headless Chromium for browser tests (the `browser` fixture of tests/ui).

Debian's `chromium` and `chromium-driver` driven by Selenium, with explicit paths so Selenium
Manager never downloads a driver or a browser (the machines reach no host outside the package
registries). `scripts/system-deps --browser` installs the two packages when they are missing.

Selenium is synchronous and the daemon under test runs in-process on the test's event loop,
so every public method of `Browser` is async and runs its WebDriver call in a worker thread
(`asyncio.to_thread`): a blocking call would freeze the daemon the page is waiting for.

Chromium reaches only the loopback (`localhost`, 127.0.0.1, [::1]) and the names mapped with
`hosts=`; any other host, an IP literal too, fails to resolve. A page that reaches for a CDN
so sends no traffic off the machine, and the request still shows in `foreign_requests()`.

`wait_for` returns a Selenium element, whose own methods block: call them through
`asyncio.to_thread` too. A window of 1280x900 gives a viewport of about 1280x757.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
DESKTOP = (1280, 900)
MOBILE = (375, 812)
#: Schemes whose URLs the page makes itself, with no request to any server.
LOCAL_SCHEMES = ("data", "blob")
DEFAULT_PORTS = {"http": 80, "https": 443}

T = TypeVar("T")


def ensure_installed() -> None:
    """Install Debian's chromium and chromium-driver (through system-deps) when missing."""
    if CHROMIUM.exists() and CHROMEDRIVER.exists():
        return
    subprocess.run([str(ROOT / "scripts" / "system-deps"), "--browser"], check=True)
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        raise RuntimeError(f"scripts/system-deps --browser did not install {missing}")


def origin(url: str) -> str:
    """scheme://host:port of `url`, the default port spelled out, for comparing origins."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or DEFAULT_PORTS.get(scheme)
    return f"{scheme}://{(parts.hostname or '').lower()}:{port}"


def chrome_options(size: tuple[int, int], hosts: Mapping[str, str]) -> webdriver.ChromeOptions:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    # /dev/shm is small in containers; --no-sandbox because the tests run as root.
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(arg)
    options.add_argument(f"--window-size={size[0]},{size[1]}")
    mapped = [f"MAP {name} {address}" for name, address in hosts.items()]
    loopback = ("localhost", "127.0.0.1", "[::1]")
    rules = [*mapped, "MAP * ~NOTFOUND", *(f"EXCLUDE {host}" for host in loopback)]
    options.add_argument(f"--host-resolver-rules={', '.join(rules)}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    return options


def chrome_service() -> Service:
    # SE_OFFLINE keeps Selenium Manager from downloading anything should it ever run.
    env = {**os.environ, "SE_OFFLINE": "true"}
    return Service(executable_path=str(CHROMEDRIVER), env=env)


def requested_url(entry: Mapping[str, Any]) -> str | None:
    """The URL of a performance-log entry that is a request the page sent, else None."""
    message = json.loads(entry["message"])["message"]
    if message.get("method") != "Network.requestWillBeSent":
        return None
    url: str = message["params"]["request"]["url"]
    return url


@dataclass
class Browser:
    """One headless Chromium window; its logs are kept from the start (WebDriver drains them)."""

    driver: webdriver.Chrome
    screenshots: Path
    _console: list[dict[str, Any]] = field(default_factory=list)
    _requests: list[str] = field(default_factory=list)

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.to_thread(fn, *args)

    async def open(self, url: str) -> None:
        await self._call(self.driver.get, url)

    async def resize(self, width: int, height: int) -> None:
        await self._call(self.driver.set_window_size, width, height)

    async def mobile(self) -> None:
        """A phone-sized window (375 px wide) for the narrow-screen checks."""
        await self.resize(*MOBILE)

    async def screenshot(self, name: str) -> Path:
        """Save a PNG of the viewport as screenshots/<name>.png and return its path."""
        self.screenshots.mkdir(parents=True, exist_ok=True)
        path = self.screenshots / f"{name}.png"
        saved = await self._call(self.driver.save_screenshot, str(path))
        assert saved, f"screenshot {path} was not written"
        return path

    async def text(self) -> str:
        """The page's visible text."""
        body = await self._call(self.driver.find_element, By.TAG_NAME, "body")
        return await self._call(lambda: body.text)

    async def wait_for(
        self, css_selector: str, text: str | None = None, timeout_s: float = 10
    ) -> WebElement:
        """The first visible element matching `css_selector` (containing `text`, if given)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = await self._call(self._visible, css_selector, text)
            if found is not None:
                return found
            await asyncio.sleep(0.1)
        wanted = css_selector if text is None else f"{css_selector} containing {text!r}"
        page = (await self.text())[:2000]
        raise AssertionError(f"no visible {wanted} within {timeout_s}s; the page shows:\n{page}")

    async def fill(self, css_selector: str, value: str) -> None:
        """Type `value` into the visible field, as a user would (keyboard events)."""
        field_ = await self.wait_for(css_selector)
        await self._call(field_.clear)
        await self._call(field_.send_keys, value)

    async def click(self, css_selector: str, text: str | None = None) -> None:
        """Click the element; again if the page redrew it between finding and clicking."""
        for _ in range(20):
            element = await self.wait_for(css_selector, text)
            try:
                await self._call(element.click)
                return
            except StaleElementReferenceException:
                await asyncio.sleep(0.1)
        raise AssertionError(f"{css_selector} kept being redrawn; it could not be clicked")

    async def script(self, source: str, *args: Any) -> Any:
        """The value of `source` (a function body) run in the page."""
        return await self._call(self.driver.execute_script, source, *args)

    async def url(self) -> str:
        return await self._call(lambda: self.driver.current_url)

    def _visible(self, css_selector: str, text: str | None) -> WebElement | None:
        for element in self.driver.find_elements(By.CSS_SELECTOR, css_selector):
            try:
                if element.is_displayed() and (text is None or text in element.text):
                    return element
            except StaleElementReferenceException:
                continue  # re-rendered between the lookup and the check
        return None

    async def console_errors(self) -> list[dict[str, Any]]:
        """Every console entry of level SEVERE since the browser started."""
        await self._call(self._drain_logs)
        return [entry for entry in self._console if entry["level"] == "SEVERE"]

    async def requests(self) -> list[str]:
        """Every URL the page requested since the browser started, in order."""
        await self._call(self._drain_logs)
        return list(self._requests)

    async def foreign_requests(self, own_origin: str) -> list[str]:
        """The requested URLs of another origin than `own_origin` (data: and blob: aside)."""
        mine = origin(own_origin)
        return [
            url
            for url in await self.requests()
            if urlsplit(url).scheme not in LOCAL_SCHEMES and origin(url) != mine
        ]

    def _drain_logs(self) -> None:
        self._console.extend(self._log("browser"))
        for entry in self._log("performance"):
            url = requested_url(entry)
            if url is not None:
                self._requests.append(url)

    def _log(self, kind: str) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = self.driver.get_log(kind)  # type: ignore[no-untyped-call]
        return entries

    async def close(self) -> None:
        await self._call(self.driver.quit)


def _start_driver(size: tuple[int, int], hosts: Mapping[str, str]) -> webdriver.Chrome:
    ensure_installed()
    return webdriver.Chrome(options=chrome_options(size, hosts), service=chrome_service())


async def start_browser(
    screenshots: Path, size: tuple[int, int] = DESKTOP, hosts: Mapping[str, str] | None = None
) -> Browser:
    """A headless Chromium saving screenshots into `screenshots`; `hosts` maps extra host
    names to addresses (say a public-looking name to 127.0.0.1)."""
    driver = await asyncio.to_thread(_start_driver, size, dict(hosts or {}))
    return Browser(driver, screenshots)


async def browser_fixture(tmp_path: Path) -> AsyncIterator[Browser]:
    browser = await start_browser(tmp_path / "screenshots")
    try:
        yield browser
    finally:
        await browser.close()
