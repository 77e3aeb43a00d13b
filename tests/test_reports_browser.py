"""The reports page in a real Chromium, with axe-core: in Greek (the site's language) and
in Arabic, right to left, with the charts drawn beside their tables.
"""

import pytest

from .helpers import SCREENSHOTS, audit, sign_in_page

pytestmark = pytest.mark.browser


def some_visits(engine, site):
    """Today: one visit served and referred on, then finished; one no-show; one that left."""
    desk1, desk3 = site.counters["desk-1"], site.counters["desk-3"]
    engine.open_counter(desk1)
    engine.open_counter(desk3)
    engine.issue_ticket(site.id, [site.services["registration"]], "ar")
    engine.call_next(desk1)
    engine.start(desk1)
    engine.refer(desk1, site.services["legal_advice"])
    engine.call_next(desk3)
    engine.start(desk3)
    engine.finish(desk3)
    engine.issue_ticket(site.id, [site.services["registration"]], "el")
    engine.call_next(desk1)
    engine.no_show(desk1)
    leaving = engine.issue_ticket(site.id, [site.services["certificates"]], "en")
    engine.cancel(leaving.token)


@pytest.mark.usefixtures("accounts")
def test_reports_in_greek_and_in_arabic(live_server, site, page, axe_script):
    some_visits(live_server.engine, site)
    sign_in_page(page, live_server.url, "kostas")
    page.goto(f"{live_server.url}/manager/reports")
    page.locator("[data-chart=bars] svg").wait_for()
    page.locator("[data-chart=heatmap] svg").wait_for()
    page.locator("[data-chart=sankey] svg").wait_for()
    assert page.locator("html").get_attribute("lang") == "el"
    assert page.locator("[data-report-table] tfoot td").first.inner_text() == "3"
    assert audit(page, axe_script) == []
    page.screenshot(path=SCREENSHOTS / "reports-el.png", full_page=True)

    page.locator("#page-language").select_option("ar")
    page.locator(".language-switch button[type=submit]").click()
    page.locator("html[dir=rtl][lang=ar]").wait_for()
    page.locator("[data-chart=sankey] svg").wait_for()
    assert audit(page, axe_script) == []
    page.screenshot(path=SCREENSHOTS / "reports-ar.png", full_page=True)

    page.emulate_media(media="print")
    assert not page.locator(".report-filters").is_visible()
    assert page.locator("[data-report-table]").is_visible()
