"""The vendored ALTCHA widget in a real Chromium: it solves a real challenge of our server
by itself, in the page's language and direction, and the form posts a payload that the
server verifies (and accepts once).

Runs once, on SQLite: what is checked here is the widget and the page, not the store.
"""

import datetime as dt
import time

import pytest
from flask import g, render_template_string, request

from tessera.appointments.booking import book, get_appointment
from tessera.errors import TesseraError
from tessera.sites.loader import DEMO_SITE, load_site, read_site_file
from tessera.web.booking_guard import protect_booking
from tessera.web.csrf import public

from .helpers import audit

pytestmark = pytest.mark.browser

# The proof of work as the demo and production have it by default: the test also tells
# that a browser solves it in a few seconds.
SOLVED_WITHIN_SECONDS = 20
FORM = """{% extends "base.html" %}{% block body %}<main>
<h1>Booking</h1>
<form method="post">{% include "booking_challenge.html" %}
<button type="submit">Book</button></form></main>{% endblock %}"""


@pytest.fixture
def live_server_config():
    """The proof of work switched on, as it is outside tests."""
    return {"BOOKING_CHALLENGE": "on"}


def add_form_page(app):
    """A minimal page with the challenge partial in a form, in Arabic; its POST is guarded."""

    @public
    def form_page():
        g.language = "ar"
        if request.method == "POST":
            try:
                protect_booking("demo", None, request.form.get("altcha"))
            except TesseraError as error:
                return error.code, error.status
            return "accepted"
        return render_template_string(FORM)

    app.add_url_rule("/test/booking-form", "test_booking_form", form_page,
                     methods=["GET", "POST"])


def solved_payload(page) -> str:
    """Wait for the widget to put its solution in the form's hidden field `altcha`."""
    page.wait_for_function(
        "() => document.querySelector('form input[name=altcha]')?.value",
        timeout=SOLVED_WITHIN_SECONDS * 1000)
    return page.locator("form input[name=altcha]").input_value()


def test_the_widget_solves_a_real_challenge_by_itself_and_the_server_accepts_it_once(
        live_server, page, axe_script):
    add_form_page(live_server.app)
    started = time.monotonic()
    page.goto(f"{live_server.url}/test/booking-form")
    assert page.locator("html").get_attribute("dir") == "rtl"
    widget = page.locator("altcha-widget")
    assert widget.get_attribute("language") == "ar"
    payload = solved_payload(page)
    print(f"solved in {time.monotonic() - started:.1f} s")
    # The visitor's page speaks their language: the widget's label is ours, translated.
    assert page.locator(".booking-challenge").inner_text().strip() != ""
    assert "robot" not in widget.inner_text()
    assert audit(page, axe_script) == []
    page.get_by_role("button", name="Book").click()
    page.wait_for_load_state()
    assert page.locator("body").inner_text().strip() == "accepted"
    # The same payload again (a bot replaying one solution) is refused.
    replayed = page.request.post(f"{live_server.url}/test/booking-form",
                                 form={"altcha": payload})
    assert (replayed.status, replayed.text()) == (403, "challenge_used")


def test_a_held_appointment_is_booked_through_the_booking_page_with_the_widget(
        live_server, database, clock, page):
    live_server.engine.clock = clock
    with database.session() as session:
        load_site(session, read_site_file(DEMO_SITE))
        token = book(session, "demo", "legal_advice", dt.datetime(2026, 11, 24, 7, 0), "ar",
                     None, clock(), hold=True).token
    page.goto(f"{live_server.url}/a/{token}")
    solved_payload(page)
    page.locator("form.contact-form button[type=submit]").click()
    page.wait_for_url("**done=booked**")
    with database.session() as session:
        assert get_appointment(session, token).state.value == "booked"


@pytest.mark.parametrize("live_server_config", [
    {"BOOKING_CHALLENGE": "on", "BOOKING_CHALLENGE_SECONDS": 4}])
def test_an_expired_solution_is_replaced_by_itself(live_server, page):
    add_form_page(live_server.app)
    page.goto(f"{live_server.url}/test/booking-form")
    first = solved_payload(page)
    page.wait_for_function(
        "first => { const value = document.querySelector('form input[name=altcha]')?.value;"
        " return value && value !== first; }", arg=first, timeout=SOLVED_WITHIN_SECONDS * 1000)
    page.get_by_role("button", name="Book").click()
    page.wait_for_load_state()
    assert page.locator("body").inner_text().strip() == "accepted"
