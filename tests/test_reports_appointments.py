"""Appointment figures from the event log: a small history with known answers, made through
the real booking and check-in functions, grouped every way, filtered, and read by local date
across the autumn daylight-saving change and local midnight."""

import datetime as dt

import pytest
from sqlalchemy import event

from tessera.appointments.booking import book, cancel, confirm, get_appointment, move
from tessera.appointments.checkin import CheckInWindow, check_in, mark_missed
from tessera.errors import InvalidInput
from tessera.models import Service
from tessera.reports.appointments import FIGURES
from tessera.reports.figures import GROUPS, appointment_figures
from tessera.sites.loader import load_site

EVERY_DAY = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
TEXT = {"el": {"name": "Υπηρεσία"}}
WINDOW = CheckInWindow(early_minutes=30, late_minutes=15)
# Everything is booked on Tuesday 2026-10-20, 11:00 in Athens (summer time, UTC+3).
BOOKED_AT = dt.datetime(2026, 10, 20, 8, 0)
OCTOBER = (dt.date(2026, 10, 1), dt.date(2026, 11, 30))
NOTHING = {"appointments_booked": 0, "appointments_checked_in": 0, "appointments_missed": 0,
           "appointments_cancelled": 0, "mean_punctuality_minutes": None, "on_time": None,
           "check_in_rate": None}


def settings() -> dict:
    """Hourly slots around the clock, three places each, bookable two months ahead."""
    return {"slot_minutes": 60, "places": 3, "notice_minutes": 0, "horizon_days": 60,
            "hold_minutes": 10, "desks": ["desk"],
            "hours": {day: ["00:00-24:00"] for day in EVERY_DAY}}


def site_document() -> dict:
    """A centre in Athens with two organisations, one appointment service each."""
    return {
        "id": "reports", "name": {"el": "Κέντρο"}, "timezone": "Europe/Athens",
        "language": "el", "languages": ["el", "en", "ar"],
        "organisations": {"legal": {"name": {"el": "Νομική"}},
                          "municipality": {"name": {"el": "Δήμος"}}},
        "services": {
            "legal": {"organisation": "legal", "prefix": "A", "target_wait": 30,
                      "mean_handling": 20, "text": TEXT, "appointments": settings()},
            "housing": {"organisation": "municipality", "prefix": "B", "target_wait": 30,
                        "mean_handling": 20, "text": TEXT, "appointments": settings()},
        },
        "counters": {"desk": {"name": {"el": "1"}, "services": ["legal", "housing"],
                              "languages": ["el"]}},
    }


def utc(text: str) -> dt.datetime:
    """A local ISO time with its offset, as the naive UTC the database stores."""
    return dt.datetime.fromisoformat(text).astimezone(dt.UTC).replace(tzinfo=None)


class History:
    """The centre's appointments, made in time order; service and organisation ids by key."""

    def __init__(self, database, engine, clock):
        self.database, self.engine, self.clock = database, engine, clock
        with database.session() as session:
            load_site(session, site_document())
            services = {s.key: s for s in session.query(Service).filter_by(site_id="reports")}
            self.services = {key: s.id for key, s in services.items()}
            self.organisations = {key: s.organisation_id for key, s in services.items()}
        self.made = {}

    def book(self, name: str, service: str, start: str, language: str, hold=False):
        """Book (or hold) a place now; remembered by `name`."""
        with self.database.session() as session:
            appointment = book(session, "reports", service, utc(start), language, None,
                               self.clock(), hold=hold)
            session.flush()
            self.made[name] = (appointment.token, appointment.code)

    def at(self, moment: str) -> None:
        """Move the clock to a local time."""
        self.clock.now = utc(moment)

    def change(self, action, name: str, *args) -> None:
        """confirm, cancel or move an appointment now."""
        with self.database.session() as session:
            action(session, self.made[name][0], *args, self.clock())

    def check_in(self, name: str) -> None:
        """Check in at the kiosk now."""
        check_in(self.engine, "reports", self.made[name][1], self.clock(), WINDOW)

    def sweep(self) -> None:
        """The worker marks missed what is past its check-in window."""
        mark_missed(self.database, self.clock(), WINDOW)


