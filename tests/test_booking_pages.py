"""The visitor's booking pages through the Flask test client: each step, holding then
confirming, contact optional, bad input kept and shown beside its field, a taken time not
available, moving and cancelling from /a/<token>, the calendar file, every language.

Runs on SQLite only: what is checked here is the pages; booking itself is tested on both
databases in tests/test_appointments.py.
"""

import datetime as dt
import re

import pytest
import yaml
from babel.support import Translations
from icalendar import Calendar
from sqlalchemy import select

from tessera.appointments.booking import book, cancel, confirm, get_appointment
from tessera.appointments.waiting_list import join
from tessera.models import Appointment, AppointmentState, WaitingListEntry
from tessera.sites.loader import load_site, read_site_file

from .helpers import ROOT, load_demo_site, migrated_sqlite

# The test clock: Monday 2026-11-23, 10:00 in Athens (08:00 UTC).
TUESDAY = "2026-11-24"
ELEVEN = "2026-11-24T11:00:00+02:00"  # 09:00 UTC; legal advice speaks el, en, ar until noon
NOON = "2026-11-24T12:00:00+02:00"
EVERY_DAY = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEMO_LANGUAGES = ["el", "en", "ar", "fa", "uk", "ru", "ti", "fr", "so"]


@pytest.fixture(scope="module")
def database_url(tmp_path_factory):
    """SQLite only, for this module."""
    return migrated_sqlite(tmp_path_factory, "booking_pages")


@pytest.fixture
def demo(database):
    """The demo centre, which takes appointments around the clock."""
    return load_demo_site(database)


def appointments(database) -> list[Appointment]:
    """Every appointment in SQL, detached, oldest first."""
    with database.session() as session:
        found = session.scalars(select(Appointment).order_by(Appointment.id)).all()
        session.expunge_all()
        return found


def times_offered(page: str) -> list[str]:
    """The times a times page lets the visitor choose, in the page's order."""
    return re.findall(r'name="start" value="([^"]+)"', page)


def hold(client, start=ELEVEN, language="en", service="legal_advice", **form):
    """Pick a time on the times page; gives the response (a redirect to /a/<token>)."""
    day = start[:10]
    return client.post(f"/book/demo/{language}/{service}/{day}",
                       data={"start": start, "form_key": "page-1", **form})


def held_path(client, **options) -> str:
    """Hold a time and give the address of the contact step."""
    response = hold(client, **options)
    assert response.status_code == 303
    return response.headers["Location"]


def booked_path(client, email="", phone="", **options) -> str:
    """Hold a time and confirm it; gives /a/<token>."""
    path = held_path(client, **options)
    response = client.post(f"{path}/confirm", data={"email": email, "phone": phone})
    assert response.status_code == 303, response.text
    return path


def html_attributes(page: str) -> tuple[str, str]:
    """The page's language and direction, from <html>."""
    found = re.search(r'<html lang="([^"]+)" dir="([^"]+)"', page)
    return found.group(1), found.group(2)


# The steps ------------------------------------------------------------------------------

def test_the_first_page_offers_every_site_language_in_its_own_name(client, demo):
    page = client.get("/book/demo")
    assert page.status_code == 200
    for code in DEMO_LANGUAGES:
        assert f'href="/book/demo/{code}"' in page.text
    assert ">العربية<" in page.text and ">ትግርኛ<" in page.text
    chosen = client.get("/book/demo?language=fa")
    assert chosen.status_code == 302 and chosen.headers["Location"] == "/book/demo/fa"
    assert client.get("/book/demo?language=de").status_code == 200  # not offered: choose


@pytest.mark.parametrize("language", DEMO_LANGUAGES)
def test_every_site_language_renders_every_step_with_its_direction(client, demo, language):
    expected = (language, "rtl" if language in ("ar", "fa") else "ltr")
    paths = [f"/book/demo/{language}", f"/book/demo/{language}/legal_advice",
             f"/book/demo/{language}/legal_advice/{TUESDAY}",
             f"/book/demo/{language}/legal_advice/waiting-list"]
    for path in paths:
        page = client.get(path)
        assert page.status_code == 200, path
        assert html_attributes(page.text) == expected, path
    path = held_path(client, language=language)
    assert html_attributes(client.get(path).text) == expected


