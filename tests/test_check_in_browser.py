"""Checking in at the kiosk in a real Chromium: the code typed, a refusal in the visitor's
language with a walk-in ticket offered, then the ticket screen.
"""

import datetime as dt

import pytest

from tessera.appointments.booking import book
from tessera.sites.loader import DEMO_SITE, load_site, read_site_file

from .helpers import audit, keep_idle_away, pair_browser

pytestmark = pytest.mark.browser

# 11:00 in Athens on the test clock's Monday.
SLOT = dt.datetime(2026, 11, 23, 9, 0)


def booked_code(database, clock, start) -> str:
    """The code of a legal-advice appointment at the demo centre, booked in Arabic."""
    with database.session() as session:
        load_site(session, read_site_file(DEMO_SITE))
        return book(session, "demo", "legal_advice", start, "ar", None, clock()).code


def test_check_in_at_the_kiosk_in_arabic(live_server, database, clock, page, axe_script):
    live_server.engine.clock = clock
    code = booked_code(database, clock, SLOT)
    pair_browser(page, live_server, "demo")
    page.goto(f"{live_server.url}/kiosk/demo/entrance/ar/appointment")
    keep_idle_away(page)
    assert page.locator("html").get_attribute("dir") == "rtl"
    assert audit(page, axe_script) == []
    walk_in = page.locator("[data-walk-in]")
    assert walk_in.is_hidden()

    clock.now = SLOT + dt.timedelta(minutes=20)  # too late
    page.locator("input[name=code]").fill(code.lower())
    page.locator("button[type=submit]").click()
    walk_in.wait_for(state="visible")  # once the refusal came: it is hidden until then
    assert page.locator("[data-form-status]").inner_text() != ""
    assert walk_in.get_attribute("href").endswith("/kiosk/demo/entrance/ar")

    clock.now = SLOT - dt.timedelta(minutes=5)
    page.locator("button[type=submit]").click()
    page.wait_for_url("**/ticket/**")
    assert page.locator(".ticket-number").inner_text() == "G-001"
