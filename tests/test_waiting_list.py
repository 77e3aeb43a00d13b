"""The waiting list: joining (each bad input refused with its code), a freed place offered to
the first in line whose days include it, the offer's hold and its end, concurrent
cancellations, leaving, the periodic sweep, and the API."""

import datetime as dt
import threading

import pytest
from sqlalchemy import func, select

from tessera.appointments.booking import book, cancel, confirm, get_appointment, move
from tessera.appointments.waiting_list import (
    MAX_OPEN_ENTRIES_PER_CONTACT,
    get_entry,
    join,
    leave,
    offer_minutes,
    sweep,
)
from tessera.config import Config
from tessera.errors import Conflict, InvalidInput, NotFound
from tessera.models import Appointment, AppointmentState, Event, Message, WaitingListEntry
from tessera.sites.loader import load_site

from .test_appointments import EVERY_DAY, TEXT, at, checked

API = "/api/v1"
# The test clock: Monday 2026-11-23, 10:00 in Athens (08:00 UTC).
NOW = dt.datetime(2026, 11, 23, 8, 0)
MONDAY = dt.date(2026, 11, 23)
TUESDAY, WEDNESDAY, THURSDAY = (MONDAY + dt.timedelta(days=n) for n in (1, 2, 3))
# Tuesday's first two slots of the legal service (09:00 and 10:00 in Athens).
TUESDAY_9, TUESDAY_10 = at("2026-11-24T09:00:00+02:00"), at("2026-11-24T10:00:00+02:00")


def site_document() -> dict:
    """A centre whose services have one place an hour from 09:00 to 17:00, every day."""
    hourly = {"slot_minutes": 60, "places": 1, "notice_minutes": 60, "horizon_days": 14,
              "hold_minutes": 5, "desks": ["desk-1"],
              "hours": {day: ["09:00-17:00"] for day in EVERY_DAY}}
    by_appointment = {key: {"organisation": "legal", "prefix": prefix, "target_wait": 30,
                            "mean_handling": 20, "text": TEXT, "appointments": hourly}
                      for key, prefix in (("legal", "A"), ("housing", "B"), ("papers", "D"),
                                          ("health", "E"))}
    return {
        "id": "waiting", "name": {"el": "Κέντρο"}, "timezone": "Europe/Athens",
        "language": "el", "languages": ["el", "en", "ar"],
        "organisations": {"legal": {"name": {"el": "Νομική"}}},
        "services": {**by_appointment,
                     "walk_in": {"organisation": "legal", "prefix": "C", "target_wait": 30,
                                 "mean_handling": 20, "text": TEXT}},
        "counters": {"desk-1": {"name": {"el": "1"}, "services": [*by_appointment, "walk_in"],
                                "languages": ["el"]}},
    }


@pytest.fixture
def centre(database, tmp_path):
    """The centre, loaded from a validated file."""
    with database.session() as session:
        load_site(session, checked(tmp_path, site_document()))


def joined(database, first_day=TUESDAY, last_day=WEDNESDAY, number=1, now=NOW, **options):
    """A visitor joins the legal service's line; gives the entry's token."""
    with database.session() as session:
        return join(session, "waiting", options.pop("service", "legal"),
                    options.pop("language", "ar"), first_day, last_day,
                    options.pop("contact", {"phone": f"+30 690 000 {number:04d}"}), now).token


def booked(database, start=TUESDAY_9, now=NOW, number=0) -> str:
    """A visitor books the slot at `start`; gives the appointment's token."""
    with database.session() as session:
        return book(session, "waiting", "legal", start, "el",
                    {"email": f"visitor{number}@example.org"}, now).token


def fully_booked_tuesday(database) -> list[str]:
    """Every Tuesday slot booked; the appointments' tokens in time order."""
    return [booked(database, at(f"2026-11-24T{hour:02d}:00:00+02:00"), number=hour)
            for hour in range(9, 17)]


def cancelled(database, token, now=NOW) -> None:
    """The visitor of the appointment cancels it."""
    with database.session() as session:
        cancel(session, token, now)


def entry_of(database, token) -> WaitingListEntry:
    """The entry with its offered appointment loaded."""
    with database.session() as session:
        entry = get_entry(session, token)
        _ = entry.appointment
        return entry


def states(database, tokens) -> list[str]:
    """The state of each entry, in the order given."""
    return [entry_of(database, token).state for token in tokens]


def events(database, kind) -> list[dict]:
    """The data of every event of this kind, in order."""
    with database.session() as session:
        return list(session.scalars(select(Event.data).where(Event.kind == kind)
                                    .order_by(Event.id)))


