"""Appointments in the domain: slots (daylight saving, opening hours, languages), holds and
their expiry, booking the last place under contention, cancel and move, each bad input."""

import copy
import datetime as dt
import threading

import pytest
import yaml
from sqlalchemy import func, select

from tessera.appointments.availability import get_service, kept_desks, slots
from tessera.appointments.booking import (
    CODE_ALPHABET,
    book,
    cancel,
    confirm,
    get_appointment,
    move,
    new_code,
)
from tessera.errors import Conflict, InvalidInput, NotFound
from tessera.models import Appointment, AppointmentState, Event
from tessera.sites.loader import DEMO_SITE, SiteFileError, load_site, read_site_file

TEXT = {"el": {"name": "Υπηρεσία"}}
EVERY_DAY = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Monday 2026-11-23, 10:00 in Athens.
NOW = dt.datetime(2026, 11, 23, 8, 0)
MONDAY = dt.date(2026, 11, 23)


def site_document() -> dict:
    """A centre open around the clock whose services take appointments in various ways."""
    return {
        "id": "booked", "name": {"el": "Κέντρο"}, "timezone": "Europe/Athens",
        "language": "el", "languages": ["el", "en", "ar", "ti"],
        "organisations": {"legal": {"name": {"el": "Νομική"}}},
        "services": {
            # Mornings with a Tigrinya speaker, afternoons in English, one place each hour.
            "legal": {"organisation": "legal", "prefix": "A", "target_wait": 30,
                      "mean_handling": 20, "text": TEXT, "appointments": {
                          "slot_minutes": 60, "places": 1, "notice_minutes": 60,
                          "horizon_days": 14, "hold_minutes": 5, "desks": ["desk-1"],
                          "closed_dates": ["2026-11-25"],
                          "hours": {day: [{"time": "09:00-12:00", "languages": ["el", "ti"]},
                                          {"time": "13:00-16:00", "languages": ["el", "en"]}]
                                    for day in EVERY_DAY}}},
            # All day, every day, in half hours; the desk's languages are the block's.
            "housing": {"organisation": "legal", "prefix": "B", "target_wait": 30,
                        "mean_handling": 20, "text": TEXT, "appointments": {
                            "slot_minutes": 60, "places": 3, "notice_minutes": 0,
                            "desks": ["desk-2"],
                            "hours": {day: ["00:00-24:00"] for day in EVERY_DAY}}},
            "walk_in": {"organisation": "legal", "prefix": "C", "target_wait": 30,
                        "mean_handling": 20, "text": TEXT},
        },
        "counters": {
            "desk-1": {"name": {"el": "1"}, "services": ["legal"], "languages": ["el"]},
            "desk-2": {"name": {"el": "2"}, "services": ["housing", "walk_in"],
                       "languages": ["el", "ar"]},
        },
    }


def checked(tmp_path, document: dict) -> dict:
    """The document as read_site_file validates it, through a real file."""
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return read_site_file(path)


@pytest.fixture
def centre(database, tmp_path):
    """The booked centre, loaded from a validated file."""
    with database.session() as session:
        load_site(session, checked(tmp_path, site_document()))


def local_starts(found, timezone="Europe/Athens") -> list[str]:
    """Each slot's start as the API writes it."""
    return [slot.as_dict(timezone)["start"] for slot in found]


def service_slots(database, key, day, days=1, language=None, now=NOW):
    """The slots of one service of the booked centre."""
    with database.session() as session:
        return slots(session, get_service(session, "booked", key), day, days, language, now)


def at(text: str) -> dt.datetime:
    """A local ISO time with offset, as naive UTC."""
    return dt.datetime.fromisoformat(text).astimezone(dt.UTC).replace(tzinfo=None)


def booking(database, start, key="legal", now=NOW, **options):
    """Book in one transaction; returns the appointment."""
    with database.session() as session:
        return book(session, "booked", key, start, options.pop("language", "ti"),
                    options.pop("contact", None), now, **options)


