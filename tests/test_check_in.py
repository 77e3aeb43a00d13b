"""Checking in for an appointment: the window, each refusal, the same ticket twice, the
appointment boost in the live engine, missed appointments, the printed slot time, the kiosk."""

import datetime as dt

import pytest
from sqlalchemy import select

from tessera.appointments.booking import book, cancel
from tessera.appointments.checkin import CheckInWindow, check_in, mark_missed
from tessera.errors import Conflict, NotFound
from tessera.models import Appointment, AppointmentState, Counter, Event, Service, Ticket
from tessera.printing.content import APPOINTMENT_AT, build_printout
from tessera.queue.reconcile import reconcile
from tessera.sites.loader import DEMO_SITE, load_site, read_site_file

from .helpers import kiosk_headers, pair_client

API = "/api/v1"
# The test clock starts on Monday 2026-11-23, 10:00 in Athens (08:00 UTC); this slot of
# legal advice starts at 11:00 in Athens.
SLOT = dt.datetime(2026, 11, 23, 9, 0)
WINDOW = CheckInWindow(early_minutes=30, late_minutes=15)


@pytest.fixture
def demo(database):
    """The demo centre, which takes appointments around the clock."""
    with database.session() as session:
        load_site(session, read_site_file(DEMO_SITE))


def booked(database, clock, start=SLOT, service="legal_advice", language="ar") -> Appointment:
    """A booked appointment at the demo centre, made now."""
    with database.session() as session:
        appointment = book(session, "demo", service, start, language, None, clock())
        session.flush()
        session.expunge(appointment)
        return appointment


def state_of(database, appointment_id: int) -> Appointment:
    """An appointment as SQL holds it now."""
    with database.session() as session:
        found = session.get(Appointment, appointment_id)
        session.expunge(found)
        return found


def kinds(database) -> list[str]:
    """The kinds of the events logged, in order."""
    with database.session() as session:
        return list(session.scalars(select(Event.kind).order_by(Event.id)))


def spaced(code: str) -> str:
    """The code as a visitor may type it: small letters, a space in the middle."""
    return f" {code[:3].lower()} {code[3:]} "


def test_on_time_the_appointment_becomes_a_ticket_due_at_its_slot(demo, database, engine,
                                                                   clock):
    appointment = booked(database, clock)
    clock.now = SLOT - dt.timedelta(minutes=10)
    ticket = check_in(engine, "demo", spaced(appointment.code), clock(), WINDOW)
    assert ticket.number.startswith("G-") and ticket.language == "ar"
    assert ticket.steps[0].appointment_due == SLOT
    found = state_of(database, appointment.id)
    assert (found.state, found.ticket_id) == (AppointmentState.CHECKED_IN, ticket.id)
    assert kinds(database)[-1] == "appointment_checked_in"


def test_a_second_check_in_gives_the_same_ticket(demo, database, engine, clock):
    appointment = booked(database, clock)
    clock.now = SLOT
    first = check_in(engine, "demo", appointment.code, clock(), WINDOW)
    clock.now = SLOT + dt.timedelta(hours=1)  # even after the window: it came in already
    again = check_in(engine, "demo", appointment.code.lower(), clock(), WINDOW)
    assert again.id == first.id
    with database.session() as session:
        assert session.scalars(select(Ticket.id)).all() == [first.id]
    assert kinds(database).count("appointment_checked_in") == 1


def test_too_early_says_when_check_in_opens(demo, database, engine, clock):
    appointment = booked(database, clock)
    clock.now = SLOT - dt.timedelta(minutes=31)
    with pytest.raises(Conflict) as refused:
        check_in(engine, "demo", appointment.code, clock(), WINDOW)
    assert refused.value.code == "too_early"
    assert "10:30" in refused.value.message
    assert refused.value.details["opens_at"] == "2026-11-23T10:30:00+02:00"
    assert state_of(database, appointment.id).state == AppointmentState.BOOKED


def test_too_late_offers_a_walk_in_ticket(demo, database, engine, clock):
    appointment = booked(database, clock)
    clock.now = SLOT + dt.timedelta(minutes=16)
    with pytest.raises(Conflict) as refused:
        check_in(engine, "demo", appointment.code, clock(), WINDOW)
    assert refused.value.code == "too_late"
    assert "walk-in" in refused.value.message
    with database.session() as session:
        assert session.scalars(select(Ticket)).all() == []


def test_an_unknown_code_is_refused(demo, database, engine, clock):
    with pytest.raises(NotFound) as refused:
        check_in(engine, "demo", "QQQQQQ", clock(), WINDOW)
    assert refused.value.code == "unknown_code"


def test_a_cancelled_appointment_is_refused(demo, database, engine, clock):
    appointment = booked(database, clock)
    with database.session() as session:
        cancel(session, appointment.token, clock())
    clock.now = SLOT
    with pytest.raises(Conflict) as refused:
        check_in(engine, "demo", appointment.code, clock(), WINDOW)
    assert refused.value.code == "cancelled"


