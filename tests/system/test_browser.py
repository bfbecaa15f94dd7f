"""End to end in headless Chromium: an operator watches Redis fail and unblocks a client.

Needs Debian's Chromium (``apt-get install -y chromium``) and ``pip install playwright`` (the
``browser`` extra); never ``playwright install``. Run alone with ``pytest -m browser``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.support.admin import staff

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The screenshots in docs/img are refreshed only on request (RLG_UPDATE_SCREENSHOTS=1), so a test
# run leaves the work tree clean; otherwise they go to a temporary folder.
SCREENSHOT = (
    Path(__file__).resolve().parents[2] / "docs" / "img" / "status-page.png"
    if os.environ.get("RLG_UPDATE_SCREENSHOTS") == "1"
    else Path(tempfile.gettempdir()) / "rlg-screenshots" / "status-page.png"
)
STATUS_PATH = "/admin/django_ratelimit_guard/status/"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def get_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        exc.close()
        return exc.code


@pytest.fixture
def browser_page(monkeypatch):
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        pytest.fail("Chromium is missing: apt-get install -y chromium (see .ci/run).")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; our DB calls here are plain sync.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(10_000)
        yield page
        browser.close()


def test_operator_sees_redis_fail_and_unblocks_a_client(
    live_server, own_redis, browser_page, fresh_tracker
):
    page = browser_page
    staff("operator", "view_status", "manage_guard", password="correct horse")
    api = f"{live_server.url}/api/items/"

    # An anonymous client (127.0.0.1) goes over the api policy's 5/m.
    statuses = [get_status(api) for _ in range(6)]
    assert statuses == [200] * 5 + [429]

    page.goto(f"{live_server.url}/admin/login/?next={STATUS_PATH}")
    page.fill("#id_username", "operator")
    page.fill("#id_password", "correct horse")
    page.click("input[type=submit]")
    page.wait_for_url(f"**{STATUS_PATH}")
    assert (
        page.locator("#rlg-breakers tr[data-scope=ratelimit]").get_attribute("data-state")
        == "closed"
    )
    row = page.locator("#rlg-clients tr.rlg-client", has_text="127.0.0.0/24")
    assert row.locator("td").first.inner_text() == "api"

    # Reset that client from its row, confirm, and it is allowed again.
    row.locator("input[type=submit][value='Reset client']").click()
    page.click("form input[name=confirm] ~ input[type=submit]")
    page.wait_for_url(f"**{STATUS_PATH}")
    assert "was reset" in page.locator("ul.messagelist").inner_text()
    assert get_status(api) == 200

    # Redis goes away: requests are served from the fallback store and the breaker opens.
    own_redis.stop()
    for _ in range(6):
        assert get_status(api) in (200, 429)
    page.reload()
    breaker = page.locator("#rlg-breakers tr[data-scope=ratelimit]")
    assert breaker.get_attribute("data-state") == "open"
    assert "open" in breaker.locator(".rlg-badge").inner_text()
    assert "unreachable" in page.locator("#rlg-redis").inner_text()
    assert "closed" in page.locator("#rlg-events tr.rlg-event").first.inner_text()

    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    # The admin's dark theme (it follows prefers-color-scheme): the same page, still readable.
    page.emulate_media(color_scheme="dark")
    page.reload()
    assert (
        page.locator("#rlg-breakers tr[data-scope=ratelimit]").get_attribute("data-state") == "open"
    )
    page.screenshot(path=str(SCREENSHOT.with_name("status-page-dark.png")), full_page=True)
