"""The kiosk in a real Chromium: a visitor takes a ticket, as they would at the entrance.
"""

import pytest
from sqlalchemy import func, select

from tessera.clock import utc_now
from tessera.devices.pairing import start_pairing
from tessera.models import Ticket
from tessera.printing.jobs import PrintFailed
from tessera.sites.loader import DEMO_SITE, load_site, read_site_file
from worker.printing import print_ticket

from .helpers import (
    SCREENSHOTS,
    SiteIds,
    audit,
    closed_port,
    keep_idle_away,
    pair_browser,
    set_printer,
)

pytestmark = pytest.mark.browser


@pytest.fixture
def live_server_config():
    """Short idle times, so the idle warning can be watched within a test."""
    return {"KIOSK_IDLE_SECONDS": 2, "KIOSK_IDLE_WARNING_SECONDS": 3}


def tickets_in_sql(database) -> int:
    """How many tickets were committed."""
    with database.session() as session:
        return session.scalar(select(func.count()).select_from(Ticket))


def only_ticket_id(database) -> int:
    """The id of the one ticket committed."""
    with database.session() as session:
        return session.scalars(select(Ticket.id)).one()


def test_take_a_ticket_in_arabic(live_server, site, page, database):
    pair_browser(page, live_server, "small")
    page.goto(f"{live_server.url}/kiosk/small/entrance")
    keep_idle_away(page)
    page.get_by_role("link", name="العربية").click()

    assert page.locator("html").get_attribute("dir") == "rtl"
    assert page.locator("html").get_attribute("lang") == "ar"
    keep_idle_away(page)
    page.get_by_text("التسجيل", exact=True).click()
    page.locator("button[type=submit]").click()

    page.wait_for_url("**/ticket/**")
    assert page.locator(".ticket-number").inner_text() == "A-001"
    assert page.locator("html").get_attribute("dir") == "rtl"
    assert page.locator(".ticket-qr svg").count() == 1
    assert "جواز السفر" in page.locator(".ticket-services").inner_text()  # what to bring
    assert tickets_in_sql(database) == 1


def test_the_screen_says_when_its_own_ticket_did_not_print(live_server, site, page, database,
                                                           live, monkeypatch,
                                                           database_url, redis_url):
    # The printer's last status is "ok", from an earlier ticket; this one then fails.
    live.set_printer_status(site.id, "entrance", "ok", None, utc_now())
    set_printer(database, {"type": "network", "host": "127.0.0.1", "port": closed_port()})
    pair_browser(page, live_server, "small")
    page.goto(f"{live_server.url}/kiosk/small/entrance/en")
    keep_idle_away(page)
    page.get_by_text("Registration", exact=True).click()
    page.locator("button[type=submit]").click()
    page.wait_for_url("**/ticket/**")
    notice = page.locator("[data-printer-notice]")
    page.wait_for_timeout(2500)  # the screen has asked once: nothing to say yet
    assert notice.is_hidden()

    for name, value in {"DATABASE_URL": database_url, "REDIS_URL": redis_url}.items():
        monkeypatch.setenv(name, value)  # the worker's environment
    with pytest.raises(PrintFailed):
        print_ticket(only_ticket_id(database), "entrance")
    notice.wait_for(state="visible", timeout=10000)


def test_the_kiosk_retries_when_the_server_cannot_be_reached(live_server, site, page,
                                                             database):
    failures = {"left": 2}

    def flaky_network(route):
        if failures["left"] > 0:
            failures["left"] -= 1
            route.abort("connectionrefused")
        else:
            route.continue_()

    page.route("**/api/v1/sites/small/tickets", flaky_network)
    pair_browser(page, live_server, "small")
    page.goto(f"{live_server.url}/kiosk/small/entrance/en")
    keep_idle_away(page)
    page.get_by_text("Registration", exact=True).click()
    page.locator("button[type=submit]").click()
    status = page.locator("[data-form-status]")
    status.filter(has_text="cannot reach").wait_for()
    assert page.url.endswith("/kiosk/small/entrance/en")  # no ticket shown yet

    page.wait_for_url("**/ticket/**", timeout=15000)
    assert page.locator(".ticket-number").inner_text() == "A-001"
    assert tickets_in_sql(database) == 1


def test_a_lost_answer_is_retried_as_the_same_ticket(live_server, site, page, database):
    # The request reaches the server, but the answer is lost on the way back.
    lost = {"left": 1}

    def lose_answer(route):
        response = route.fetch()
        if lost["left"]:
            lost["left"] -= 1
            route.abort("connectionreset")
        else:
            route.fulfill(response=response)

    page.route("**/api/v1/sites/small/tickets", lose_answer)
    pair_browser(page, live_server, "small")
    page.goto(f"{live_server.url}/kiosk/small/entrance/en")
    keep_idle_away(page)
    page.get_by_text("Registration", exact=True).click()
    page.locator("button[type=submit]").click()
    page.wait_for_url("**/ticket/**", timeout=15000)
    assert page.locator(".ticket-number").inner_text() == "A-001"
    assert tickets_in_sql(database) == 1


