"""The booking pages in a real Chromium at a phone's size: a visitor books in Arabic with the
keyboard, then checks in at the kiosk with the code; axe-core on every step in one
left-to-right and one right-to-left language; the accessibility bar. Each run rewrites the
README's screenshots of the booking pages in docs/screenshots/.

Runs once, on SQLite: what is checked here is the pages, not the store.
"""

import datetime as dt

import pytest

from .helpers import (
    SCREENSHOTS,
    audit,
    keep_idle_away,
    load_demo_site,
    pair_browser,
)

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 360, "height": 740}, "has_touch": True}
# 11:00 in Athens on the day after the test clock's Monday.
SLOT = dt.datetime(2026, 11, 24, 9, 0)
LEGAL_ADVICE = {"ar": "استشارة قانونية", "en": "Legal advice"}
ELEVEN = {"ar": "11:00 ص", "en": "11:00\u202fAM"}


@pytest.fixture
def server(live_server, database, clock):
    """The live server with the demo centre, on the test's clock."""
    load_demo_site(database)
    live_server.engine.clock = clock
    return live_server


def press(page, locator):
    """Reach a control by focus and press Enter on it, as a keyboard user does."""
    locator.focus()
    page.keyboard.press("Enter")


def fits_the_phone(page) -> bool:
    """No sideways scrolling at the phone's width."""
    return page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]


def test_book_in_arabic_with_the_keyboard_then_check_in_at_the_kiosk(server, clock, open_page):
    phone = open_page(**PHONE)
    phone.goto(f"{server.url}/book/demo")
    press(phone, phone.get_by_role("link", name="العربية"))
    phone.wait_for_url("**/book/demo/ar")
    assert phone.locator("html").get_attribute("dir") == "rtl"
    press(phone, phone.get_by_role("link", name=LEGAL_ADVICE["ar"]))
    phone.wait_for_url("**/book/demo/ar/legal_advice")
    press(phone, phone.locator('a[href$="/2026-11-24"]'))
    phone.wait_for_url("**/2026-11-24")
    press(phone, phone.get_by_role("button", name=ELEVEN["ar"], exact=True))
    phone.wait_for_url("**/a/**")
    assert phone.locator("[data-hold]").is_visible()
    phone.locator("#email").focus()
    phone.keyboard.type("amanuel@example.org")
    phone.keyboard.press("Enter")  # sends the form, as the submit button would
    phone.wait_for_url("**done=booked")
    assert phone.locator("html").get_attribute("dir") == "rtl"
    code = phone.locator(".appointment-code").inner_text().replace("\n", "").replace(" ", "")
    assert len(code) == 6
    assert phone.locator(".ticket-qr svg").count() == 1
    assert phone.locator('a[href*="/calendar.ics"]').count() == 1
    assert fits_the_phone(phone)

    clock.now = SLOT - dt.timedelta(minutes=5)
    kiosk = open_page()
    pair_browser(kiosk, server, "demo")
    kiosk.goto(f"{server.url}/kiosk/demo/entrance/ar/appointment")
    keep_idle_away(kiosk)
    kiosk.locator("input[name=code]").fill(code.lower())
    kiosk.locator("button[type=submit]").click()
    kiosk.wait_for_url("**/ticket/**")
    assert kiosk.locator(".ticket-number").inner_text() == "G-001"
    assert kiosk.locator("html").get_attribute("dir") == "rtl"
    phone.reload()
    assert phone.locator(".appointment-code").count() == 0  # checked in: nothing to show now
    assert phone.locator(".notice").count() == 1


@pytest.mark.parametrize("language", ["en", "ar"])
def test_every_booking_step_passes_the_audit_and_fits_a_phone(server, open_page, axe_script,
                                                              language):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    phone = open_page(**PHONE)
    problems, too_wide = {}, []

    def check(name):
        phone.wait_for_load_state("networkidle")
        # The first page is in the site's language whichever the visitor will choose.
        shot = f"booking-{name}.png" if name == "languages" else f"booking-{name}-{language}.png"
        phone.screenshot(path=SCREENSHOTS / shot, full_page=True)
        problems[name] = audit(phone, axe_script)
        if not fits_the_phone(phone):
            too_wide.append(name)

    phone.goto(f"{server.url}/book/demo")
    check("languages")
    phone.goto(f"{server.url}/book/demo/{language}")
    check("services")
    phone.goto(f"{server.url}/book/demo/{language}/legal_advice")
    check("days")
    phone.goto(f"{server.url}/book/demo/{language}/legal_advice/2026-11-24")
    check("times")
    phone.get_by_role("button", name=ELEVEN[language], exact=True).click()
    phone.wait_for_url("**/a/**")
    check("contact")
    phone.locator("#email").fill("amanuel@")  # wrong: the error shows beside the field
    phone.locator("form.contact-form button[type=submit]").click()
    phone.locator("#email-error").wait_for()
    check("contact-error")
    phone.locator("#email").fill("amanuel@example.org")
    phone.locator("form.contact-form button[type=submit]").click()
    phone.wait_for_url("**done=booked")
    check("confirmation")
    manage = phone.url.split("?")[0]
    phone.goto(f"{manage}/cancel")
    check("cancel")
    phone.goto(f"{server.url}/book/demo/{language}/housing/waiting-list")
    check("waiting-list")
    assert problems == {name: [] for name in problems}
    assert too_wide == []


def test_the_accessibility_bar_works_by_keyboard_and_is_remembered_on_a_phone(server,
                                                                              open_page):
    phone = open_page(**PHONE)
    phone.goto(f"{server.url}/book/demo/en")
    larger = phone.get_by_role("button", name="Larger text")
    contrast = phone.get_by_role("button", name="High contrast")
    size = phone.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
    press(phone, larger)
    assert larger.get_attribute("aria-pressed") == "true"
    assert phone.evaluate(
        "parseFloat(getComputedStyle(document.documentElement).fontSize)") == size * 1.25
    contrast.focus()
    phone.keyboard.press("Space")
    background = "getComputedStyle(document.documentElement).backgroundColor"
    assert phone.evaluate(background) == "rgb(0, 0, 0)"
    phone.goto(f"{server.url}/book/demo/en/legal_advice")
    assert phone.locator("html").get_attribute("class") == "text-large high-contrast"
    assert phone.get_by_role("button", name="Larger text").get_attribute("aria-pressed") == "true"
    assert fits_the_phone(phone)

    # A kiosk serves the next visitor: its choices last only as long as the page.
    kiosk = open_page()
    pair_browser(kiosk, server, "demo")
    kiosk.goto(f"{server.url}/kiosk/demo/entrance/en")
    keep_idle_away(kiosk)
    kiosk.get_by_role("button", name="Larger text").click()
    assert kiosk.locator("html").get_attribute("class") == "text-large"
    kiosk.reload()
    kiosk.get_by_role("button", name="Larger text").wait_for()
    assert kiosk.locator("html").get_attribute("class") in (None, "")