def counts(database) -> tuple[int, int]:
    """(appointments, events) in SQL."""
    with database.session() as session:
        return (session.scalar(select(func.count()).select_from(Appointment)),
                session.scalar(select(func.count()).select_from(Event)))


def events(database) -> list[str]:
    """The kinds of every event, in order."""
    with database.session() as session:
        return list(session.scalars(select(Event.kind).order_by(Event.id)))


# Slots -----------------------------------------------------------------------------

def test_the_autumn_change_gives_a_day_of_25_hourly_slots(database, centre):
    found = service_slots(database, "housing", dt.date(2026, 10, 25),
                          now=dt.datetime(2026, 10, 24, 0, 0))
    starts = local_starts(found)
    assert len(found) == 25
    # 03:00 happens twice: first in summer time, then in winter time.
    assert "2026-10-25T03:00:00+03:00" in starts and "2026-10-25T03:00:00+02:00" in starts
    assert starts[0] == "2026-10-25T00:00:00+03:00" and starts[-1] == "2026-10-25T23:00:00+02:00"
    assert all(slot.end - slot.start == dt.timedelta(hours=1) for slot in found)


def test_the_spring_change_gives_a_day_of_23_slots_and_blocks_follow_the_local_clock(
        database, centre):
    now = dt.datetime(2026, 3, 27, 0, 0)
    found = service_slots(database, "housing", dt.date(2026, 3, 29), now=now)
    starts = local_starts(found)
    assert len(found) == 23
    assert not any("T03:" in start for start in starts)  # 03:00-04:00 does not exist
    assert "2026-03-29T04:00:00+03:00" in starts
    # The 09:00 block is 07:00 UTC in winter time and 06:00 UTC in summer time.
    before = service_slots(database, "legal", dt.date(2026, 3, 28), now=now)
    after = service_slots(database, "legal", dt.date(2026, 3, 29), now=now)
    assert min(s.start for s in before) == dt.datetime(2026, 3, 28, 7, 0)
    assert min(s.start for s in after) == dt.datetime(2026, 3, 29, 6, 0)


def test_slots_never_fall_outside_opening_hours_or_on_closed_dates(database, tmp_path):
    document = site_document()
    document["opening_hours"] = {day: ["10:00-15:00"] for day in EVERY_DAY}
    document["closed_dates"] = ["2026-11-26"]
    with database.session() as session:
        load_site(session, checked(tmp_path, document))
    found = service_slots(database, "legal", dt.date(2026, 11, 24), days=4)
    by_day = {}
    for start in local_starts(found):
        by_day.setdefault(start[:10], []).append(start[11:16])
    # 09:00-10:00 and 15:00-16:00 are outside the hours; the 25th is the service's holiday,
    # the 26th the centre's.
    assert by_day == {day: ["10:00", "11:00", "13:00", "14:00"]
                      for day in ("2026-11-24", "2026-11-27")}


def test_a_visitor_sees_first_the_slots_where_their_language_is_spoken(database, centre):
    found = service_slots(database, "legal", dt.date(2026, 11, 24), language="ti")
    assert [s.as_dict("Europe/Athens")["start"][11:16] for s in found] == [
        "09:00", "10:00", "11:00", "13:00", "14:00", "15:00"]
    assert [s.interpreter for s in found] == [False] * 3 + [True] * 3
    english = service_slots(database, "legal", dt.date(2026, 11, 24), language="en")
    assert [s.as_dict("Europe/Athens")["start"][11:16] for s in english][:3] == [
        "13:00", "14:00", "15:00"]
    plain = service_slots(database, "legal", dt.date(2026, 11, 24))
    assert [s.start for s in plain] == sorted(s.start for s in plain)
    assert not any(s.interpreter for s in plain)


def test_a_block_without_languages_speaks_those_of_the_kept_desks(database, centre):
    found = service_slots(database, "housing", dt.date(2026, 11, 24), language="ar")
    assert found[0].languages == ("el", "ar") and not any(s.interpreter for s in found)
    with database.session() as session:
        assert [desk.key for desk in kept_desks(session, get_service(
            session, "booked", "housing"))] == ["desk-2"]