def count(database, model) -> int:
    """How many rows of a model there are."""
    with database.session() as session:
        return session.scalar(select(func.count()).select_from(model))


# Joining ---------------------------------------------------------------------------

def test_joining_puts_the_visitor_in_line_and_records_no_contact(database, centre):
    token = joined(database, contact={"email": "Amanuel@example.org"})
    entry = entry_of(database, token)
    assert (entry.state, entry.language, entry.first_day, entry.last_day, entry.email) == (
        "waiting", "ar", TUESDAY, WEDNESDAY, "Amanuel@example.org")
    assert len(token) >= 22 and entry.appointment_id is None
    [data] = events(database, "waiting_list_joined")
    assert data == {"entry": entry.id, "service": entry.service_id, "language": "ar",
                    "first_day": "2026-11-24", "last_day": "2026-11-25"}
    assert "Amanuel" not in str(data)


@pytest.mark.parametrize(("change", "error", "code"), [
    ({"service": "nothing"}, NotFound, "unknown_service"),
    ({"service": "walk_in"}, InvalidInput, "no_appointments"),
    ({"language": "xx"}, InvalidInput, "unknown_language"),
    ({"first_day": "soon"}, InvalidInput, "invalid_first_day"),
    ({"last_day": "2026-13-01"}, InvalidInput, "invalid_last_day"),
    ({"last_day": dt.datetime(2026, 11, 25, 10, 0)}, InvalidInput, "invalid_last_day"),
    ({"first_day": WEDNESDAY, "last_day": TUESDAY}, InvalidInput, "invalid_day_range"),
    ({"first_day": MONDAY - dt.timedelta(days=1)}, InvalidInput, "day_in_past"),
    ({"last_day": MONDAY + dt.timedelta(days=15)}, InvalidInput, "beyond_horizon"),
    ({"contact": None}, InvalidInput, "contact_required"),
    ({"contact": {"email": " ", "phone": ""}}, InvalidInput, "contact_required"),
    ({"contact": {"email": "amanuel@"}}, InvalidInput, "invalid_email"),
    ({"contact": {"phone": "call me"}}, InvalidInput, "invalid_phone"),
])
def test_each_bad_request_to_join_is_refused_with_its_code(database, centre, change, error,
                                                           code):
    with pytest.raises(error) as refused:
        joined(database, **change)
    assert refused.value.code == code and refused.value.message
    assert count(database, WaitingListEntry) == count(database, Event) == 0


def test_today_and_the_horizons_last_day_may_be_asked_for(database, centre):
    entry = entry_of(database, joined(database, MONDAY, MONDAY + dt.timedelta(days=14)))
    assert entry.state == "waiting"


def test_one_contact_waits_once_per_service_and_for_a_few_services_at_most(database,
                                                                           centre):
    contact = {"email": "amanuel@example.org", "phone": "+30 690 000 0001"}
    first = joined(database, contact=contact)
    with pytest.raises(Conflict) as again:
        joined(database, contact={"email": "AMANUEL@example.org"}, first_day=THURSDAY,
               last_day=THURSDAY)
    assert again.value.code == "already_waiting"
    assert MAX_OPEN_ENTRIES_PER_CONTACT == 3
    joined(database, service="housing", contact={"phone": contact["phone"]})
    joined(database, service="papers", contact={"email": contact["email"]})
    with pytest.raises(Conflict) as many:
        joined(database, service="health", contact=contact)
    assert many.value.code == "too_many_entries"
    # Someone else may still join; and once the visitor has left one line, so may they.
    joined(database, service="health", number=2)
    with database.session() as session:
        leave(session, first, NOW)
    assert entry_of(database, joined(database, service="health", contact=contact)).state == \
        "waiting"


# Offers ----------------------------------------------------------------------------

def test_a_cancellation_offers_the_place_to_the_first_in_line_whose_days_include_it(
        database, centre):
    appointment = booked(database)
    wednesday_only = joined(database, WEDNESDAY, WEDNESDAY, number=1)
    first = joined(database, TUESDAY, WEDNESDAY, number=2, language="en")
    second = joined(database, MONDAY, TUESDAY, number=3)
    cancelled(database, appointment, now=NOW + dt.timedelta(minutes=3))
    assert states(database, [wednesday_only, first, second]) == ["waiting", "offered", "waiting"]
    offer = entry_of(database, first).appointment
    assert (offer.state, offer.start, offer.language, offer.phone, offer.email) == (
        AppointmentState.HELD, TUESDAY_9, "en", "+30 690 000 0002", None)
    [data] = events(database, "appointment_offered")
    assert (data["entry"], data["appointment"]) == (entry_of(database, first).id, offer.id)