def test_check_in_is_not_bound_by_the_walk_in_hours(demo, database, engine, clock):
    appointment = booked(database, clock)
    with database.session() as session:
        # The centre stops taking walk-in visitors long before this slot.
        session.get(Service, appointment.service_id).site.opening_hours = {
            day: ["08:00-09:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    clock.now = SLOT
    with pytest.raises(Conflict):
        engine.issue_ticket("demo", [appointment.service_id], "ar")
    assert check_in(engine, "demo", appointment.code, clock(), WINDOW).number.startswith("G-")


def test_a_checked_in_visitor_due_now_is_called_before_an_earlier_walk_in(
        demo, database, engine, clock, redis_client):
    appointment = booked(database, clock)
    clock.now = SLOT - dt.timedelta(minutes=25)
    walk_in = engine.issue_ticket("demo", [appointment.service_id], "el")
    clock.now = SLOT - dt.timedelta(minutes=2)
    visitor = check_in(engine, "demo", appointment.code, clock(), WINDOW)
    # The boost comes from SQL: Redis flushed and rebuilt gives the same call.
    redis_client.flushdb()
    reconcile(database, engine.live, now=clock())
    counter = counter_id(database, "desk-8")
    engine.open_counter(counter)
    assert engine.call_next(counter).step.ticket_id == visitor.id
    engine.start(counter)
    engine.finish(counter)
    assert engine.call_next(counter).step.ticket_id == walk_in.id


def counter_id(database, key: str) -> int:
    """A demo desk's id."""
    with database.session() as session:
        return session.scalars(select(Counter.id).where(Counter.site_id == "demo",
                                                        Counter.key == key)).one()


def test_appointments_not_checked_in_become_missed(demo, database, engine, clock):
    late = booked(database, clock)
    later = booked(database, clock, start=SLOT + dt.timedelta(minutes=30))
    came = booked(database, clock, start=SLOT, service="housing")
    clock.now = SLOT
    check_in(engine, "demo", came.code, clock(), WINDOW)
    clock.now = SLOT + dt.timedelta(minutes=15)
    assert mark_missed(database, clock(), WINDOW) == 0  # the last minute of the window
    clock.now = SLOT + dt.timedelta(minutes=16)
    assert mark_missed(database, clock(), WINDOW) == 1
    assert mark_missed(database, clock(), WINDOW) == 0
    assert [state_of(database, a.id).state for a in (late, later, came)] == [
        AppointmentState.MISSED, AppointmentState.BOOKED, AppointmentState.CHECKED_IN]
    assert kinds(database).count("appointment_missed") == 1
    with pytest.raises(Conflict) as refused:
        check_in(engine, "demo", late.code, clock(), WINDOW)
    assert refused.value.code == "cancelled"


def test_the_printed_ticket_says_the_appointment_time(demo, database, engine, clock):
    appointment = booked(database, clock)
    clock.now = SLOT
    ticket = check_in(engine, "demo", appointment.code, clock(), WINDOW)
    walk_in = engine.issue_ticket("demo", [appointment.service_id], "ar")
    words = {"ar": "الموعد %(time)s", "el": "Ραντεβού %(time)s"}
    lines = {}
    for found in (ticket, walk_in):
        with database.session() as session:
            loaded = session.get(Ticket, found.id)
            printout = build_printout(loaded, 0, "http://x/t",
                                      lambda language, message: words.get(language, message)
                                      if message == APPOINTMENT_AT else message)
            lines[found.id] = [[line.text for line in block.lines] for block in printout.sections]
    assert lines[ticket.id][0][0] == "الموعد 11:00"
    assert lines[ticket.id][1][0] == "Ραντεβού 11:00"
    assert not any("11:00" in text for block in lines[walk_in.id] for text in block)


def test_the_api_answers_the_ticket_as_issuing_does_and_each_refusal(client, demo, database,
                                                                      clock):
    appointment = booked(database, clock)
    url = f"{API}/sites/demo/check-in"
    clock.now = SLOT - dt.timedelta(minutes=40)
    early = client.post(url, json={"code": appointment.code}, headers={"Accept-Language": "en"})
    assert early.status_code == 409 and early.json["error"]["code"] == "too_early"
    assert client.post(url, json={"code": "QQQQQQ"}).json["error"]["code"] == "unknown_code"
    assert client.post(url, json={}).json["error"]["code"] == "invalid_code"
    assert client.post(url, json={"code": 7}).status_code == 422
    clock.now = SLOT
    answer = client.post(url, json={"code": appointment.code},
                         headers=kiosk_headers(client, "demo"))
    assert answer.status_code == 201
    assert {"number", "token", "mobile_url"} <= set(answer.json)
    again = client.post(url, json={"code": appointment.code})
    assert (again.status_code, again.json["token"]) == (201, answer.json["token"])
    clock.now = SLOT + dt.timedelta(hours=2)
    other = booked(database, clock, start=SLOT + dt.timedelta(hours=3))
    clock.now = SLOT + dt.timedelta(hours=4)
    late = client.post(url, json={"code": other.code})
    assert late.status_code == 409 and late.json["error"]["code"] == "too_late"


def test_the_kiosk_check_in_page_has_the_form(client, demo):
    page = pair_client(client, "demo").get("/kiosk/demo/entrance/ar/appointment")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-check-in-form' in html and f"{API}/sites/demo/check-in" in html
    assert 'name="code"' in html and 'autocomplete="off"' in html
    assert "/kiosk/demo/entrance/ar/ticket/TOKEN" in html
    assert "coming soon" not in html
