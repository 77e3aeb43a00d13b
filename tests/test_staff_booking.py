"""Staff book for the visitor at their desk: any service of the site, in the visitor's
language, named in the event, without the visitors' bot guard; refusals; the printed slip."""

import re

import pytest
from sqlalchemy import func, select

from tessera.models import Appointment, Event
from tessera.staff.accounts import create_staff

from .helpers import PASSWORD, load_demo_site, sign_in

API = "/api/v1"
# The test clock is Monday 2026-11-23, 10:00 in Athens. From 12:00 a lawyer who speaks
# Tigrinya gives legal advice (an organisation other than the municipality's desk-1).
SLOT = "2026-11-23T12:00:00+02:00"


@pytest.fixture
def demo(database):
    """The demo centre, with Eleni of the municipality (el, en) and Nikos of legal aid."""
    ids = load_demo_site(database)
    with database.session() as session:
        ids.staff = {
            username: create_staff(session, "demo", username, username.title(), "staff",
                                   ["el", "en"], [organisation], PASSWORD)[0].id
            for username, organisation in [("eleni", "municipality"), ("nikos", "legal")]}
    return ids


def csrf_of(client, desk: int) -> str:
    """The CSRF token of the desk's workstation page, as the page's scripts send it."""
    page = client.get(f"/counter/{desk}").text
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)


def at_desk(client, username: str, desk: int) -> str:
    """Sign in and open the desk; the CSRF token for the desk's requests."""
    sign_in(client, username)
    token = csrf_of(client, desk)
    assert client.post(f"{API}/counters/{desk}/open",
                       headers={"X-CSRFToken": token}).status_code == 200
    return token


def book_at(client, desk: int, token: str | None, **body):
    """POST a booking for the visitor at the desk, as the desk's booking panel does."""
    headers = {"X-CSRFToken": token} if token else {}
    return client.post(f"{API}/counters/{desk}/appointments", headers=headers,
                       json={"service": "legal_advice", "start": SLOT, "language": "ti",
                             **body})


def appointment_count(database) -> int:
    """How many appointments SQL holds, in any state."""
    with database.session() as session:
        return session.scalar(select(func.count()).select_from(Appointment))


def test_staff_book_in_tigrinya_at_another_organisations_service(client, demo, database):
    desk = demo.counters["desk-1"]  # registration and certificates: the municipality's
    token = at_desk(client, "eleni", desk)
    answer = book_at(client, desk, token, contact={"phone": "+30 690 000 0000"})
    assert answer.status_code == 201, answer.json
    booked = answer.json
    assert (booked["state"], booked["language"], booked["service_key"]) == (
        "booked", "ti", "legal_advice")
    assert booked["start"] == SLOT and len(booked["code"]) == 6
    assert booked["manage_url"].endswith(f"/a/{booked['token']}")
    with database.session() as session:
        event = session.scalars(select(Event).where(Event.kind == "appointment_booked")).one()
        assert (event.staff_id, event.counter_id) == (demo.staff["eleni"], desk)
        assert event.data["appointment"] == booked["id"]
        assert session.get(Appointment, booked["id"]).code == booked["code"]


def test_staff_bookings_pass_no_bot_guard(make_client, redis_client, demo):
    # With the proof of work on and at most two appointments per contact for visitors,
    # a desk books a third for the same visitor without any challenge.
    client = make_client(BOOKING_CHALLENGE="on", BOOKING_ACTIVE_PER_CONTACT=2)
    desk = demo.counters["desk-1"]
    token = at_desk(client, "eleni", desk)
    contact = {"email": "visitor@example.org"}
    starts = ["2026-11-23T12:00:00+02:00", "2026-11-23T12:30:00+02:00",
              "2026-11-23T13:00:00+02:00"]
    answers = [book_at(client, desk, token, start=start, contact=contact) for start in starts]
    assert [answer.status_code for answer in answers] == [201, 201, 201]
    # The same booking from a visitor's page still meets the guard.
    visitor = make_client(BOOKING_CHALLENGE="on")
    refused = visitor.post(f"{API}/sites/demo/appointments", json={
        "service": "legal_advice", "start": "2026-11-23T14:00:00+02:00", "language": "ti"})
    assert refused.status_code in (403, 422, 429)


