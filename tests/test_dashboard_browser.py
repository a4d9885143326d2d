"""The dashboard in headless Chromium: log in, charts drawn with data, a screenshot kept."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator

import pytest
from werkzeug.serving import make_server

from connector.runtime import Runtime
from connector.web.app import create_app

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
REQUIRED = (os.environ.get("CONNECTOR_REQUIRE_BROWSER") == "1"
            or os.environ.get("CONNECTOR_REQUIRE_POSTGRES") == "1")

pytestmark = pytest.mark.browser


def _need_browser() -> None:
    if os.path.exists(CHROMIUM) and shutil.which(CHROMIUM):
        return
    if REQUIRED:
        pytest.fail(f"{CHROMIUM} is required under CI (apt-get install chromium)")
    pytest.skip(f"{CHROMIUM} is not installed")


@pytest.fixture
def dashboard_url(program_sqlite, settings) -> Iterator[str]:
    """The web app on a real HTTP server thread, over the seeded program."""
    app = create_app(runtime=Runtime(settings, engine=program_sqlite.engine))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/dashboard"
    server.shutdown()
    thread.join(5)


def test_dashboard_draws_its_charts(dashboard_url, tmp_path) -> None:
    _need_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1300})
            problems: list[str] = []
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.goto(dashboard_url)
            assert page.url.endswith("/dashboard/login")
            page.fill("#token", "wrong")
            page.click("button[type=submit]")
            assert "not right" in page.inner_text("main")
            problems.clear()  # the browser logs that 401 as an error; it was expected
            page.fill("#token", "dashboard-token")
            page.click("button[type=submit]")
            page.wait_for_selector("#dashboard[data-drawn=yes]", timeout=15_000)
            charts = page.evaluate("""() => Object.fromEntries(
                Object.entries(window.advocateCharts).map(([id, chart]) =>
                    [id, chart.data.datasets.map(d => d.data)]))""")
            # non-blank canvases: pixels that are not fully transparent
            painted = page.evaluate("""() => [...document.querySelectorAll('canvas')].map(c => {
                const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
                return [c.id, n]; })""")
            page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
            # a person approves the reward waiting for approval: it leaves the list
            assert page.locator("#reward-3").count() == 1
            page.click("#reward-3 button[name=approve]")
            page.wait_for_selector("#dashboard[data-drawn=yes]", timeout=15_000)
            notice = page.inner_text("main")
            still_pending = page.locator("tr.pending-reward").count()
        finally:
            browser.close()
    assert charts["chart-funnel"] == [[5, 4, 3, 2, 1, 1]]  # eligible >= invited >= shared...
    assert sum(charts["chart-clicks"][0]) == 4 and len(charts["chart-clicks"][0]) == 10
    assert charts["chart-tiers"] == [[2, 3, 2, 1, 1, 1]]
    assert charts["chart-weekly"] == [[1, 1, 1], [0, 1, 1]]
    for canvas, pixels in painted:
        assert pixels > 1000, f"{canvas} looks blank"
    assert problems == []
    assert "Reward 3 approved." in notice
    assert still_pending == 0
    assert (tmp_path / "dashboard.png").stat().st_size > 20_000
