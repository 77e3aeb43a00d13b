"""Feedback in a real Chromium: the mobile ticket asks when the visit ends (live), and the
kiosk's feedback terminal by the exit. Runs once, on SQLite: what is checked here is the
page, not the store."""

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from tessera.models import Feedback

from .helpers import SCREENSHOTS, audit, keep_idle_away, pair_browser

pytestmark = pytest.mark.browser


def issue(live_server, site, service="registration", language="en"):
    """A walk-in ticket, issued through the live server's engine."""
    return live_server.engine.issue_ticket(site.id, [site.services[service]], language)


def finish(live_server, site, desk="desk-1"):
    """Call, serve and finish the next ticket at `desk`: its visit ends."""
    engine, counter = live_server.engine, site.counters[desk]
    engine.open_counter(counter)
    engine.call_next(counter)
    engine.start(counter)
    engine.finish(counter)


def stored(database) -> list[tuple]:
    """The feedback rows: (score, reasons, source)."""
    with database.session() as session:
        return [(row.score, row.reasons, row.source)
                for row in session.scalars(select(Feedback))]


def test_the_mobile_ticket_asks_when_the_visit_ends(live_server, site, page, database,
                                                    axe_script):
    ticket = issue(live_server, site)
    page.goto(f"{live_server.url}/t/{ticket.token}?language=en")
    question = page.get_by_role("heading", name="How was your visit?")
    expect(question).to_be_hidden()
    page.wait_for_load_state("networkidle")
    finish(live_server, site)
    # The visit's end arrives live (a Socket.IO hint, then the status re-read).
    expect(question).to_be_visible(timeout=15000)
    assert audit(page, axe_script) == []

    faces = page.locator("[data-score]")
    assert faces.count() == 5
    for face in faces.all():
        box = face.bounding_box()
        assert box["width"] >= 44 and box["height"] >= 44  # large touch targets
    send = page.get_by_role("button", name="Send")
    send.click()
    expect(page.get_by_role("status").filter(has_text="choose a face")).to_be_visible()
    good = page.get_by_role("button", name="4 of 5 – good")  # noqa: RUF001
    good.click()
    expect(good).to_have_attribute("aria-pressed", "true")
    page.get_by_role("button", name="5 of 5 – very good").click()  # noqa: RUF001
    expect(good).to_have_attribute("aria-pressed", "false")  # one face at a time
    kind = page.get_by_role("button", name="Kind staff")
    kind.click()
    expect(kind).to_have_attribute("aria-pressed", "true")
    chip = page.get_by_role("button", name="Long wait")
    chip.click()
    chip.click()  # a chip toggles off again
    expect(chip).to_have_attribute("aria-pressed", "false")
    page.screenshot(path=SCREENSHOTS / "feedback-en.png", full_page=True)
    send.click()
    thanks = page.get_by_text("Thank you for telling us how your visit was.")
    expect(thanks).to_be_visible()
    expect(thanks.locator("..")).to_be_focused()
    assert stored(database) == [(5, ["kind_staff"], "ticket")]

    # Given once: the page shows the thanks from then on.
    page.reload()
    expect(thanks).to_be_visible()
    expect(question).to_be_hidden()


def test_the_question_in_arabic_reads_right_to_left(live_server, site, page, axe_script):
    ticket = issue(live_server, site, language="ar")
    finish(live_server, site)
    page.goto(f"{live_server.url}/t/{ticket.token}")
    page.wait_for_load_state("networkidle")
    assert page.evaluate("document.documentElement.dir") == "rtl"
    faces = page.locator("[data-score]")
    expect(faces.first).to_be_visible()
    # Right to left: the first face (very bad) stands right of the last.
    assert faces.first.bounding_box()["x"] > faces.last.bounding_box()["x"]
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]
    assert audit(page, axe_script) == []
    page.screenshot(path=SCREENSHOTS / "feedback-ar.png", full_page=True)


def test_the_kiosk_terminal_takes_feedback_by_ticket_number(live_server, site, page,
                                                            database, axe_script):
    ticket = issue(live_server, site)
    still_waiting = issue(live_server, site)
    finish(live_server, site)
    pair_browser(page, live_server, site.id)
    start = f"{live_server.url}/kiosk/small/entrance/en/feedback"
    page.goto(start)
    keep_idle_away(page)
    assert audit(page, axe_script) == []
    field = page.get_by_label("Type the number on your ticket, or scan its QR code")

    field.fill("Z-999")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_text("We cannot find this ticket.")).to_be_visible()
    field.fill(still_waiting.number)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_text("when it has ended")).to_be_visible()

    # Typed loosely, as visitors do: "a1" is A-001.
    field.fill(ticket.number.lower().replace("-00", ""))
    page.get_by_role("button", name="Continue").click()
    keep_idle_away(page)
    expect(page.get_by_role("heading", name="How was your visit?")).to_be_visible()
    expect(page.get_by_text(ticket.number, exact=True)).to_be_visible()
    assert audit(page, axe_script) == []
    page.get_by_role("button", name="2 of 5 – bad").click()  # noqa: RUF001
    page.get_by_role("button", name="Long wait").click()
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_text("Thank you for telling us how your visit was.")).to_be_visible()
    assert stored(database) == [(2, ["long_wait"], "kiosk")]
    # Then the terminal is ready for the next visitor.
    page.wait_for_url(start, timeout=15000)


def test_a_qr_code_scanner_typing_the_mobile_address_works(live_server, site, page):
    ticket = issue(live_server, site)
    finish(live_server, site)
    pair_browser(page, live_server, site.id)
    page.goto(f"{live_server.url}/kiosk/small/entrance/en/feedback")
    keep_idle_away(page)
    field = page.get_by_label("Type the number on your ticket, or scan its QR code")
    field.fill(f"https://oss.example/t/{ticket.token}")
    field.press("Enter")
    expect(page.get_by_role("heading", name="How was your visit?")).to_be_visible()
