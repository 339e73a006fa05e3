"""The public status page in a real browser: Debian's chromium driven by selenium/chromedriver.

The pages are rendered from sample feed replies and served on 127.0.0.1 by a small
http.server (the daemon's own HTTP server comes with the server phase). At 1280 and 390
CSS pixels: 90 day cells per service, a tooltip on hover and on keyboard focus, no
horizontal scrolling, light and dark schemes. Screenshots go to ``$SLAMON_TEST_ARTIFACTS``
(default: a pytest temporary directory) and their paths are printed.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from slamon_daemon.web.page import render_history_page, render_status_page
from slamon_daemon.web.public import public_view
from slamon_daemon.web.settings import PageSettings
from tests.daemon.web.sample import sample_inputs

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
SERVICES = 20

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium not installed (test extra)")
if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
    pytest.skip(
        "Debian's chromium and chromium-driver are not installed"
        " (apt-get install -y chromium chromium-driver)",
        allow_module_level=True,
    )

from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402


def _pages() -> dict[str, bytes]:
    inp = sample_inputs(SERVICES)
    view = public_view(
        inp.status, incidents=inp.incidents, maintenance=inp.maintenance, days=inp.days
    )
    settings = PageSettings(title="Acme status", footer_text="Acme", footer_url="/")
    return {
        "/status": render_status_page(view, settings).encode(),
        "/status/history": render_history_page(
            view, settings, inp.calendars, until="2026-11"
        ).encode(),
    }


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    pages = _pages()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            body = pages.get(self.path.split("?")[0])
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    configured = os.environ.get("SLAMON_TEST_ARTIFACTS")
    path = Path(configured) if configured else tmp_path_factory.mktemp("browser-artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def _open(driver: Any, url: str, width: int, dark: bool = False) -> None:
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600},
    )
    scheme = "dark" if dark else "light"
    driver.execute_cdp_cmd(
        "Emulation.setEmulatedMedia",
        {"features": [{"name": "prefers-color-scheme", "value": scheme}]},
    )
    driver.get(url)
    assert driver.execute_script("return window.innerWidth") == width


def _screenshot(driver: Any, artifacts: Path, name: str) -> None:
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {
            "width": driver.execute_script("return window.innerWidth"),
            "height": min(int(height), 6000),
            "deviceScaleFactor": 1,
            "mobile": False,
        },
    )
    path = artifacts / f"{name}.png"
    driver.save_screenshot(str(path))
    print(f"screenshot: {path}")


def _no_horizontal_scroll(driver: Any) -> None:
    scroll, inner = driver.execute_script(
        "return [document.documentElement.scrollWidth, window.innerWidth]"
    )
    assert scroll <= inner, f"horizontal scrolling: content {scroll} px in a {inner} px window"


def _tooltip_shown(driver: Any, cell: Any) -> dict[str, Any]:
    """The tooltip of a day cell: its box and text, from the span or the ::after box."""
    result: dict[str, Any] = driver.execute_script(
        """
        const li = arguments[0];
        const span = li.querySelector('span');
        if (span) {
          const r = span.getBoundingClientRect();
          const before = getComputedStyle(span, '::before').content;
          return {width: r.width, height: r.height, right: r.right,
                  text: before + ' ' + span.textContent};
        }
        const after = getComputedStyle(li, '::after');
        return {width: parseFloat(after.width), height: parseFloat(after.height),
                right: 0, text: after.content, clip: after.clipPath};
        """,
        cell,
    )
    return result


@pytest.mark.parametrize("width", [1280, 390])
def test_bars_cells_and_no_horizontal_scroll(
    browser: Any, site: str, artifacts: Path, width: int
) -> None:
    _open(browser, f"{site}/status", width)
    counts = browser.execute_script(
        "return [...document.querySelectorAll('ol.bar')].map(b => b.children.length)"
    )
    assert counts == [90] * SERVICES
    # every cell has a box of its own, however narrow the window
    widths = browser.execute_script(
        "return [...document.querySelectorAll('ol.bar li')].map(li => li.getBoundingClientRect().width)"
    )
    assert min(widths) >= 2
    _no_horizontal_scroll(browser)
    _screenshot(browser, artifacts, f"status-{width}")


@pytest.mark.parametrize("width", [1280, 390])
def test_tooltip_on_hover(browser: Any, site: str, artifacts: Path, width: int) -> None:
    _open(browser, f"{site}/status", width)
    bars = browser.find_elements(By.CSS_SELECTOR, "ol.bar")
    trouble = next(
        li
        for bar in bars
        for li in bar.find_elements(By.CSS_SELECTOR, "li.mo")
        if li.find_elements(By.TAG_NAME, "span")
    )
    hidden = _tooltip_shown(browser, trouble)
    assert hidden["width"] <= 1  # visually hidden until asked for
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", trouble)
    ActionChains(browser).move_to_element(trouble).perform()
    shown = _tooltip_shown(browser, trouble)
    assert shown["width"] > 100 and shown["height"] > 20
    assert "Major outage" in shown["text"] and "uptime" in shown["text"]
    assert "down" in shown["text"]
    assert " 2026" in shown["text"]  # the date, from the column's CSS variable
    _no_horizontal_scroll(browser)  # an open tooltip never widens the page
    # a plain operational day: the words come from the stylesheet
    plain = bars[0].find_elements(By.CSS_SELECTOR, "li:not([class])")[10]
    ActionChains(browser).move_to_element(plain).perform()
    plain_tip = _tooltip_shown(browser, plain)
    assert plain_tip["clip"] == "none" and plain_tip["width"] > 100
    assert "Operational" in plain_tip["text"] and "2026" in plain_tip["text"]
    _screenshot(browser, artifacts, f"tooltip-hover-{width}")


@pytest.mark.parametrize("width", [1280, 390])
def test_tooltip_on_keyboard_focus(browser: Any, site: str, artifacts: Path, width: int) -> None:
    _open(browser, f"{site}/status", width)
    today = browser.execute_script(
        """
        const bar = [...document.querySelectorAll('ol.bar')]
            .find(b => b.getAttribute('aria-label').startsWith('Service 001,'));
        bar.children[88].focus();  // yesterday; the Tab key moves on to today
        return bar.children[89];
        """
    )
    ActionChains(browser).send_keys(Keys.TAB).perform()
    assert browser.execute_script("return document.activeElement === arguments[0]", today)
    tip = _tooltip_shown(browser, today)
    assert tip["width"] > 100
    assert "Incidents: Payments failing" in tip["text"]
    assert "Sat 21 Nov 2026" in tip["text"]
    _no_horizontal_scroll(browser)
    _screenshot(browser, artifacts, f"tooltip-focus-{width}")


def test_days_are_in_the_tab_order(browser: Any, site: str) -> None:
    _open(browser, f"{site}/status", 1280)
    first_cell = browser.execute_script(
        "document.querySelector('.svc .name').scrollIntoView();"
        "return document.querySelector('ol.bar li')"
    )
    browser.execute_script(
        "const r = document.querySelector('ol.bar').previousElementSibling;"
        "r.setAttribute('tabindex', '-1'); r.focus();"
    )
    ActionChains(browser).send_keys(Keys.TAB).perform()
    assert browser.execute_script("return document.activeElement === arguments[0]", first_cell)


def test_dark_scheme(browser: Any, site: str, artifacts: Path) -> None:
    _open(browser, f"{site}/status", 1280, dark=True)
    bg = browser.execute_script("return getComputedStyle(document.body).backgroundColor")
    channels = [int(x) for x in bg[bg.index("(") + 1 : bg.index(")")].split(",")[:3]]
    assert max(channels) < 60, bg
    _screenshot(browser, artifacts, "status-dark-1280")
    _open(browser, f"{site}/status", 1280, dark=False)
    bg = browser.execute_script("return getComputedStyle(document.body).backgroundColor")
    assert bg == "rgb(255, 255, 255)"


@pytest.mark.parametrize("width", [1280, 390])
def test_history_page(browser: Any, site: str, artifacts: Path, width: int) -> None:
    _open(browser, f"{site}/status/history", width)
    months = browser.execute_script("return document.querySelectorAll('.month').length")
    assert months == 3 * SERVICES
    _no_horizontal_scroll(browser)
    cell = browser.find_elements(By.CSS_SELECTOR, ".month li[tabindex]")[5]
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", cell)
    ActionChains(browser).move_to_element(cell).perform()
    tip = _tooltip_shown(browser, cell)
    assert tip["width"] > 50 and "2026" in tip["text"]
    _no_horizontal_scroll(browser)
    _screenshot(browser, artifacts, f"history-{width}")