def test_only_services_that_take_appointments_are_offered(client, demo):
    page = client.get("/book/demo/en").text
    offered = re.findall(r'href="/book/demo/en/([a-z_]+)"', page)
    assert offered == ["job_counselling", "housing", "legal_advice"]
    refused = client.get("/book/demo/en/registration")
    assert refused.status_code == 422
    assert "does not take appointments" in refused.text


def test_a_wrong_site_language_or_day_gets_a_clear_page(client, demo):
    assert client.get("/book/nowhere").status_code == 404
    wrong_language = client.get("/book/demo/de")
    assert wrong_language.status_code == 422 and "not offered" in wrong_language.text
    assert client.get("/book/demo/en/legal_advice/tomorrow").status_code == 404
    assert client.get("/book/demo/en/no_such_service").status_code == 404


def test_the_days_are_the_booking_horizon_a_week_at_a_time(client, demo):
    first = client.get("/book/demo/en/legal_advice").text
    days = re.findall(r'href="/book/demo/en/legal_advice/(\d{4}-\d\d-\d\d)"', first)
    assert days == [f"2026-11-{day}" for day in range(23, 30)]
    assert "Mon, November 23" in first and "Join the waiting list" in first
    last = client.get("/book/demo/en/legal_advice?week=4").text
    days = re.findall(r'href="/book/demo/en/legal_advice/(\d{4}-\d\d-\d\d)"', last)
    assert days == ["2026-12-21", "2026-12-22", "2026-12-23"]  # today + 30 days
    assert "Later days" not in last and "Earlier days" in last


def test_times_come_in_the_visitors_language_first_then_with_an_interpreter(client, demo):
    page = client.get(f"/book/demo/ti/legal_advice/{TUESDAY}").text
    offered = times_offered(page)
    assert len(offered) == 48
    # A Tigrinya speaker is there from noon; the morning needs an interpreter by phone.
    assert offered[0] == NOON and offered[23] == "2026-11-24T23:30:00+02:00"
    assert offered[24] == "2026-11-24T00:00:00+02:00"
    assert page.index("time-group") < page.index(NOON) < page.index('icon-interpreter"/></svg>')
    english = times_offered(client.get(f"/book/demo/en/legal_advice/{TUESDAY}").text)
    assert english[0] == "2026-11-24T00:00:00+02:00"
    # Nobody at the housing desk speaks Arabic: every day says so before a time is chosen.
    days = client.get("/book/demo/ar/housing").text
    assert days.count('class="choice-detail interpreter-mark"') == 7
    assert "interpreter-mark" not in client.get("/book/demo/en/housing").text


def test_a_taken_time_shows_as_not_available(client, demo, database, clock):
    with database.session() as session:
        book(session, "demo", "legal_advice", dt.datetime(2026, 11, 24, 9, 0), "el", None,
             clock())
    page = client.get(f"/book/demo/en/legal_advice/{TUESDAY}").text
    assert ELEVEN not in times_offered(page)
    assert len(times_offered(page)) == 47
    assert page.count("time-button time-taken") == 1 and "Not available" in page
    days = client.get("/book/demo/en/legal_advice").text
    assert "47 free times" in days


def test_a_day_whose_every_time_is_taken_is_not_available(client, demo, database, clock):
    with database.session() as session:
        for half_hours in range(48):
            start = dt.datetime(2026, 11, 23, 22, 0) + dt.timedelta(minutes=30 * half_hours)
            book(session, "demo", "housing", start, "el", None, clock())
    page = client.get("/book/demo/en/housing").text
    assert 'href="/book/demo/en/housing/2026-11-24"' not in page
    assert "Not available: every time is taken." in page
    times = client.get("/book/demo/en/housing/2026-11-24").text
    assert times_offered(times) == [] and times.count("time-button time-taken") == 48


