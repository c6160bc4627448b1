"""The dashboard in a real browser, against the real daemon and simnet: sign in with the
key, create a session, see its QR code, scan it through simnet, and see the page say who
it is connected as, without a reload. Screenshots of each step go to the test's folder
(and, with ZAPHUB_UI_SCREENSHOTS=docs/images, to the docs)."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

from tests.browser import Browser
from tests.gateway import StartGateway
from tests.webhooks.conftest import StartReceiver

KEY = "dashboard-admin-key-0123456789abcdef"
ME = "5511900000141"
FRIEND = "5511988880141"
FIRST_FAILED = """return [...document.querySelectorAll('#delivery-rows tr')]
    .find((row) => row.textContent.includes('HTTP 500')).dataset.delivery"""


async def test_sign_in_create_scan_and_see_it_connected(
    gateway: StartGateway, browser: Browser, receiver_factory: StartReceiver
) -> None:
    hook = await receiver_factory(default=500)  # down until the test says otherwise
    gw = await gateway(api_key=KEY, webhook_allow_private=True, webhook_max_retries=0)
    base = str(gw.api.make_url("/"))
    await browser.open(base + "ui")
    await browser.wait_for("#sign-in h1", text="Sign in")
    await browser.fill("#key", KEY)
    await browser.click("#key-form button")
    await browser.wait_for("#no-sessions", text="No sessions yet")
    await browser.screenshot("1-sessions")

    await browser.fill("#new-label", "Support desk")
    await browser.fill("#new-webhook", hook.url)
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

    await browser.click("#to-messages")
    await browser.fill("#send-to", FRIEND)
    await browser.fill("#send-text", "Your order has shipped")
    await browser.click("#send-form button")
    await browser.wait_for("#message-rows tr", text="Your order has shipped")
    await browser.wait_for("#message-rows td.status", text="delivered", timeout_s=15)
    await browser.screenshot("4-messages")
    [sent] = await gw.net.mailbox(FRIEND)
    assert sent["content"]["text"] == "Your order has shipped"

    await browser.click("#back-to-session")
    await browser.click("#to-webhooks")
    await browser.wait_for("#delivery-rows tr", text="HTTP 500", timeout_s=15)
    delivery = await browser.script(FIRST_FAILED)  # one call: the rows are redrawn live
    row = f"#delivery-rows tr[data-delivery='{delivery}']"
    await browser.wait_for(row + " td.status", text="failed")
    await browser.wait_for(row + " td[data-label='Webhook']", text="webhook_url")
    await browser.screenshot("5-webhook-failed")
    hook.default = 200  # the receiver is back
    await browser.click(row + " button", text="Retry")
    await browser.wait_for(row + " td.status", text="delivered", timeout_s=15)
    await browser.click("#webhook-test")
    await browser.wait_for("#webhook-test-result", text="OK: HTTP 200")
    await browser.screenshot("6-webhook-retried")
    assert any(r.json.get("deliveryId") == delivery for r in hook.received[-3:])

    await browser.click("header nav a", text="Events")
    await browser.wait_for("#events-title", text="Events")
    await asyncio.sleep(0.5)  # the feed starts with what happens next: let it open
    inbound = {"type": "text", "text": "is my order on its way?"}
    await gw.net.post("/control/inbound", {"from": FRIEND, "to": ME, "message": inbound})
    await browser.wait_for("#event-feed li", text="message.received")
    await browser.screenshot("7-events")

    await browser.open(base + f"ui#/sessions/{sid}/webhooks")
    await browser.wait_for("#webhooks-title")
    await browser.click("#webhooks-back")
    await browser.click("a", text="All sessions")
    await browser.wait_for(f"tr[data-session='{sid}']", text="connected")
    await browser.mobile()
    assert await browser.script("return document.documentElement.scrollWidth") <= 375
    await browser.screenshot("8-sessions-narrow")

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
    await browser.click("header nav a", text="Events")
    await browser.fill("#events-types", "nope.*")
    await browser.click("#events-filter button")
    await browser.wait_for("#notice", text="The live updates stopped")  # said, not silent
