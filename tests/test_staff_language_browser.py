"""The language switch in a real Chromium: a Greek centre, staff who read their pages in Arabic.
"""

import pytest

from .helpers import audit, sign_in_page

# The same two accounts (a fixture, found by name), signed in the same way.

pytestmark = pytest.mark.browser

ARABIC = "العربية"


def switch_to_arabic(page):
    """Choose Arabic in the header's switch; the page comes back right to left."""
    # By structure, not by label: the page is in the site's language until then.
    page.locator("#page-language").select_option("ar")
    page.locator(".language-switch button[type=submit]").click()
    page.locator("html[dir=rtl][lang=ar]").wait_for()


@pytest.mark.usefixtures("accounts")
def test_a_desk_in_arabic_on_a_greek_site(live_server, site, page, axe_script):
    live_server.engine.issue_ticket(site.id, [site.services["registration"]], "ar")
    sign_in_page(page, live_server.url, "maria")
    page.get_by_role("button", name="Αποσύνδεση").wait_for()  # the site's language first
    switch_to_arabic(page)
    page.get_by_role("heading", name="اختر شباكك").wait_for()
    assert audit(page, axe_script) == []

    page.locator("form.desk-card").first.get_by_role("button").click()
    page.wait_for_url("**/counter/*")
    assert page.locator("html").get_attribute("dir") == "rtl"  # the choice is kept
    page.get_by_role("button", name="نادِ التالي").wait_for()
    page.get_by_role("button", name="تسجيل الخروج").wait_for()
    # The waiting list names the ticket's language rather than giving its code.
    page.locator("[data-waiting] td").filter(has_text=ARABIC).wait_for()
    assert "ar" not in page.locator("[data-waiting] td").all_inner_texts()
    page.locator("[data-action=call-next]").click()
    page.locator("[data-field=language]").filter(has_text=ARABIC).wait_for()
    assert audit(page, axe_script) == []


@pytest.mark.usefixtures("accounts")
def test_the_manager_sees_desk_languages_by_name(live_server, site, page, axe_script):
    live_server.engine.open_counter(site.counters["desk-2"], languages=["ar", "el"])
    sign_in_page(page, live_server.url, "kostas")
    page.goto(f"{live_server.url}/manager")
    switch_to_arabic(page)
    assert page.url.endswith("/manager")  # back to the page the switch was on
    page.locator("[data-counters] td").filter(has_text=f"{ARABIC}, Ελληνικά").wait_for()
    page.get_by_role("button", name="تسجيل الخروج").wait_for()
    assert audit(page, axe_script) == []