def test_no_free_time_in_the_horizon_puts_the_waiting_list_first(client, database, clock,
                                                                 tmp_path):
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(one_slot_centre(), allow_unicode=True), encoding="utf-8")
    with database.session() as session:
        load_site(session, read_site_file(path))
        book(session, "tiny", "legal", dt.datetime(2026, 11, 24, 7, 0), "el", None, clock())
    page = client.get("/book/tiny/el/legal").text
    greek = Translations.load(str(ROOT / "tessera" / "translations"), ["el"])
    assert greek.gettext("There is no free time for this service in the coming days.") in page
    assert 'class="waiting-offer waiting-offer-strong"' in page
    assert 'class="button button-primary" href="/book/tiny/el/legal/waiting-list"' in page


def one_slot_centre() -> dict:
    """A centre whose one service has a single slot a day, 09:00-10:00, one day ahead."""
    text = {"el": {"name": "Νομική"}}
    return {
        "id": "tiny", "name": {"el": "Κέντρο"}, "timezone": "Europe/Athens", "language": "el",
        "languages": ["el"], "organisations": {"legal": {"name": {"el": "Νομική"}}},
        "services": {"legal": {
            "organisation": "legal", "prefix": "A", "target_wait": 30, "mean_handling": 20,
            "text": text, "appointments": {
                "slot_minutes": 60, "places": 1, "notice_minutes": 60, "horizon_days": 1,
                "desks": ["desk-1"], "hours": {day: ["09:00-10:00"] for day in EVERY_DAY}}}},
        "counters": {"desk-1": {"name": {"el": "1"}, "services": ["legal"],
                                "languages": ["el"]}},
    }


# Holding and confirming ------------------------------------------------------------------

def test_picking_a_time_holds_it_and_says_for_how_long(client, demo, database, clock):
    path = held_path(client)
    assert re.fullmatch(r"/a/[\w-]{20,}", path)
    (held,) = appointments(database)
    assert held.state == AppointmentState.HELD
    assert held.start == dt.datetime(2026, 11, 24, 9, 0)
    assert held.hold_expires_at == clock() + dt.timedelta(minutes=10)
    page = client.get(path).text
    assert "Step 4 of 5" in page
    assert "We keep this time for you until 10:10\u202fAM (10 minutes)." in page
    assert 'data-seconds="600"' in page
    assert 'name="email"' in page and 'name="phone"' in page


def test_a_double_tap_on_a_time_is_one_hold(client, demo, database):
    assert held_path(client) == held_path(client)
    assert len(appointments(database)) == 1


def test_a_time_taken_meanwhile_keeps_the_visitor_on_the_times_page(client, demo, database,
                                                                    clock):
    with database.session() as session:
        book(session, "demo", "legal_advice", dt.datetime(2026, 11, 24, 9, 0), "el", None,
             clock())
    response = hold(client)
    assert response.status_code == 409
    assert "This slot has just been taken. Please choose another time." in response.text
    assert len(times_offered(response.text)) == 47
    assert len(appointments(database)) == 1


def test_a_time_not_from_the_list_is_refused_clearly(client, demo, database):
    for start, message in [("", "Please choose a time from the list."),
                           ("2026-11-24T11:10:00+02:00", "There is no appointment slot"),
                           ("2026-11-23T10:00:00+02:00", "This slot is too soon")]:
        response = client.post(f"/book/demo/en/legal_advice/{TUESDAY}", data={"start": start})
        assert response.status_code == 422 and message in response.text
        assert 'role="alert"' in response.text
    assert appointments(database) == []


def test_contact_is_optional_and_the_confirmation_shows_the_code(client, demo, database):
    path = booked_path(client)
    (booked,) = appointments(database)
    assert booked.state == AppointmentState.BOOKED
    assert (booked.email, booked.phone) == (None, None)
    page = client.get(f"{path}?done=booked").text
    assert "Step 5 of 5" in page and "Your appointment is booked" in page
    spaced = "".join(f"<span>{character}</span>" for character in booked.code)
    assert f'<p class="appointment-code" dir="ltr">{spaced}</p>' in page
    assert "Show this code at the kiosk when you arrive." in page
    assert "You can check in from 10:30\u202fAM to 11:15\u202fAM." in page
    assert f'href="{path}/calendar.ics?language=en"' in page
    assert f'href="http://localhost{path}"' in page
    assert page.count("<svg") > page.count("<use")  # the QR code, beside the icons