def test_slots_start_after_the_notice_and_end_at_the_horizon(database, centre):
    # Now is Monday 10:00: 11:00 is the first slot an hour ahead; 14 days is the horizon.
    found = service_slots(database, "legal", MONDAY, days=20)
    starts = sorted(local_starts(found))
    assert starts[0] == "2026-11-23T11:00:00+02:00"
    assert starts[-1][:10] == "2026-12-07"
    assert not any(start.startswith("2026-11-25") for start in starts)


def test_bad_slot_requests_are_refused(database, centre):
    for days in (0, 32):
        with pytest.raises(InvalidInput) as refused:
            service_slots(database, "legal", MONDAY, days=days)
        assert refused.value.code == "invalid_days"
    with pytest.raises(InvalidInput) as refused:
        service_slots(database, "legal", MONDAY, language="xx")
    assert refused.value.code == "unknown_language"
    with pytest.raises(InvalidInput) as refused:
        service_slots(database, "walk_in", MONDAY)
    assert refused.value.code == "no_appointments"
    with pytest.raises(NotFound) as refused:
        service_slots(database, "nothing", MONDAY)
    assert refused.value.code == "unknown_service"


# Booking ---------------------------------------------------------------------------

def test_booking_takes_a_place_and_the_last_one_makes_the_slot_full(database, centre):
    start = at("2026-11-24T09:00:00+02:00")
    appointment = booking(database, start, contact={"email": "amanuel@example.org"})
    assert appointment.state == AppointmentState.BOOKED
    assert appointment.end - appointment.start == dt.timedelta(hours=1)
    first = service_slots(database, "legal", dt.date(2026, 11, 24))[0]
    assert (first.start, first.available) == (start, 0)
    before = counts(database)
    with pytest.raises(Conflict) as refused:
        booking(database, start)
    assert refused.value.code == "slot_full"
    assert counts(database) == before
    assert events(database) == ["appointment_booked"]


def test_a_hold_that_lapses_frees_its_place_and_cannot_be_confirmed(database, centre):
    start = at("2026-11-24T10:00:00+02:00")
    held = booking(database, start, hold=True)
    assert held.state == AppointmentState.HELD
    assert held.hold_expires_at == NOW + dt.timedelta(minutes=5)
    assert service_slots(database, "legal", dt.date(2026, 11, 24))[1].available == 0
    later = NOW + dt.timedelta(minutes=5)
    assert service_slots(database, "legal", dt.date(2026, 11, 24), now=later)[1].available == 1
    # The lapsed hold never blocks a booking of its place.
    other = booking(database, start, now=later)
    assert other.state == AppointmentState.BOOKED
    with database.session() as session, pytest.raises(Conflict) as refused:
        confirm(session, held.token, later)
    assert refused.value.code == "hold_expired"
    with database.session() as session:
        assert get_appointment(session, held.token).state == AppointmentState.EXPIRED
    assert events(database) == ["appointment_held", "appointment_expired", "appointment_booked"]


def test_a_hold_confirmed_in_time_is_booked(database, centre):
    held = booking(database, at("2026-11-24T10:00:00+02:00"), hold=True)
    with database.session() as session:
        booked = confirm(session, held.token, NOW + dt.timedelta(minutes=4))
        assert booked.state == AppointmentState.BOOKED and booked.hold_expires_at is None
    with database.session() as session:
        assert confirm(session, held.token, NOW + dt.timedelta(hours=1)).state == "booked"
    assert events(database) == ["appointment_held", "appointment_booked"]


def test_cancelling_frees_the_place_once(database, centre):
    start = at("2026-11-24T11:00:00+02:00")
    appointment = booking(database, start)
    for _ in range(2):
        with database.session() as session:
            assert cancel(session, appointment.token, NOW).state == AppointmentState.CANCELLED
    assert events(database) == ["appointment_booked", "appointment_cancelled"]
    assert booking(database, start).state == AppointmentState.BOOKED
    with database.session() as session, pytest.raises(Conflict) as refused:
        move(session, appointment.token, at("2026-11-24T13:00:00+02:00"), NOW)
    assert refused.value.code == "not_changeable"