def test_the_offer_is_queued_as_a_message_to_the_visitor(database, centre):
    appointment = booked(database)
    token = joined(database, contact={"email": "amanuel@example.org"})
    cancelled(database, appointment)
    offer = entry_of(database, token).appointment
    with database.session() as session:
        queued = session.execute(select(Message.kind, Message.channel, Message.language)
                                 .where(Message.appointment_id == offer.id)).all()
    assert queued == [("offer", "email", "ar")]


def test_the_offer_is_held_for_the_offer_minutes(database, centre):
    assert offer_minutes() == Config.WAITING_LIST_OFFER_MINUTES == 120
    appointment = booked(database)
    token = joined(database)
    cancelled(database, appointment)
    offer = entry_of(database, token).appointment
    assert offer.hold_expires_at == NOW + dt.timedelta(minutes=120)


def test_the_offer_ends_a_notice_before_the_slot_and_a_slot_too_near_is_not_offered(
        database, centre):
    noon, eleven = at("2026-11-23T12:00:00+02:00"), at("2026-11-23T11:00:00+02:00")
    at_noon, at_eleven = booked(database, noon), booked(database, eleven, number=1)
    token = joined(database, MONDAY, MONDAY)
    # 11:00 can still be booked (an hour's notice) but not held for anyone to come.
    cancelled(database, at_eleven)
    assert states(database, [token]) == ["waiting"]
    cancelled(database, at_noon)
    offer = entry_of(database, token).appointment
    assert (offer.start, offer.hold_expires_at) == (noon, noon - dt.timedelta(minutes=60))


def test_confirming_the_offer_books_it_and_the_entry_is_booked(database, centre):
    appointment = booked(database)
    token = joined(database)
    cancelled(database, appointment)
    later = NOW + dt.timedelta(minutes=119)
    with database.session() as session:
        confirmed = confirm(session, entry_of(database, token).appointment.token, later)
        assert confirmed.state == AppointmentState.BOOKED
    assert states(database, [token]) == ["booked"]
    assert [data["entry"] for data in events(database, "waiting_list_booked")] == [
        entry_of(database, token).id]


def test_an_offer_that_lapses_ends_the_entry_and_goes_to_the_next_in_line(database, centre):
    # Tuesday is fully booked and the two in line want Tuesday only: one place frees.
    appointment = fully_booked_tuesday(database)[0]
    first, second = joined(database, TUESDAY, TUESDAY, 1), joined(database, TUESDAY, TUESDAY, 2)
    cancelled(database, appointment)
    lapsed = NOW + dt.timedelta(minutes=120)
    assert sweep(database, lapsed - dt.timedelta(seconds=1)) == {"ended": 0, "offered": 0}
    assert sweep(database, lapsed) == {"ended": 1, "offered": 1}
    assert states(database, [first, second]) == ["ended", "offered"]
    assert entry_of(database, first).appointment.state == AppointmentState.EXPIRED
    offer = entry_of(database, second).appointment
    assert (offer.start, offer.phone, offer.hold_expires_at) == (
        TUESDAY_9, "+30 690 000 0002", lapsed + dt.timedelta(minutes=120))
    with database.session() as session, pytest.raises(Conflict) as late:
        confirm(session, entry_of(database, first).appointment.token, lapsed)
    assert late.value.code == "hold_expired"
    assert [data["reason"] for data in events(database, "waiting_list_ended")] == [
        "offer_lapsed"]


def test_looking_at_a_lapsed_offer_passes_the_place_on_at_once(database, centre):
    appointment = booked(database)
    first, second = joined(database, number=1), joined(database, number=2)
    cancelled(database, appointment)
    with database.session() as session:
        assert get_entry(session, first, NOW + dt.timedelta(hours=3)).state == "ended"
    assert states(database, [first, second]) == ["ended", "offered"]


def test_declining_the_offer_leaves_the_line_and_offers_the_next(database, centre):
    appointment = booked(database)
    first, second = joined(database, number=1), joined(database, number=2)
    cancelled(database, appointment)
    cancelled(database, entry_of(database, first).appointment.token)
    assert states(database, [first, second]) == ["left", "offered"]
    assert [data["reason"] for data in events(database, "waiting_list_left")] == ["declined"]


def test_an_appointment_moved_away_offers_its_old_slot(database, centre):
    appointment = booked(database)
    token = joined(database, TUESDAY, TUESDAY)
    with database.session() as session:
        move(session, appointment, TUESDAY_10, NOW)
    assert entry_of(database, token).appointment.start == TUESDAY_9