def test_the_confirmation_redirect_names_the_language_and_the_step(client, demo):
    path = held_path(client, language="ar")
    response = client.post(f"{path}/confirm", data={"email": "amanuel@example.org"})
    assert response.headers["Location"] == f"{path}?language=ar&done=booked"
    page = client.get(response.headers["Location"]).text
    assert html_attributes(page) == ("ar", "rtl")


def test_email_and_phone_are_kept_when_given(client, demo, database):
    booked_path(client, email=" amanuel@example.org ", phone="+30 210 123 4567")
    (booked,) = appointments(database)
    assert (booked.email, booked.phone) == ("amanuel@example.org", "+30 210 123 4567")


@pytest.mark.parametrize("email, phone, wrong, message", [
    ("amanuel@", "+30 210 123 4567", "email", "This email address does not look right"),
    ("amanuel@example.org", "12", "phone", "This phone number does not look right"),
])
def test_a_wrong_contact_shows_beside_its_field_and_keeps_what_was_typed(
        client, demo, database, email, phone, wrong, message):
    path = held_path(client)
    response = client.post(f"{path}/confirm", data={"email": email, "phone": phone})
    assert response.status_code == 422
    page = response.text
    assert f'aria-invalid="true" aria-describedby="{wrong}-error"' in page
    assert re.search(rf'<p class="field-error" id="{wrong}-error">{message}', page)
    assert f'value="{email}"' in page and f'value="{phone}"' in page
    assert appointments(database)[0].state == AppointmentState.HELD


def test_a_hold_that_lapsed_asks_to_choose_again(client, demo, database, clock):
    path = held_path(client)
    clock.advance(minutes=11)
    response = client.post(f"{path}/confirm", data={"email": "amanuel@example.org"})
    assert response.status_code == 409
    assert "This hold has expired. Please choose a time again." in response.text
    assert 'href="/book/demo/en/legal_advice"' in response.text
    assert appointments(database)[0].state == AppointmentState.EXPIRED


def test_the_guards_refusal_shows_on_the_page_and_loses_nothing(make_client, redis_client,
                                                                demo, database):
    client = make_client(BOOKING_CHALLENGE="on")
    path = held_path(client)
    response = client.post(f"{path}/confirm", data={"email": "amanuel@example.org",
                                                    "phone": "+30 210 123 4567"})
    assert 400 <= response.status_code < 500
    assert re.search(r'<p class="notice" role="alert" id="form-error">[^<]+</p>', response.text)
    assert 'value="amanuel@example.org"' in response.text
    assert 'value="+30 210 123 4567"' in response.text
    assert appointments(database)[0].state == AppointmentState.HELD


def test_a_second_tap_on_book_shows_the_booking_without_asking_the_guard_again(
        make_client, redis_client, demo, database, clock):
    client = make_client(BOOKING_CHALLENGE="on")
    path = held_path(client)
    with database.session() as session:
        confirm(session, path.rsplit("/", 1)[1], clock())  # the first tap's answer was lost
    response = client.post(f"{path}/confirm", data={"email": ""})
    assert response.status_code == 303 and response.headers["Location"].endswith("done=booked")


def test_a_place_the_waiting_list_offers_is_confirmed_on_the_same_page(
        make_client, redis_client, demo, database, clock):
    client = make_client(BOOKING_CHALLENGE="on")  # a place given, not taken: no challenge
    with database.session() as session:
        join(session, "demo", "legal_advice", "en", "2026-11-24", "2026-11-24",
             {"email": "amanuel@example.org"}, clock())
        taken = book(session, "demo", "legal_advice", dt.datetime(2026, 11, 24, 9, 0), "el",
                     None, clock())
        cancel(session, taken.token, clock())
        offered = session.scalars(select(WaitingListEntry)).one().appointment.token
    page = client.get(f"/a/{offered}").text
    assert "We keep this time for you until" in page
    assert 'value="amanuel@example.org"' in page  # what the visitor gave when joining
    response = client.post(f"/a/{offered}/confirm", data={"email": "amanuel@example.org"})
    assert response.status_code == 303
    with database.session() as session:
        assert get_appointment(session, offered).state == AppointmentState.BOOKED
        assert session.scalars(select(WaitingListEntry)).one().state == "booked"


