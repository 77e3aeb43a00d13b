"""Appointments as staff see them: a desk's coming ones today for its own services, with
the interpreter mark and no contact data, and the manager's day per service."""

import datetime as dt
import json
import re

import pytest

from tessera.appointments.booking import book, cancel
from tessera.appointments.checkin import CheckInWindow, check_in, mark_missed
from tessera.staff.accounts import create_staff
from tessera.status.appointments import appointments_today, desk_appointments

from .helpers import PASSWORD, load_demo_site, sign_in

WINDOW = CheckInWindow(early_minutes=30, late_minutes=15)


def utc(local: str) -> dt.datetime:
    """A local time in Athens on the test's Monday (UTC+2 in November) as naive UTC."""
    return dt.datetime.fromisoformat(f"2026-11-23T{local}") - dt.timedelta(hours=2)


@pytest.fixture
def day(database, engine, clock):
    """The demo centre's Monday: Nikos holds desk-8 (legal advice, housing) in Greek and
    English; appointments in every state, then the clock at 10:50 in Athens.

    legal advice: 08:00 (never came), 10:30 (checked in), 11:00 (cancelled), 12:00 in
    Tigrinya (booked, with contact data), tomorrow 10:00; housing: 10:30 in French (not
    come, its check-in closed at 10:45); job advice (not desk-8's): 11:00.
    """
    ids = load_demo_site(database)
    with database.session() as session:
        ids.nikos = create_staff(session, "demo", "nikos", "Nikos", "staff", ["el", "en"],
                                 ["legal"], PASSWORD)[0].id
        create_staff(session, "demo", "kostas", "Kostas", "manager", ["el"], [], PASSWORD)
    engine.open_counter(ids.counters["desk-8"], ids.nikos)

    def booked(service, start, language, contact=None):
        with database.session() as session:
            appointment = book(session, "demo", service, start, language, contact, clock())
            session.flush()
            return appointment.code, appointment.token

    clock.now = utc("07:00")
    early = booked("legal_advice", utc("08:00"), "ar")
    clock.now = utc("10:00")
    checked = booked("legal_advice", utc("10:30"), "el")
    dropped = booked("legal_advice", utc("11:00"), "fa")
    booked("legal_advice", utc("12:00"), "ti", {"email": "visitor@example.org",
                                                "phone": "+30 690 000 0000"})
    booked("legal_advice", utc("10:00") + dt.timedelta(days=1), "el")
    booked("housing", utc("10:30"), "fr")
    booked("job_counselling", utc("11:00"), "el")
    with database.session() as session:
        cancel(session, dropped[1], clock())
    clock.now = utc("10:25")
    check_in(engine, "demo", checked[0], clock(), WINDOW)
    clock.now = utc("10:50")
    ids.early = early
    return ids


def rows_of(database, ids, clock):
    """desk-8's rows as (time, service key order kept, language, state, interpreter)."""
    with database.session() as session:
        return [(row["time"], row["language"], row["state"], row["interpreter"])
                for row in desk_appointments(session, ids.counters["desk-8"], "en", clock(),
                                             WINDOW)]


def test_a_desk_sees_its_services_coming_appointments_in_order(day, database, clock):
    assert rows_of(database, day, clock) == [
        ("10:30", "el", "checked_in", False),
        ("10:30", "fr", "missed", True),  # its check-in closed at 10:45; nobody speaks French
        ("12:00", "ti", "booked", True),  # Tigrinya: an interpreter by phone
    ]


def test_the_worker_marking_missed_changes_nothing_the_desk_sees(day, database, clock):
    before = rows_of(database, day, clock)
    assert mark_missed(database, clock(), WINDOW) == 2  # housing 10:30, legal advice 08:00
    assert rows_of(database, day, clock) == before


def test_past_appointments_leave_the_desk_list_but_stay_in_the_day(day, database, clock):
    clock.now = utc("12:20")  # 12:00 is within its check-in window still
    assert [row[0] for row in rows_of(database, day, clock)] == ["12:00"]
    clock.now = utc("12:31")  # the slot ended, its window closed: gone from the desk
    assert rows_of(database, day, clock) == []
    with database.session() as session:
        legal = next(row for row in appointments_today(session, "demo", "en", clock(), WINDOW)
                     if row["name"] == "Legal advice")
    assert (legal["booked"], legal["missed"]) == (0, 2)


def test_the_manager_sees_the_day_per_service(day, database, clock):
    with database.session() as session:
        rows = {row["name"]: row for row in appointments_today(session, "demo", "en", clock(),
                                                               WINDOW)}
    counts = {name: (row["booked"], row["checked_in"], row["missed"], row["cancelled"])
              for name, row in rows.items()}
    assert counts == {"Job advice": (1, 0, 0, 0), "Housing": (0, 0, 1, 0),
                      "Legal advice": (1, 1, 1, 1)}  # tomorrow's is not today's


def test_the_desk_page_and_api_show_the_rows_without_contact_data(client, day):
    sign_in(client, "nikos")
    desk = day.counters["desk-8"]
    page = client.get(f"/counter/{desk}").text
    initial = json.loads(re.search(r"data-upcoming-initial>(.*?)</script>", page, re.S).group(1))
    assert [(row["time"], row["state"]) for row in initial] == [
        ("10:30", "checked_in"), ("10:30", "missed"), ("12:00", "booked")]
    answer = client.get(f"/api/v1/counters/{desk}/appointments")
    assert answer.status_code == 200 and answer.json["appointments"] == initial
    for text in (page, answer.text):
        assert "visitor@example.org" not in text and "690" not in text
        assert day.early[0] not in text  # nor codes: only the visitor needs theirs


def test_another_desk_sees_only_its_own_services(client, day):
    sign_in(client, "kostas")  # a manager may look at any desk
    answer = client.get(f"/api/v1/counters/{day.counters['desk-4']}/appointments")
    assert [(row["time"], row["service_id"]) for row in answer.json["appointments"]] == [
        ("11:00", day.services["job_counselling"])]
    assert client.get("/api/v1/counters/999/appointments").status_code == 404


def test_the_manager_page_and_live_figures_carry_the_day(client, day):
    sign_in(client, "kostas")
    page = client.get("/manager").text
    figures = json.loads(re.search(r"data-initial>(.*?)</script>", page, re.S).group(1))
    live = client.get("/api/v1/sites/demo/stats/live").json
    for found in (figures["appointments"], live["appointments"]):
        by_key = {row["service_id"]: row for row in found}
        legal = by_key[day.services["legal_advice"]]
        assert (legal["booked"], legal["checked_in"], legal["missed"], legal["cancelled"]) == (
            1, 1, 1, 1)
        assert day.services["information"] not in by_key  # it takes no appointments
    assert "data-appointments-table" in page
    sign_in(client, "nikos")
    assert client.get("/api/v1/sites/demo/stats/live").status_code == 403