def test_moving_keeps_the_code_and_is_all_or_nothing(database, centre):
    first = booking(database, at("2026-11-24T09:00:00+02:00"))
    taken = at("2026-11-24T10:00:00+02:00")
    booking(database, taken)
    with database.session() as session, pytest.raises(Conflict) as refused:
        move(session, first.token, taken, NOW)
    assert refused.value.code == "slot_full"
    with database.session() as session:
        assert get_appointment(session, first.token).start == first.start
        moved = move(session, first.token, at("2026-11-24T13:00:00+02:00"), NOW)
        assert (moved.code, moved.start) == (first.code, at("2026-11-24T13:00:00+02:00"))
    # The old place is free again.
    assert booking(database, first.start).state == AppointmentState.BOOKED
    assert events(database)[-2:] == ["appointment_moved", "appointment_booked"]


def test_an_idempotency_key_makes_a_retry_the_same_appointment(database, centre):
    start = at("2026-11-24T09:00:00+02:00")
    first = booking(database, start, idempotency_key="tap-1")
    assert booking(database, start, idempotency_key="tap-1").id == first.id
    with pytest.raises(InvalidInput) as refused:
        booking(database, at("2026-11-24T10:00:00+02:00"), idempotency_key="tap-1")
    assert refused.value.code == "idempotency_key_reused"
    assert counts(database) == (1, 1)


@pytest.mark.parametrize(("key", "start", "options", "code"), [
    ("nothing", "2026-11-24T09:00:00+02:00", {}, "unknown_service"),
    ("walk_in", "2026-11-24T09:00:00+02:00", {}, "no_appointments"),
    ("legal", "2026-11-24T09:30:00+02:00", {}, "not_a_slot"),
    ("legal", "2026-11-24T12:00:00+02:00", {}, "not_a_slot"),
    ("legal", "2026-11-25T09:00:00+02:00", {}, "not_a_slot"),  # the service's closed date
    ("legal", "2026-11-23T10:00:00+02:00", {}, "too_early"),  # now, without the hour's notice
    ("legal", "2026-12-08T09:00:00+02:00", {}, "beyond_horizon"),
    ("legal", "2026-11-24T09:00:00+02:00", {"language": "xx"}, "unknown_language"),
    ("legal", "2026-11-24T09:00:00+02:00", {"contact": {"email": "amanuel@"}}, "invalid_email"),
    ("legal", "2026-11-24T09:00:00+02:00", {"contact": {"email": "a b@c.org"}},
     "invalid_email"),
    ("legal", "2026-11-24T09:00:00+02:00", {"contact": {"phone": "call me"}}, "invalid_phone"),
    ("legal", "2026-11-24T09:00:00+02:00", {"contact": {"phone": "+30 12"}}, "invalid_phone"),
])
def test_each_bad_booking_is_refused_and_changes_nothing(database, centre, key, start,
                                                         options, code):
    with pytest.raises((InvalidInput, NotFound)) as refused:
        booking(database, at(start), key, **options)
    assert refused.value.code == code
    assert counts(database) == (0, 0)


def test_contact_is_optional_and_kept_as_given(database, centre):
    bare = booking(database, at("2026-11-24T09:00:00+02:00"), contact={})
    assert (bare.email, bare.phone) == (None, None)
    full = booking(database, at("2026-11-24T10:00:00+02:00"),
                   contact={"email": "amanuel@example.org", "phone": "+30 210 123 4567"})
    assert (full.email, full.phone) == ("amanuel@example.org", "+30 210 123 4567")