# Managing: cancel, move, calendar ------------------------------------------------------

def test_cancelling_asks_first_then_frees_the_time(client, demo, database):
    path = booked_path(client)
    question = client.get(f"{path}/cancel?language=en").text
    assert "Cancel your appointment?" in question
    assert f'action="{path}/cancel?language=en"' in question
    assert appointments(database)[0].state == AppointmentState.BOOKED
    response = client.post(f"{path}/cancel?language=en")
    assert response.status_code == 303
    assert appointments(database)[0].state == AppointmentState.CANCELLED
    page = client.get(response.headers["Location"]).text
    assert "This appointment is cancelled." in page
    assert ELEVEN in times_offered(client.get(f"/book/demo/en/legal_advice/{TUESDAY}").text)
    again = client.post(f"{path}/cancel")
    assert again.status_code == 303  # cancelling twice changes nothing


def test_moving_keeps_the_code_and_frees_the_old_time(client, demo, database):
    path = booked_path(client)
    before = appointments(database)[0]
    days = client.get(f"{path}/move?language=en").text
    assert f'href="{path}/move/2026-11-25?language=en"' in days
    times = client.get(f"{path}/move/2026-11-25?language=en").text
    assert f'action="{path}/move/2026-11-25?language=en"' in times
    response = client.post(f"{path}/move/2026-11-25?language=en",
                           data={"start": "2026-11-25T15:00:00+02:00"})
    assert response.status_code == 303
    assert "done=moved" in response.headers["Location"]
    (after,) = appointments(database)
    assert after.start == dt.datetime(2026, 11, 25, 13, 0) and after.code == before.code
    page = client.get(response.headers["Location"]).text
    assert "Your appointment has moved. Your code stays the same." in page
    assert ELEVEN in times_offered(client.get(f"/book/demo/en/legal_advice/{TUESDAY}").text)


def test_moving_to_a_taken_time_changes_nothing(client, demo, database, clock):
    path = booked_path(client)
    with database.session() as session:
        book(session, "demo", "legal_advice", dt.datetime(2026, 11, 25, 13, 0), "el", None,
             clock())
    response = client.post(f"{path}/move/2026-11-25",
                           data={"start": "2026-11-25T15:00:00+02:00"})
    assert response.status_code == 409
    assert "This slot has just been taken" in response.text
    assert appointments(database)[0].start == dt.datetime(2026, 11, 24, 9, 0)


def test_a_cancelled_appointment_cannot_move(client, demo):
    path = booked_path(client)
    client.post(f"{path}/cancel")
    assert client.get(f"{path}/move").status_code == 404
    page = client.get(path).text
    assert "Move to another time" not in page and "Book another time" in page


def calendar_event(client, path: str, language: str = "en"):
    """The one event of the appointment's .ics file, parsed."""
    response = client.get(f"{path}/calendar.ics?language={language}")
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    assert "attachment" in response.headers["Content-Disposition"]
    (event,) = Calendar.from_ical(response.data).walk("VEVENT")
    return event


@pytest.mark.parametrize("now, start, utc_start", [
    # Winter: Athens is UTC+2.
    (dt.datetime(2026, 11, 23, 8, 0), "2026-11-24T11:00:00+02:00", dt.datetime(2026, 11, 24, 9)),
    # Summer: Athens is UTC+3, so the same local time is an hour earlier in UTC.
    (dt.datetime(2027, 6, 1, 8, 0), "2027-06-02T11:00:00+03:00", dt.datetime(2027, 6, 2, 8)),
    # The night daylight saving time ends: 03:30 local happens twice; the form says which.
    (dt.datetime(2026, 10, 24, 8, 0), "2026-10-25T03:30:00+02:00",
     dt.datetime(2026, 10, 25, 1, 30)),
])
def test_the_calendar_file_has_the_right_times_across_time_zones(client, demo, database,
                                                                 clock, now, start, utc_start):
    clock.now = now
    path = booked_path(client, start=start, language="ar")
    event = calendar_event(client, path, "ar")
    assert event.decoded("dtstart") == utc_start.replace(tzinfo=dt.UTC)
    assert event.decoded("dtend") == (utc_start + dt.timedelta(minutes=30)).replace(tzinfo=dt.UTC)
    assert event["summary"] == "استشارة قانونية"
    assert str(event["location"]).startswith("مركز")
    code = appointments(database)[0].code
    assert code in event["description"] and f"http://localhost{path}" in event["description"]