def test_a_place_freed_where_nobody_waits_stays_free(database, centre):
    appointment = booked(database)
    joined(database, WEDNESDAY, THURSDAY)
    cancelled(database, appointment)
    assert count(database, Appointment) == 1
    assert events(database, "appointment_offered") == []


def test_the_same_visitor_is_not_offered_two_places(database, centre):
    at_nine, at_ten = booked(database), booked(database, TUESDAY_10, number=1)
    first, second = joined(database, TUESDAY, TUESDAY, 1), joined(database, TUESDAY, TUESDAY, 2)
    cancelled(database, at_nine)
    cancelled(database, at_ten)
    assert [entry_of(database, token).appointment.start for token in (first, second)] == [
        TUESDAY_9, TUESDAY_10]


def test_a_visitor_who_booked_meanwhile_is_passed_over(database, centre):
    appointment = booked(database)
    first, second = joined(database, number=1), joined(database, number=2)
    with database.session() as session:
        book(session, "waiting", "legal", at("2026-11-25T09:00:00+02:00"), "ar",
             {"phone": "+30 690 000 0001"}, NOW)
    cancelled(database, appointment)
    assert states(database, [first, second]) == ["waiting", "offered"]


# Two cancellations at once -----------------------------------------------------------

def test_concurrent_cancellations_offer_different_entries(database, centre):
    starts = [at(f"2026-11-24T{hour:02d}:00:00+02:00") for hour in (9, 10, 11, 12)]
    appointments = [booked(database, start, number=n) for n, start in enumerate(starts)]
    tokens = [joined(database, TUESDAY, TUESDAY, number) for number in range(len(starts) + 1)]
    barrier, failures = threading.Barrier(len(appointments)), []

    def cancel_one(token):
        barrier.wait()
        try:
            cancelled(database, token)
        except Exception as error:  # a failure in a thread must fail the test
            failures.append(error)

    threads = [threading.Thread(target=cancel_one, args=(token,)) for token in appointments]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads) and failures == []
    # The first four in line each hold one of the four places; the fifth still waits.
    assert states(database, tokens) == ["offered"] * 4 + ["waiting"]
    offered = [entry_of(database, token).appointment for token in tokens[:4]]
    assert sorted(offer.start for offer in offered) == starts
    assert all(offer.state == AppointmentState.HELD for offer in offered)
    assert len(events(database, "appointment_offered")) == 4


# Leaving ---------------------------------------------------------------------------

def test_leaving_the_line(database, centre):
    token = joined(database)
    with database.session() as session:
        assert leave(session, token, NOW).state == "left"
    with database.session() as session:
        assert leave(session, token, NOW).state == "left"
    assert [data["reason"] for data in events(database, "waiting_list_left")] == ["left"]
    appointment = booked(database)
    cancelled(database, appointment)
    assert states(database, [token]) == ["left"] and count(database, Appointment) == 1
    with database.session() as session, pytest.raises(NotFound) as unknown:
        get_entry(session, "no-such-token")
    assert unknown.value.code == "unknown_entry"


def test_leaving_while_offered_gives_the_place_to_the_next(database, centre):
    appointment = booked(database)
    first, second = joined(database, number=1), joined(database, number=2)
    cancelled(database, appointment)
    with database.session() as session:
        assert leave(session, first, NOW).state == "left"
    assert entry_of(database, first).appointment.state == AppointmentState.CANCELLED
    assert states(database, [first, second]) == ["left", "offered"]


# The sweep -------------------------------------------------------------------------

def test_the_sweep_ends_entries_whose_last_day_passed(database, centre):
    tuesday, wednesday = joined(database, TUESDAY, TUESDAY, 1), joined(database, number=2)
    # Wednesday 00:30 in Athens is still Tuesday in UTC: the site's day is what counts.
    just_after = at("2026-11-25T00:30:00+02:00")
    assert sweep(database, just_after - dt.timedelta(hours=1))["ended"] == 0
    result = sweep(database, just_after)
    assert result["ended"] == 1 and states(database, [tuesday]) == ["ended"]
    assert [data["reason"] for data in events(database, "waiting_list_ended")] == [
        "days_passed"]
    assert states(database, [wednesday]) == ["offered"]  # every Wednesday slot is free


