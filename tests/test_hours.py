"""Opening hours: intervals, holidays, the walk-in stop, the next opening, and DST."""

import datetime as dt

import pytest

from tessera.sites.hours import OpeningHours, parse_interval

ATHENS = "Europe/Athens"  # UTC+2 in winter, UTC+3 in summer
WEEKDAY_HOURS = {day: ["09:00-12:30", "13:30-17:00"] for day in ("mon", "tue", "wed", "thu",
                                                                  "fri")}


def hours(**changes) -> OpeningHours:
    settings = {"timezone": ATHENS, "weekly": WEEKDAY_HOURS,
                "closed_dates": frozenset({dt.date(2026, 12, 25)}), "walk_in_stop_minutes": 15}
    return OpeningHours(**{**settings, **changes})


def utc(*parts) -> dt.datetime:
    return dt.datetime(*parts)


@pytest.mark.parametrize(("text", "parsed"), [
    ("09:00-17:00", (dt.time(9), dt.time(17))),
    ("00:00-24:00", (dt.time(0), None)),
    ("17:00-09:00", None), ("09:00-09:00", None), ("9:00-17:00", None), ("24:00-24:00", None),
    ("09:00-25:00", None), ("09:60-10:00", None), ("nine to five", None),
])
def test_intervals_are_read_strictly(text, parsed):
    assert parse_interval(text) == parsed


def test_open_within_an_interval_and_closed_at_lunch_and_at_night():
    monday = hours()
    assert monday.is_open(utc(2026, 11, 23, 7, 0))          # 09:00 local: opens
    assert not monday.is_open(utc(2026, 11, 23, 6, 59))
    assert not monday.is_open(utc(2026, 11, 23, 10, 45))    # 12:45 local: lunch
    assert not monday.is_open(utc(2026, 11, 23, 15, 0))     # 17:00 local: closed
    assert not monday.is_open(utc(2026, 11, 28, 10, 0))     # Saturday


def test_walk_in_issuing_stops_before_each_closing():
    monday = hours()
    assert monday.accepts_walk_in(utc(2026, 11, 23, 10, 14))       # 12:14 local
    assert not monday.accepts_walk_in(utc(2026, 11, 23, 10, 15))   # 12:15: lunch in 15 min
    assert monday.is_open(utc(2026, 11, 23, 10, 15))
    assert not monday.accepts_walk_in(utc(2026, 11, 23, 14, 50))   # 16:50 local


def test_the_next_opening_skips_lunch_nights_weekends_and_holidays():
    monday = hours()
    assert monday.next_opening(utc(2026, 11, 23, 10, 20)) == utc(2026, 11, 23, 11, 30)
    assert monday.next_opening(utc(2026, 11, 27, 16, 0)) == utc(2026, 11, 30, 7, 0)  # Fri eve
    # Thursday 24 December evening: Friday the 25th is a holiday, so Monday the 28th.
    assert monday.next_opening(utc(2026, 12, 24, 16, 0)) == utc(2026, 12, 28, 7, 0)
    open_now = utc(2026, 11, 23, 8, 0)
    assert monday.next_opening(open_now) == open_now
    never = {day: [] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    assert hours(weekly=never).next_opening(open_now) is None


def test_a_site_without_hours_is_open_around_the_clock():
    always = hours(weekly={}, walk_in_stop_minutes=0)
    assert always.accepts_walk_in(utc(2026, 11, 28, 23, 30))  # a Saturday night
    assert not always.is_open(utc(2026, 12, 25, 10, 0))        # but not on a closed date


def test_hours_follow_local_time_across_daylight_saving():
    # Athens moves from UTC+3 to UTC+2 on Sunday 25 October 2026.
    friday, monday = dt.date(2026, 10, 23), dt.date(2026, 10, 26)
    assert hours().intervals(friday)[0][0] == utc(2026, 10, 23, 6, 0)
    assert hours().intervals(monday)[0][0] == utc(2026, 10, 26, 7, 0)
    sunday = hours(weekly={"sun": ["00:00-24:00"]}).intervals(dt.date(2026, 10, 25))
    assert sunday == [(utc(2026, 10, 24, 21, 0), utc(2026, 10, 25, 22, 0))]  # a 25-hour day


def test_a_day_closes_at_the_end_of_its_last_interval():
    assert hours().closing_time(dt.date(2026, 11, 23)) == utc(2026, 11, 23, 15, 0)
    assert hours().closing_time(dt.date(2026, 12, 25)) is None
    always = hours(weekly={"mon": ["00:00-24:00"]}, walk_in_stop_minutes=0)
    assert always.closing_time(dt.date(2026, 11, 23)) == utc(2026, 11, 23, 22, 0)
    assert always.accepts_walk_in(utc(2026, 11, 23, 21, 59))