@pytest.fixture
def history(database, engine, clock) -> History:
    """Nine booked appointments and two holds that never were, with known answers.

    name  service  language  slot (Athens)              what became of it
    a1    legal    ar        Mon 2026-11-23 11:00       checked in 10 minutes early
    a2    legal    en        Mon 2026-11-23 11:00       checked in 7 minutes late
    a3    housing  ar        Mon 2026-11-23 12:00       checked in 5 minutes late (on time)
    a4    housing  el        Mon 2026-11-23 14:00       missed
    a5    legal    el        Tue 2026-11-24 10:00       cancelled
    a6    legal    ar        Tue 2026-11-24 09:00, moved to Mon 2026-11-30 09:00,
                                                        checked in 2 minutes early
    a7    housing  en        Tue 2026-11-24 10:00       a hold that expired
    a8    housing  en        Sun 2026-10-25 00:00 +03   checked in 5 minutes early, on the
                                                        Saturday evening (UTC: 10-24 21:00)
    a9    housing  el        Mon 2026-10-26 00:00 +02   missed (UTC: 10-25 22:00)
    a10   legal    en        Mon 2026-11-30 10:00       held, then confirmed: booked
    a12   housing  ar        Tue 2026-11-24 11:00       a hold let go (cancelled)
    """
    made = History(database, engine, clock)
    clock.now = BOOKED_AT
    made.book("a1", "legal", "2026-11-23T11:00+02:00", "ar")
    made.book("a2", "legal", "2026-11-23T11:00+02:00", "en")
    made.book("a3", "housing", "2026-11-23T12:00+02:00", "ar")
    made.book("a4", "housing", "2026-11-23T14:00+02:00", "el")
    made.book("a5", "legal", "2026-11-24T10:00+02:00", "el")
    made.book("a6", "legal", "2026-11-24T09:00+02:00", "ar")
    made.book("a7", "housing", "2026-11-24T10:00+02:00", "en", hold=True)
    made.book("a8", "housing", "2026-10-25T00:00+03:00", "en")
    made.book("a9", "housing", "2026-10-26T00:00+02:00", "el")
    made.book("a10", "legal", "2026-11-30T10:00+02:00", "en", hold=True)
    made.book("a12", "housing", "2026-11-24T11:00+02:00", "ar", hold=True)
    clock.advance(minutes=2)
    made.change(confirm, "a10")
    clock.advance(minutes=1)
    made.change(cancel, "a12")
    clock.advance(hours=1)
    with database.session() as session:
        get_appointment(session, made.made["a7"][0], clock())  # the lapsed hold expires
    made.at("2026-10-24T23:55+03:00")
    made.check_in("a8")
    made.at("2026-10-26T00:20+02:00")
    made.sweep()  # a9
    made.at("2026-11-01T10:00+02:00")
    made.change(cancel, "a5")
    made.at("2026-11-02T10:00+02:00")
    made.change(move, "a6", utc("2026-11-30T09:00+02:00"))
    made.at("2026-11-23T10:50+02:00")
    made.check_in("a1")
    made.at("2026-11-23T11:07+02:00")
    made.check_in("a2")
    made.at("2026-11-23T12:05+02:00")
    made.check_in("a3")
    made.at("2026-11-23T14:20+02:00")
    made.sweep()  # a4
    made.at("2026-11-30T08:58+02:00")
    made.check_in("a6")
    return made


def figures(database, first, last, group, **filters) -> dict:
    """The report, on a session of its own."""
    with database.session() as session:
        return appointment_figures(session, "reports", first, last, group, **filters)


def row(booked, checked_in=0, missed=0, cancelled=0, punctuality=None, on_time=None,
        rate=None) -> dict:
    """One group's expected figures."""
    return {"appointments_booked": booked, "appointments_checked_in": checked_in,
            "appointments_missed": missed, "appointments_cancelled": cancelled,
            "mean_punctuality_minutes": punctuality, "on_time": on_time,
            "check_in_rate": rate}


# Nine booked (not the expired hold a7, nor the hold a12 let go); five came: -10, +7, +5,
# -2 and -5 minutes, four of them no later than five minutes; two missed.
TOTAL = row(9, checked_in=5, missed=2, cancelled=1, punctuality=-1.0, on_time=0.8,
            rate=0.714)
LEGAL = row(5, checked_in=3, cancelled=1, punctuality=-1.7, on_time=0.667, rate=1.0)
HOUSING = row(4, checked_in=2, missed=2, punctuality=0.0, on_time=1.0, rate=0.5)


def test_the_total_counts_what_was_booked_and_what_became_of_it(database, history):
    report = figures(database, *OCTOBER, "service")
    assert report["total"] == TOTAL
    assert list(report["total"]) == list(FIGURES)


def test_grouped_by_service_and_by_organisation(database, history):
    by_service = figures(database, *OCTOBER, "service")["groups"]
    assert by_service == {history.services["legal"]: LEGAL,
                          history.services["housing"]: HOUSING}
    by_organisation = figures(database, *OCTOBER, "organisation")["groups"]
    assert by_organisation == {history.organisations["legal"]: LEGAL,
                               history.organisations["housing"]: HOUSING}


def test_grouped_by_language(database, history):
    assert figures(database, *OCTOBER, "language")["groups"] == {
        "ar": row(3, checked_in=3, punctuality=-2.3, on_time=1.0, rate=1.0),  # -10, +5, -2
        "el": row(3, missed=2, cancelled=1, rate=0.0),
        "en": row(3, checked_in=2, punctuality=1.0, on_time=0.5, rate=1.0),  # +7, -5
    }