def test_the_idle_warning_appears_resets_and_returns_to_start(live_server, site, page):
    pair_browser(page, live_server, "small")
    page.goto(f"{live_server.url}/kiosk/small/entrance/en")
    warning = page.get_by_role("alertdialog")
    warning.wait_for(state="visible", timeout=5000)
    assert "Going back to the start" in warning.inner_text()
    page.get_by_role("button", name="I need more time").click()
    assert warning.is_hidden()
    assert page.url.endswith("/kiosk/small/entrance/en")

    warning.wait_for(state="visible", timeout=5000)
    page.wait_for_url(f"{live_server.url}/kiosk/small/entrance", timeout=8000)


def test_everything_works_by_keyboard(live_server, site, page, database):
    pair_browser(page, live_server, "small")
    page.goto(f"{live_server.url}/kiosk/small/entrance/en")
    keep_idle_away(page)
    page.locator("input[name=services]").first.focus()
    page.keyboard.press("Space")
    page.locator("button[type=submit]").focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/ticket/**")
    assert tickets_in_sql(database) == 1


@pytest.fixture
def demo(database):
    """The demo centre, with its nine languages, for audits and the README's screenshots."""
    with database.session() as session:
        load_site(session, read_site_file(DEMO_SITE))
    return SiteIds(database, "demo")


@pytest.mark.parametrize("language", ["en", "ar"])
def test_kiosk_screens_pass_the_accessibility_audit(live_server, demo, page, axe_script,
                                                    language):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    token = live_server.engine.issue_ticket(
        demo.id, [demo.services["registration"], demo.services["health_access"]],
        language).token
    screens = {
        "languages": "/kiosk/demo/entrance",
        "services": f"/kiosk/demo/entrance/{language}",
        "appointment": f"/kiosk/demo/entrance/{language}/appointment",
        "ticket": f"/kiosk/demo/entrance/{language}/ticket/{token}",
        "mobile-ticket": f"/t/{token}",
    }
    problems = {}
    pair_browser(page, live_server, "demo")
    for name, path in screens.items():
        page.goto(live_server.url + path)
        keep_idle_away(page)
        page.wait_for_load_state("networkidle")
        if name == "services":
            page.locator("input[name=services]").first.check()
        page.screenshot(path=SCREENSHOTS / f"kiosk-{name}-{language}.png", full_page=True)
        problems[name] = audit(page, axe_script)
    assert problems == {name: [] for name in screens}


def test_tigrinya_is_drawn_with_the_shipped_ethiopic_font(live_server, demo, page):
    # Few kiosks have an Ethiopic system font: without ours, Tigrinya shows as boxes.
    pair_browser(page, live_server, "demo")
    page.goto(f"{live_server.url}/kiosk/demo/entrance/ti")
    keep_idle_away(page)
    page.evaluate("document.fonts.ready")
    loaded = page.evaluate("""[...document.fonts]
        .filter((face) => face.status === "loaded").map((face) => face.family)""")
    assert '"Noto Sans Ethiopic"' in loaded or "Noto Sans Ethiopic" in loaded
    assert page.evaluate("document.documentElement.lang") == "ti"


def test_usable_at_200_percent_text(live_server, site, page):
    pair_browser(page, live_server, "small")
    page.goto(f"{live_server.url}/kiosk/small/entrance/en")
    keep_idle_away(page)
    # Through the CSSOM: an inline <style> would be refused by the page's CSP.
    page.evaluate("document.documentElement.style.setProperty('font-size', '200%', 'important')")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"]  # no sideways scrolling
    submit = page.locator("button[type=submit]")
    submit.scroll_into_view_if_needed()
    box = submit.bounding_box()
    assert box["width"] >= 44 and box["height"] >= 44


def test_staff_pair_the_kiosk_on_its_screen_then_it_issues(live_server, site, page, database,
                                                           axe_script):
    page.goto(f"{live_server.url}/kiosk/small/entrance")
    assert page.get_by_role("heading", name="This kiosk is not paired").is_visible()
    assert audit(page, axe_script) == []
    page.get_by_role("link", name="Enter the code on this kiosk").click()
    with database.session() as session:
        code, _ = start_pairing(session, "small", "entrance", utc_now())
    page.get_by_label("Pairing code").fill("WRONG-CODE")
    page.get_by_role("button", name="Pair").click()
    assert page.get_by_role("alert").inner_text().startswith("This pairing code is wrong")
    assert audit(page, axe_script) == []
    page.get_by_label("Pairing code").fill(code.lower())
    page.get_by_role("button", name="Pair").click()
    page.wait_for_url(f"{live_server.url}/kiosk/small/entrance")
    # The secret is out of the page's reach (HttpOnly), yet sent with the kiosk's requests.
    assert page.evaluate("document.cookie") == ""
    page.goto(f"{live_server.url}/kiosk/small/entrance/en")
    keep_idle_away(page)
    page.get_by_text("Registration", exact=True).click()
    page.locator("button[type=submit]").click()
    page.wait_for_url("**/ticket/**")
    assert tickets_in_sql(database) == 1
