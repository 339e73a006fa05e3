"""The real daemon's /status in a real browser (Debian's chromium via selenium/chromedriver),
at 1280 and 390 CSS pixels: a bar of 90 days per public service (the private one absent),
today's cell with a tooltip on hover and on keyboard focus naming the incident of the day,
no horizontal scrolling, the history page. Screenshots go to ``$SLAMON_TEST_ARTIFACTS``.

The renderers' own browser tests (sample data with 90 days of history) are in
test_status_page_browser.py; this module shares its browser and helpers.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from . import test_status_page_browser as shared
from .httpd import HttpDaemon, TargetServer, wait_until
from .test_status_page_browser import (
    ActionChains,
    By,
    Keys,
    _no_horizontal_scroll,
    _open,
    _screenshot,
    _tooltip_shown,
)

browser = shared.browser  # the module's chromium and its artifact folder
artifacts = shared.artifacts

SERVICES = 12


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    folder = Path(tempfile.mkdtemp(prefix="slb-", dir="/tmp"))
    target = TargetServer()
    lines = [
        "[daemon]",
        f'database_url = "sqlite:///{folder}/slamon.db"',
        f'socket = "{folder}/s.sock"',
        'write_flush_interval = "100ms"',
        "owner_is_admin = true",
        "[http]",
        'listen = "127.0.0.1:0"',
        'cache_ttl = "100ms"',
        "shed_lag = 0",  # a busy test machine must not turn pages into 503s
        "[status_page]",
        'title = "Acme status"',
    ]
    for i in range(1, SERVICES + 1):
        lines += [
            "[[service]]",
            f'id = "svc-{i:02d}"',
            f'name = "Service {i:02d}"',
            f'url = "{target.url(f"/s{i}")}"',
            'interval = "1s"',
            f'group = "{["Payments", "Identity", "Search"][i % 3]}"',
        ]
    lines += [
        "[[service]]",
        'id = "hidden-db"',
        'name = "Hidden database"',
        f'url = "{target.url("/db")}"',
        'interval = "1s"',
        "public = false",
    ]
    daemon = HttpDaemon(folder, "\n".join(lines) + "\n").start()
    try:
        wait_until(
            lambda: all(s["last_check"] for s in daemon.call("status.get")["result"]["services"]),
            what="first checks",
        )
        reply = daemon.call(
            "incident.create",
            {
                "title": "Search slow",
                "severity": "medium",
                "priority": "P3",
                "services": ["svc-03"],
                "message": "Searches take longer than usual.",
            },
        )
        assert "result" in reply, reply
        # the page shows the incident once its cache turns over
        wait_until(
            lambda: "Search slow" in httpx.get(f"{daemon.base}/status").text, what="the incident"
        )
        yield daemon.base
    finally:
        assert daemon.stop() == 0, daemon.log_text()
        target.close()


@pytest.mark.parametrize("width", [1280, 390])
def test_real_status_page_bars_and_width(
    browser: Any, site: str, artifacts: Path, width: int
) -> None:
    _open(browser, f"{site}/status", width)
    counts = browser.execute_script(
        "return [...document.querySelectorAll('ol.bar')].map(b => b.children.length)"
    )
    assert counts == [90] * SERVICES
    names = browser.execute_script(
        "return [...document.querySelectorAll('.svc .name')].map(e => e.textContent.trim())"
    )
    assert not any("Hidden" in n for n in names), names
    assert "Hidden database" not in browser.page_source
    widths = browser.execute_script(
        "return [...document.querySelectorAll('ol.bar li')]"
        ".map(li => li.getBoundingClientRect().width)"
    )
    assert min(widths) >= 2
    _no_horizontal_scroll(browser)
    _screenshot(browser, artifacts, f"daemon-status-{width}")


@pytest.mark.parametrize("width", [1280, 390])
def test_real_status_page_tooltips(browser: Any, site: str, artifacts: Path, width: int) -> None:
    _open(browser, f"{site}/status", width)
    today = browser.execute_script(
        """
        const bar = [...document.querySelectorAll('ol.bar')]
            .find(b => b.getAttribute('aria-label').startsWith('Service 03,'));
        bar.scrollIntoView({block: 'center'});
        return bar.children[89];
        """
    )
    hidden = _tooltip_shown(browser, today)
    assert hidden["width"] <= 1 or hidden.get("clip") not in (None, "none")
    ActionChains(browser).move_to_element(today).perform()
    shown = _tooltip_shown(browser, today)
    assert shown["width"] > 100, shown
    assert "Search slow" in shown["text"], shown
    _no_horizontal_scroll(browser)
    _screenshot(browser, artifacts, f"daemon-tooltip-hover-{width}")
    # by keyboard: focus yesterday, Tab to today
    browser.execute_script(
        "const bar = [...document.querySelectorAll('ol.bar')]"
        ".find(b => b.getAttribute('aria-label').startsWith('Service 03,'));"
        "bar.children[88].focus();"
    )
    ActionChains(browser).move_by_offset(0, 0).perform()
    ActionChains(browser).send_keys(Keys.TAB).perform()
    assert browser.execute_script("return document.activeElement === arguments[0]", today)
    tip = _tooltip_shown(browser, today)
    assert tip["width"] > 100 and "Search slow" in tip["text"]
    _no_horizontal_scroll(browser)
    _screenshot(browser, artifacts, f"daemon-tooltip-focus-{width}")


@pytest.mark.parametrize("width", [1280, 390])
def test_real_history_page(browser: Any, site: str, artifacts: Path, width: int) -> None:
    _open(browser, f"{site}/status/history", width)
    months = browser.execute_script("return document.querySelectorAll('.month').length")
    assert months == 3 * SERVICES
    assert "Hidden database" not in browser.page_source
    _no_horizontal_scroll(browser)
    cell = browser.find_elements(By.CSS_SELECTOR, ".month li[tabindex]")[-1]
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", cell)
    ActionChains(browser).move_to_element(cell).perform()
    assert _tooltip_shown(browser, cell)["width"] > 50
    _screenshot(browser, artifacts, f"daemon-history-{width}")