def test_grouped_by_the_local_hour_of_the_slot(database, history):
    assert figures(database, *OCTOBER, "hour")["groups"] == {
        0: row(2, checked_in=1, missed=1, punctuality=-5.0, on_time=1.0, rate=0.5),
        9: row(1, checked_in=1, punctuality=-2.0, on_time=1.0, rate=1.0),
        10: row(2, cancelled=1),
        11: row(2, checked_in=2, punctuality=-1.5, on_time=0.5, rate=1.0),
        12: row(1, checked_in=1, punctuality=5.0, on_time=1.0, rate=1.0),
        14: row(1, missed=1, rate=0.0),
    }


def test_grouped_by_local_day_week_and_month(database, history):
    on_the_30th = row(2, checked_in=1, punctuality=-2.0, on_time=1.0, rate=1.0)
    the_23rd = row(4, checked_in=3, missed=1, punctuality=0.7, on_time=0.667, rate=0.75)
    assert figures(database, *OCTOBER, "day")["groups"] == {
        # The Saturday-evening check-in and the slot at midnight count on the Sunday.
        "2026-10-25": row(1, checked_in=1, punctuality=-5.0, on_time=1.0, rate=1.0),
        "2026-10-26": row(1, missed=1, rate=0.0),
        "2026-11-23": the_23rd,
        "2026-11-24": row(1, cancelled=1),  # a6 moved away; the holds never counted
        "2026-11-30": on_the_30th,
    }
    assert figures(database, *OCTOBER, "week")["groups"] == {
        "2026-W43": row(1, checked_in=1, punctuality=-5.0, on_time=1.0, rate=1.0),
        "2026-W44": row(1, missed=1, rate=0.0),
        "2026-W48": row(5, checked_in=3, missed=1, cancelled=1, punctuality=0.7,
                        on_time=0.667, rate=0.75),
        "2026-W49": on_the_30th,
    }
    assert figures(database, *OCTOBER, "month")["groups"] == {
        "2026-10": row(2, checked_in=1, missed=1, punctuality=-5.0, on_time=1.0, rate=0.5),
        "2026-11": row(7, checked_in=4, missed=1, cancelled=1, punctuality=0.0,
                       on_time=0.75, rate=0.8),
    }


def test_local_dates_decide_across_midnight_and_the_clock_change(database, history):
    # a8 starts at 21:00 UTC on the 24th, a9 at 22:00 UTC on the 25th: by UTC date the
    # 25th would hold a9, but in Athens it holds a8 alone.
    assert figures(database, dt.date(2026, 10, 24), dt.date(2026, 10, 24), "day") == {
        "groups": {}, "total": NOTHING}
    sunday = figures(database, dt.date(2026, 10, 25), dt.date(2026, 10, 25), "hour")
    assert sunday["groups"] == {0: row(1, checked_in=1, punctuality=-5.0, on_time=1.0,
                                       rate=1.0)}
    monday = figures(database, dt.date(2026, 10, 26), dt.date(2026, 10, 26), "language")
    assert monday["total"] == row(1, missed=1, rate=0.0)


def test_a_moved_appointment_counts_at_its_latest_start(database, history):
    assert figures(database, dt.date(2026, 11, 24), dt.date(2026, 11, 24), "day")["total"] \
        == row(1, cancelled=1)
    assert figures(database, dt.date(2026, 11, 30), dt.date(2026, 11, 30), "language")[
        "groups"] == {"ar": row(1, checked_in=1, punctuality=-2.0, on_time=1.0, rate=1.0),
                      "en": row(1)}


def test_the_filters(database, history):
    legal = {history.services["legal"]}
    assert figures(database, *OCTOBER, "day", service_ids=legal)["total"] == LEGAL
    assert figures(database, *OCTOBER, "service", language="el")["total"] == row(
        3, missed=2, cancelled=1, rate=0.0)
    both = figures(database, *OCTOBER, "language", service_ids=legal, language="ar")
    assert both["groups"] == {"ar": row(2, checked_in=2, punctuality=-6.0, on_time=1.0,
                                        rate=1.0)}
    assert figures(database, *OCTOBER, "month", service_ids=set())["total"] == NOTHING
    assert figures(database, *OCTOBER, "month", language="ti")["total"] == NOTHING


def test_a_whole_range_is_a_few_queries(database, history):
    """The site, its services, the rolled-up days, the appointments, their events: a
    fixed handful of statements, however many appointments and days."""
    statements = []

    def count(*_args):
        statements.append(1)

    with database.session() as session:
        event.listen(database.engine, "before_cursor_execute", count)
        try:
            report = appointment_figures(session, "reports", *OCTOBER, "week")
        finally:
            event.remove(database.engine, "before_cursor_execute", count)
    assert report["total"] == TOTAL
    assert len(statements) <= 6


def test_no_appointments_no_figures(database, history):
    report = figures(database, dt.date(2025, 1, 1), dt.date(2025, 12, 31), "service")
    assert report == {"groups": {}, "total": NOTHING}


def test_an_unknown_group_or_a_backward_range_is_refused(database, history):
    assert "service" in GROUPS
    with pytest.raises(InvalidInput):
        figures(database, *OCTOBER, "weekday")
    with pytest.raises(InvalidInput):
        figures(database, OCTOBER[1], OCTOBER[0], "day")
