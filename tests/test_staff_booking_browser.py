"""Booking for a visitor from the desk in a real Chromium, by keyboard alone: the panel,
the slots in the visitor's language first, the code shown big, and the printed slip.
"""

import pytest
from sqlalchemy import select

from tessera.clock import local_time
from tessera.models import Appointment, AppointmentState
from tessera.staff.accounts import create_staff

from .helpers import (
    PASSWORD,
    audit,
    load_demo_site,
    read_pages_in,
    sign_in_page,
)

pytestmark = pytest.mark.browser


def test_a_desk_books_legal_advice_in_tigrinya_by_keyboard(live_server, database, clock,
                                                           page, axe_script):
    live_server.engine.clock = clock  # Monday, 10:00 in Athens
    ids = load_demo_site(database)
    with database.session() as session:
        eleni = create_staff(session, "demo", "eleni", "Eleni", "staff", ["el", "en"],
                             ["municipality"], PASSWORD)[0].id
    read_pages_in(database, "eleni", "en")
    desk = ids.counters["desk-1"]
    live_server.engine.open_counter(desk, eleni)
    sign_in_page(page, live_server.url, "eleni")
    page.wait_for_url("**/counter")
    page.goto(f"{live_server.url}/counter/{desk}")
    page.wait_for_function("() => window.io !== undefined")

    page.locator("[data-book-open]").focus()
    page.keyboard.press("Enter")
    dialog = page.locator("[data-booking-dialog]")
    dialog.wait_for(state="visible")
    service = dialog.locator("select[name=service]")
    assert service.evaluate("element => element === document.activeElement")
    # Employment, housing, then legal aid: legal advice is the third service offered.
    for _ in range(3):
        page.keyboard.press("ArrowDown")
    assert service.input_value() == str(ids.services["legal_advice"])
    page.keyboard.press("Tab")
    language = dialog.locator("select[name=language]")
    assert language.input_value() == "el"  # nobody at the desk: the site's language
    while language.input_value() != "ti":
        page.keyboard.press("ArrowDown")
    # The slots where Tigrinya is spoken come first: from 12:00 on Mondays.
    times = dialog.locator("select[name=start] optgroup").first.locator("option").first
    times.wait_for(state="attached")
    assert times.inner_text().startswith("12:00")
    assert audit(page, axe_script) == []
    # On past the day (today; its parts are one stop each) and the time (the first offered).
    for _ in range(8):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.name") == "email":
            break
    page.keyboard.type("visitor@example.org")
    page.keyboard.press("Enter")

    code = dialog.locator("[data-booking-code]")
    page.wait_for_function(
        "() => document.querySelector('[data-booking-code]').textContent.length === 6")
    with database.session() as session:
        appointment = session.scalars(select(Appointment)).one()
        assert appointment.state == AppointmentState.BOOKED
        assert (appointment.language, appointment.email) == ("ti", "visitor@example.org")
        assert local_time(appointment.start, "Europe/Athens").strftime("%H:%M") == "12:00"
        assert code.inner_text() == appointment.code
        appointment_id = appointment.id
    assert page.evaluate("document.activeElement.matches('[data-booking-done-title]')")
    assert audit(page, axe_script) == []

    print_link = dialog.locator("[data-booking-print]")
    assert print_link.get_attribute("href").endswith(f"/appointments/{appointment_id}/print")
    with page.context.expect_page() as opened:
        print_link.focus()
        page.keyboard.press("Enter")
    slip = opened.value
    slip.wait_for_load_state()
    assert slip.locator("[data-slip-code]").inner_text() == code.inner_text()
    assert slip.locator("html").get_attribute("lang") == "ti"
    assert slip.locator(".ticket-qr svg").count() == 1