def test_only_staff_holding_the_desk_open_may_book(client, make_client, demo, database):
    desk = demo.counters["desk-1"]
    anonymous = make_client()
    assert book_at(anonymous, desk, None).status_code == 401
    sign_in(client, "eleni")
    token = csrf_of(client, desk)
    closed = book_at(client, desk, token)
    assert closed.status_code == 403 and closed.json["error"]["message"]  # not opened yet
    assert book_at(client, demo.counters["desk-8"], token).status_code == 403  # not hers
    at_desk(client, "eleni", desk)
    assert book_at(client, desk, None).status_code == 400  # a session needs its CSRF token
    # Nikos of legal aid may use desk-8, not the desk Eleni holds.
    other = make_client()
    sign_in(other, "nikos")
    assert book_at(other, desk, csrf_of(other, demo.counters["desk-8"])).status_code == 403
    assert appointment_count(database) == 0


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"start": "not a time"}, 422, "invalid_start"),
    ({"start": "2026-11-23T12:10:00+02:00"}, 422, "not_a_slot"),
    ({"start": "2026-11-23T10:00:00+02:00"}, 422, "too_early"),
    ({"language": "xx"}, 422, "unknown_language"),
    ({"service": "information"}, 422, "no_appointments"),
    ({"service": "no_such_service"}, 404, "unknown_service"),
    ({"contact": {"email": "not an address"}}, 422, "invalid_email"),
    ({"contact": {"phone": "12"}}, 422, "invalid_phone"),
    ({"hour": "12:00"}, 422, "invalid_body"),  # a field the contract does not know
])
def test_bad_input_is_a_clear_error_and_books_nothing(client, demo, database, body, status,
                                                      code):
    desk = demo.counters["desk-1"]
    token = at_desk(client, "eleni", desk)
    answer = book_at(client, desk, token, **body)
    assert answer.status_code == status
    assert answer.json["error"]["code"] == code and answer.json["error"]["message"]
    assert appointment_count(database) == 0


def test_a_full_slot_is_refused(client, demo):
    desk = demo.counters["desk-1"]
    token = at_desk(client, "eleni", desk)
    assert book_at(client, desk, token).status_code == 201  # legal advice: one place
    again = book_at(client, desk, token, language="el")
    assert (again.status_code, again.json["error"]["code"]) == (409, "slot_full")


def test_the_panel_offers_every_organisations_services_and_the_visitors_language(
        client, demo, engine):
    desk = demo.counters["desk-1"]
    at_desk(client, "eleni", desk)
    page = client.get(f"/counter/{desk}").text
    panel = page[page.index("data-booking-form"):page.index("data-booking-done")]
    groups = re.findall(r'<optgroup label="([^"]+)">', panel)
    assert len(groups) == 3  # employment, housing, legal aid: one group each
    offered = set(re.findall(r'<option value="(\d+)">', panel))
    assert {str(demo.services[key]) for key in ("legal_advice", "housing",
                                                "job_counselling")} <= offered
    assert str(demo.services["information"]) not in offered  # it takes no appointments
    assert 'data-language="el"' in page  # nobody at the desk: the site's language
    # With a Tigrinya-speaking visitor at the desk, the panel starts in Tigrinya.
    engine.issue_ticket("demo", [demo.services["registration"]], "ti")
    engine.call_next(desk, demo.staff["eleni"])
    assert 'data-language="ti"' in client.get(f"/counter/{desk}").text


def test_the_print_view_shows_the_code_time_check_in_and_qr_in_the_visitors_language(
        client, make_client, demo):
    desk = demo.counters["desk-1"]
    token = at_desk(client, "eleni", desk)
    booked = book_at(client, desk, token, contact={"email": "visitor@example.org",
                                                   "phone": "+30 690 000 0000"}).json
    slip = client.get(f"/counter/{desk}/appointments/{booked['id']}/print")
    assert slip.status_code == 200
    html = slip.text
    assert booked["code"] in html and 'lang="ti"' in html
    assert "ሕጋዊ ምኽሪ" in html  # legal advice, in Tigrinya
    assert "<svg" in html and "<path" in html  # the QR of the manage address
    assert "print.js" in html  # it prints itself
    assert "visitor@example.org" not in html and "690" not in html  # no contact data
    # Others see nothing of it.
    assert client.get(f"/counter/{desk}/appointments/999999/print").status_code == 404
    anonymous = make_client().get(f"/counter/{desk}/appointments/{booked['id']}/print")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


def test_the_print_view_shows_the_check_in_time(client, demo):
    desk = demo.counters["desk-1"]
    token = at_desk(client, "eleni", desk)
    booked = book_at(client, desk, token, language="en").json
    html = client.get(f"/counter/{desk}/appointments/{booked['id']}/print").text
    assert 'lang="en"' in html and "Legal advice" in html
    assert "from 11:30" in html  # check-in opens 30 minutes before 12:00
    assert "Mon, November 23" in html and "12:00" in html