def test_the_calendar_event_keeps_its_uid_when_the_appointment_moves(client, demo, database):
    path = booked_path(client)
    first = calendar_event(client, path)
    token = path.rsplit("/", 1)[1]
    assert token not in first["uid"]  # the UID is public in calendars; the token is a key
    client.post(f"{path}/move/2026-11-25", data={"start": "2026-11-25T15:00:00+02:00"})
    moved = calendar_event(client, path)
    assert moved["uid"] == first["uid"]
    assert moved.decoded("dtstart") == dt.datetime(2026, 11, 25, 13, tzinfo=dt.UTC)
    client.post(f"{path}/cancel")
    assert calendar_event(client, path)["status"] == "CANCELLED"


def test_an_unknown_token_gets_a_404_page(client, demo):
    for path in ["/a/no-such-token", "/a/no-such-token/calendar.ics", "/a/no-such-token/move",
                 "/a/no-such-token/cancel"]:
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.mimetype == "text/html"
        assert "There is no such appointment." in response.text
    assert client.post("/a/no-such-token/confirm").status_code == 404
    assert client.post("/a/no-such-token/cancel").status_code == 404


def test_the_manage_page_speaks_another_site_language_on_request(client, demo):
    path = booked_path(client, language="ar")
    assert html_attributes(client.get(path).text) == ("ar", "rtl")
    page = client.get(f"{path}?language=uk").text
    assert html_attributes(page) == ("uk", "ltr")
    assert f'href="{path}?language=fa"' in page
    assert client.get(f"{path}?language=de").status_code == 422


# The waiting list -------------------------------------------------------------------------

def test_joining_the_waiting_list(client, demo, database):
    form = client.get("/book/demo/en/housing/waiting-list").text
    assert 'value="2026-11-23"' in form and 'value="2026-12-23"' in form
    response = client.post("/book/demo/en/housing/waiting-list", data={
        "first_day": "2026-11-25", "last_day": "2026-11-27", "email": "amanuel@example.org",
        "phone": ""})
    assert response.status_code == 200
    assert "You are on the waiting list" in response.text
    assert "Wed, November 25" in response.text
    with database.session() as session:
        (entry,) = session.scalars(select(WaitingListEntry)).all()
        assert (entry.first_day, entry.last_day) == (dt.date(2026, 11, 25), dt.date(2026, 11, 27))
        assert (entry.language, entry.email) == ("en", "amanuel@example.org")


@pytest.mark.parametrize("form, field, message", [
    ({"email": "", "phone": ""}, "form", "Give an email address or a phone number"),
    ({"email": "amanuel@", "phone": ""}, "email", "This email address does not look right"),
    ({"first_day": "2026-11-20", "email": "amanuel@example.org"}, "first_day",
     "The first day has already passed"),
    ({"last_day": "2027-03-01", "email": "amanuel@example.org"}, "last_day",
     "The last day is too far ahead"),
])
def test_the_waiting_list_form_keeps_what_was_typed(client, demo, database, form, field,
                                                    message):
    typed = {"first_day": "2026-11-25", "last_day": "2026-11-27", "email": "", "phone": "",
             **form}
    response = client.post("/book/demo/en/housing/waiting-list", data=typed)
    assert response.status_code == 422
    if field == "form":
        assert re.search(rf'<p class="notice" role="alert" id="form-error">{message}',
                         response.text)
    else:
        assert re.search(rf'<p class="field-error" id="{field}-error">{message}', response.text)
    for value in typed.values():
        assert f'value="{value}"' in response.text
    with database.session() as session:
        assert session.scalars(select(WaitingListEntry)).all() == []
