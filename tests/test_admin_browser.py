"""Every /admin page in a real Chromium, with axe-core: in English (left to right) and in
Arabic (right to left), a form sent back with its mistakes included; the README's
screenshots of the admin pages are taken here.
"""

import pytest
from sqlalchemy import select

from tessera.devices.registry import register_device
from tessera.models import Staff
from tessera.sites.catalogue import get_kiosk

from .helpers import SCREENSHOTS, audit, keep_idle_away, read_pages_in, sign_in_page

pytestmark = pytest.mark.browser


def admin_paths(database, site, now) -> list[str]:
    """Each page of /admin: the lists, a new and an existing item's form, the retirements."""
    with database.session() as session:
        maria = session.scalars(select(Staff).where(Staff.username == "maria")).one()
        entrance = get_kiosk(session, site.id, "entrance")
        register_device(session, site.id, "hall-tv", "Hall TV", "display", None,
                        now, actor_id=None)
        staff_id, kiosk_key = maria.id, entrance.key
    service, counter = site.services["registration"], site.counters["desk-1"]
    return ["/admin/", "/admin/staff", "/admin/staff/new", f"/admin/staff/{staff_id}",
            "/admin/services", "/admin/services/new", f"/admin/services/{service}",
            f"/admin/services/{service}/retire", "/admin/categories", "/admin/categories/new",
            "/admin/desks", "/admin/desks/new", f"/admin/desks/{counter}",
            f"/admin/desks/{counter}/retire", "/admin/devices", "/admin/devices/new",
            f"/admin/devices/{kiosk_key}", "/admin/audit"]


def visit_all(page, base_url, paths, language, axe_script) -> list[str]:
    """axe's serious findings on each page, with the page named; checks the language."""
    found = []
    for path in paths:
        answer = page.goto(base_url + path)
        assert answer.status == 200, path
        assert page.locator("html").get_attribute("lang") == language, path
        found += [f"{path}: {finding}" for finding in audit(page, axe_script)]
    return found


def test_every_admin_page_in_english_and_in_arabic(live_server, database, site, admins,
                                                   page, axe_script):
    paths = admin_paths(database, site, live_server.engine.clock())
    read_pages_in(database, "anna", "en")
    sign_in_page(page, live_server.url, "anna")
    keep_idle_away(page)
    assert visit_all(page, live_server.url, paths, "en", axe_script) == []

    # A form sent back with its mistakes: each message tied to its field.
    page.goto(f"{live_server.url}/admin/staff/new")
    page.locator("input[name=username]").fill("a b")
    page.locator("form button[type=submit]").last.click()
    page.locator(".admin-errors, .notice-error").first.wait_for()
    assert audit(page, axe_script) == []
    assert page.locator("[aria-invalid=true]").count() >= 1

    page.goto(f"{live_server.url}/admin/staff")
    page.screenshot(path=SCREENSHOTS / "admin-staff-en.png", full_page=True)
    page.goto(f"{live_server.url}/admin/services/{site.services['registration']}")
    page.screenshot(path=SCREENSHOTS / "admin-service-en.png", full_page=True)
    page.goto(f"{live_server.url}/admin/devices")
    page.screenshot(path=SCREENSHOTS / "admin-devices-en.png", full_page=True)
    page.goto(f"{live_server.url}/admin/audit")
    page.screenshot(path=SCREENSHOTS / "admin-audit-en.png", full_page=True)

    read_pages_in(database, "anna", "ar")
    page.goto(f"{live_server.url}/admin/")
    page.locator("html[dir=rtl][lang=ar]").wait_for()
    assert visit_all(page, live_server.url, paths, "ar", axe_script) == []
    page.goto(f"{live_server.url}/admin/services/{site.services['registration']}")
    page.screenshot(path=SCREENSHOTS / "admin-service-ar.png", full_page=True)
