"""The dashboard in a real browser, against the real daemon and simnet: sign in with the
key, create a session, see its QR code, scan it through simnet, and see the page say who
it is connected as, without a reload. Screenshots of each step go to the test's folder
(and, with ZAPHUB_UI_SCREENSHOTS=docs/images, to the docs)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tests.browser import Browser
from tests.gateway import StartGateway

KEY = "dashboard-admin-key-0123456789abcdef"
ME = "5511900000141"


async def test_sign_in_create_scan_and_see_it_connected(
    gateway: StartGateway, browser: Browser
) -> None:
    gw = await gateway(api_key=KEY)
    base = str(gw.api.make_url("/"))
    await browser.open(base + "ui")
    await browser.wait_for("#sign-in h1", text="Sign in")
    await browser.fill("#key", KEY)
    await browser.click("#key-form button")
    await browser.wait_for("#no-sessions", text="No sessions yet")
    await browser.screenshot("1-sessions")

    await browser.fill("#new-label", "Support desk")
    await browser.click("#create-form button")
    await browser.wait_for("#session-title", text="Support desk")
    qr = await browser.wait_for("#qr")
    await browser.script("return arguments[0].decode()", qr)  # drawn, not just present
    assert (await browser.script("return arguments[0].src", qr)).startswith("blob:")
    await browser.wait_for("#qr-countdown", text="expires in")
    await browser.screenshot("2-qr")
    sid = (await browser.url()).rsplit("/", 1)[1]
    assert "api_key" not in await browser.url() and KEY not in "".join(await browser.requests())

    await gw.net.post("/control/scan", {"device_id": sid, "phone": ME})
    await browser.wait_for("#connected-as", text=f"Connected as +{ME}")
    assert not await browser.script("return document.getElementById('qr-box').offsetParent")
    await browser.screenshot("3-connected")

    await browser.click("a", text="All sessions")
    await browser.wait_for(f"tr[data-session='{sid}']", text="connected")
    await browser.mobile()
    assert await browser.script("return document.documentElement.scrollWidth") <= 375
    await browser.screenshot("4-sessions-narrow")

    assert await browser.console_errors() == []
    assert await browser.foreign_requests(base) == []
    _publish_screenshots(browser.screenshots)


def _publish_screenshots(folder: Path) -> None:
    target = os.environ.get("ZAPHUB_UI_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        for shot in folder.glob("*.png"):
            shutil.copy(shot, Path(target) / f"dashboard-{shot.name}")


async def test_with_auth_off_the_page_says_so(gateway: StartGateway, browser: Browser) -> None:
    gw = await gateway()
    await browser.open(str(gw.api.make_url("/ui")))
    await browser.wait_for("#auth-off", text="Authentication is off")
    await browser.wait_for("#no-sessions", text="No sessions yet")  # no key asked for
    assert await browser.console_errors() == []
