"""The staffing plan page in a real Chromium, with axe-core: in Greek (the site's
language) and in Arabic, right to left; the chart beside its table, and a what-if.
"""

import pytest

from .helpers import SCREENSHOTS, audit, sign_in_page

pytestmark = pytest.mark.browser


def some_visits(engine, site):
    """Today: three registrations served at desk 1 and a legal advice at desk 3."""
    desk1, desk3 = site.counters["desk-1"], site.counters["desk-3"]
    engine.open_counter(desk1)
    engine.open_counter(desk3)
    for language in ("el", "ar", "en"):
        engine.issue_ticket(site.id, [site.services["registration"]], language)
        engine.call_next(desk1)
        engine.start(desk1)
        engine.finish(desk1)
    engine.issue_ticket(site.id, [site.services["legal_advice"]], "ar")
    engine.call_next(desk3)
    engine.start(desk3)
    engine.finish(desk3)


@pytest.mark.usefixtures("accounts")
def test_planning_in_greek_and_in_arabic(live_server, site, page, axe_script):
    some_visits(live_server.engine, site)
    sign_in_page(page, live_server.url, "kostas")
    page.goto(f"{live_server.url}/manager")
    page.locator("a[href$='/manager/planning']").click()
    page.locator("[data-chart^=plan-] svg").first.wait_for()
    assert page.locator("html").get_attribute("lang") == "el"
    assert page.locator("[data-plan-table] tbody tr").count() >= 2
    assert page.locator("[data-cover-table] tbody tr").count() >= 1
    assert audit(page, axe_script) == []

    form = page.locator("[data-what-if]")
    form.locator("select[name=action]").select_option("add_desk")
    form.locator("select[name=service]").select_option("registration")
    hour = page.locator("[data-cover-table] tbody th").first.inner_text()[:2]
    form.locator("select[name=from_hour]").select_option(str(int(hour)))
    form.locator("select[name=to_hour]").select_option(str(int(hour)))
    form.locator("button[type=submit]").click()
    page.locator("[data-what-if-table]").wait_for()
    cells = page.locator("[data-what-if-table] tbody tr").first.locator("td")
    assert int(cells.nth(1).inner_text()) == int(cells.nth(0).inner_text()) + 1
    assert audit(page, axe_script) == []
    page.screenshot(path=SCREENSHOTS / "planning-el.png", full_page=True)

    page.locator("#page-language").select_option("ar")
    page.locator(".language-switch button[type=submit]").click()
    page.locator("html[dir=rtl][lang=ar]").wait_for()
    page.locator("[data-chart^=plan-] svg").first.wait_for()
    assert audit(page, axe_script) == []
    page.screenshot(path=SCREENSHOTS / "planning-ar.png", full_page=True)