def test_the_sweep_offers_a_place_a_hold_left_quietly(database, centre):
    wednesday_slots = [at(f"2026-11-25T{hour:02d}:00:00+02:00") for hour in range(9, 17)]
    for number, start in enumerate(wednesday_slots[1:]):
        booked(database, start, number=number)
    with database.session() as session:
        held = book(session, "waiting", "legal", wednesday_slots[0], "el", None, NOW,
                    hold=True).token
    token = joined(database, WEDNESDAY, WEDNESDAY)
    assert sweep(database, NOW + dt.timedelta(minutes=4)) == {"ended": 0, "offered": 0}
    assert sweep(database, NOW + dt.timedelta(minutes=5)) == {"ended": 0, "offered": 1}
    with database.session() as session:
        assert get_appointment(session, held).state == AppointmentState.EXPIRED
    assert entry_of(database, token).appointment.start == wednesday_slots[0]
    assert sweep(database, NOW + dt.timedelta(minutes=6)) == {"ended": 0, "offered": 0}


def test_the_scheduler_runs_the_sweep(database, centre, redis_client, redis_url, database_url,
                                      monkeypatch):
    from rq.cron import CronScheduler

    from worker.appointments import tend_waiting_lists

    scheduler = CronScheduler(connection=redis_client)
    scheduler.load_config_from_file("worker.schedule")
    job = {job.func_name: job for job in scheduler.get_jobs()}[
        "worker.appointments.tend_waiting_lists"]
    assert (job.interval, job.queue_name) == (60, "default")
    token = joined(database, TUESDAY, TUESDAY)
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("DATABASE_URL", database_url)
    # The job runs on the real clock, long after this Tuesday.
    assert tend_waiting_lists() == {"ended": 1, "offered": 0}
    assert states(database, [token]) == ["ended"]


# The API ---------------------------------------------------------------------------

def post_join(client, **change):
    """POST a request to join the legal service's line."""
    body = {"service": "legal", "language": "ar", "first_day": "2026-11-24",
            "last_day": "2026-11-25", "contact": {"phone": "+30 690 000 0001"}, **change}
    return client.post(f"{API}/sites/waiting/waiting-list",
                       json={key: value for key, value in body.items() if value is not None})


def test_the_api_joins_shows_the_offer_and_leaves(make_client, centre, database):
    client = make_client(WAITING_LIST_OFFER_MINUTES=45)
    response = post_join(client)
    assert response.status_code == 201
    body = response.get_json()
    assert {key: body[key] for key in ("state", "service_key", "first_day", "last_day",
                                       "offer")} == {
        "state": "waiting", "service_key": "legal", "first_day": "2026-11-24",
        "last_day": "2026-11-25", "offer": None}
    token = body["token"]
    appointment = booked(database)
    assert client.post(f"{API}/appointments/{appointment}/cancel").status_code == 200
    shown = client.get(f"{API}/waiting-list/{token}").get_json()
    assert shown["state"] == "offered"
    assert (shown["offer"]["state"], shown["offer"]["start"], shown["offer"]["hold_expires_at"]) \
        == ("held", "2026-11-24T09:00:00+02:00", "2026-11-23T10:45:00+02:00")
    assert shown["offer"]["manage_url"] == f"http://localhost/a/{shown['offer']['token']}"
    left = client.post(f"{API}/waiting-list/{token}/leave")
    assert left.status_code == 200 and left.get_json()["state"] == "left"
    assert client.get(f"{API}/appointments/{shown['offer']['token']}").get_json()["state"] == \
        "cancelled"


@pytest.mark.parametrize(("change", "status", "code"), [
    ({"service": "nothing"}, 404, "unknown_service"),
    ({"service": "walk_in"}, 422, "no_appointments"),
    ({"language": None}, 422, "invalid_language"),
    ({"first_day": "24/11/2026"}, 422, "invalid_first_day"),
    ({"last_day": 20261125}, 422, "invalid_last_day"),
    ({"first_day": "2026-11-26"}, 422, "invalid_day_range"),
    ({"first_day": "2026-11-22"}, 422, "day_in_past"),
    ({"last_day": "2026-12-31"}, 422, "beyond_horizon"),
    ({"contact": None}, 422, "contact_required"),
    ({"contact": {"fax": "1234"}}, 422, "invalid_contact"),
    ({"contact": {"email": "nobody"}}, 422, "invalid_email"),
    ({"extra": True}, 422, "invalid_body"),
])
def test_the_api_refuses_each_bad_request_to_join_with_its_code(client, centre, database,
                                                                change, status, code):
    response = post_join(client, **change)
    assert response.status_code == status
    error = response.get_json()["error"]
    assert error["code"] == code and error["message"]
    assert count(database, WaitingListEntry) == 0


def test_the_api_answers_an_unknown_entry_and_a_second_join(client, centre):
    assert client.get(f"{API}/waiting-list/nothing").status_code == 404
    assert client.post(f"{API}/waiting-list/nothing/leave").get_json()["error"]["code"] == \
        "unknown_entry"
    assert post_join(client).status_code == 201
    again = post_join(client)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "already_waiting"