def test_codes_are_easy_to_read_aloud_and_unique_among_active_appointments(database, centre):
    assert not set("0O1IL") & set(CODE_ALPHABET)
    codes = {new_code() for _ in range(2000)}
    assert all(len(code) == 6 and set(code) <= set(CODE_ALPHABET) for code in codes)
    assert len(codes) > 1990
    made = [booking(database, at("2026-11-24T09:00:00+02:00"), "housing") for _ in range(3)]
    assert len({appointment.code for appointment in made}) == 3
    assert len({appointment.token for appointment in made}) == 3
    assert all(len(appointment.token) >= 22 for appointment in made)


# The last place, under contention ----------------------------------------------------

def race(database, start, key, requests: int) -> tuple[list, list]:
    """`requests` threads booking the same slot at the same moment: (booked, refusals)."""
    barrier = threading.Barrier(requests)
    booked, refused, lock = [], [], threading.Lock()

    def attempt(number):
        barrier.wait()
        try:
            appointment = booking(database, start, key, contact={"phone": f"+3069{number:08d}"})
        except Conflict as error:
            with lock:
                refused.append(error.code)
        else:
            with lock:
                booked.append(appointment.id)

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(requests)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    return booked, refused


@pytest.mark.parametrize(("key", "places"), [("legal", 1), ("housing", 3)])
def test_fifty_requests_for_the_last_places_give_exactly_that_many(database, centre, key,
                                                                   places):
    start = at("2026-11-24T09:00:00+02:00")
    booked, refused = race(database, start, key, 50)
    assert len(booked) == places
    assert refused == ["slot_full"] * (50 - places)
    with database.session() as session:
        seats = list(session.scalars(select(Appointment.seat).where(
            Appointment.start == start, Appointment.state == AppointmentState.BOOKED)))
    assert sorted(seats) == list(range(places))
    assert events(database) == ["appointment_booked"] * places


# The site file ---------------------------------------------------------------------

@pytest.mark.parametrize(("change", "message"), [
    (lambda s: s.update(slot_minutes=0), "'slot_minutes' must be a whole number"),
    (lambda s: s.update(places="two"), "'places' must be a whole number of visitors per slot"),
    (lambda s: s.update(horizon_days=0), "'horizon_days' must be a whole number of days"),
    (lambda s: s.update(notice_minutes=-5), "'notice_minutes' must be a whole number"),
    (lambda s: s.update(hours={"monday": ["09:00-12:00"]}), "'hours' must map weekdays"),
    (lambda s: s.update(hours={"mon": ["12:00-09:00"]}), "'12:00-09:00' is not an interval"),
    (lambda s: s.update(hours={"mon": [{"time": "09:00-12:00", "languages": ["xx"]}]}),
     "'languages' must be among the site's languages"),
    (lambda s: s.update(closed_dates=["someday"]), "'closed_dates' must be a list of dates"),
    (lambda s: s.update(desks=["desk-2"]), "'desks' must list counters of this site that serve"),
    (lambda s: s.update(slot_length=30), "unknown setting(s) slot_length"),
])
def test_the_site_file_says_what_is_wrong_with_appointment_settings(tmp_path, change,
                                                                    message):
    document = copy.deepcopy(site_document())
    change(document["services"]["legal"]["appointments"])
    with pytest.raises(SiteFileError, match=r"services\.legal\.appointments[\w.]*: "
                       + message.replace("(", r"\(").replace(")", r"\)")):
        checked(tmp_path, document)


def test_the_demo_centre_offers_appointments_around_the_clock_in_named_languages(database):
    with database.session() as session:
        load_site(session, read_site_file(DEMO_SITE))
    for hour in range(0, 24, 5):
        now = dt.datetime(2026, 11, 23, hour, 10)
        for key in ("legal_advice", "housing", "job_counselling"):
            with database.session() as session:
                found = slots(session, get_service(session, "demo", key), MONDAY, 2, "ti", now)
            # Whatever the hour, a slot begins soon after the notice.
            assert min(s.start for s in found) - now < dt.timedelta(hours=1, minutes=30), key
    with database.session() as session:
        service = get_service(session, "demo", "legal_advice")
        tigrinya = slots(session, service, MONDAY, 1, "ti", NOW)
        assert not tigrinya[0].interpreter and tigrinya[-1].interpreter
