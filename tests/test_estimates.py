"""Wait estimates: the forecast replays the coming calls through the routing script."""

import datetime as dt

import pytest
from sqlalchemy import select

from tessera.clock import epoch, start_of_day
from tessera.models import Service, Site
from tessera.planning.forecast import (
    PRIOR_VISITS,
    learned_from_history,
    learned_handling_minutes,
    naive_wait_minutes,
    site_forecast,
    site_outlook,
)
from tessera.planning.outlook import habits_from_json


def issue(engine, site, service="registration", language="el", needs=()):
    """Issue a ticket; returns its first step's id."""
    return engine.issue_ticket(site.id, [site.services[service]], language, needs).steps[0].id


def fresh_forecast(engine, site):
    """A forecast made now, not one shared from a moment ago."""
    engine.live.redis.delete(f"tessera:{{{site.id}}}:forecast")
    return site_forecast(engine, site.id)


def test_one_desk_serves_in_turn(engine, site):
    steps = [issue(engine, site) for _ in range(3)]
    engine.open_counter(site.counters["desk-1"], service_ids=[site.services["registration"]])
    forecast = fresh_forecast(engine, site)
    # Registration takes 12 minutes by default at the small site.
    assert [forecast.step_minutes(step) for step in steps] == [0, 12, 24]
    assert forecast.newcomer_minutes(site.services["registration"]) == 36


def test_two_desks_share_the_queue(engine, site):
    steps = [issue(engine, site) for _ in range(4)]
    for desk in ("desk-1", "desk-2"):
        engine.open_counter(site.counters[desk], service_ids=[site.services["registration"]])
    forecast = fresh_forecast(engine, site)
    assert [forecast.step_minutes(step) for step in steps] == [0, 0, 12, 12]
    assert forecast.newcomer_minutes(site.services["registration"]) == 24


def test_a_busy_desk_counts_from_when_it_should_be_free(engine, site, clock):
    issue(engine, site)
    waiting = issue(engine, site)
    desk = site.counters["desk-1"]
    engine.open_counter(desk, service_ids=[site.services["registration"]])
    engine.call_next(desk)
    engine.start(desk)
    clock.advance(minutes=5)  # 7 of its 12 minutes are left
    assert fresh_forecast(engine, site).step_minutes(waiting) == 7


def test_the_forecast_follows_the_routing_policy(engine, site):
    # A priority visitor who came later is called first, and the forecast knows it.
    first = issue(engine, site)
    priority = issue(engine, site, needs=["priority"])
    engine.open_counter(site.counters["desk-1"], service_ids=[site.services["registration"]])
    forecast = fresh_forecast(engine, site)
    assert forecast.step_minutes(priority) == 0 and forecast.step_minutes(first) == 12
    # The naive estimate cannot see that.
    assert naive_wait_minutes(1, 12, 1) == 12


def test_no_desk_on_duty_means_no_made_up_figure(engine, site):
    step = issue(engine, site, "legal_advice")
    engine.open_counter(site.counters["desk-1"])  # serves registration and certificates
    forecast = fresh_forecast(engine, site)
    assert forecast.step_minutes(step) is None
    assert forecast.newcomer_minutes(site.services["legal_advice"]) is None
    assert naive_wait_minutes(3, 10, 0) is None


def test_paused_desks_are_not_counted_on(engine, site):
    issue(engine, site)
    waiting = issue(engine, site)
    for desk in ("desk-1", "desk-2"):
        engine.open_counter(site.counters[desk], service_ids=[site.services["registration"]])
    engine.pause_counter(site.counters["desk-2"])
    assert fresh_forecast(engine, site).step_minutes(waiting) == 12


def test_handling_times_are_learned_from_today(engine, site, clock, database):
    desk = site.counters["desk-1"]
    engine.open_counter(desk, service_ids=[site.services["registration"]])
    for _ in range(3):
        issue(engine, site)
        engine.call_next(desk)
        engine.start(desk)
        clock.advance(minutes=4)
        engine.finish(desk)
    with database.session() as session:
        service = session.scalars(select(Service).where(Service.key == "registration")).one()
        learned = learned_handling_minutes(session, [service],
                                           start_of_day(clock.now, "Europe/Athens"))
    # Three visits of 4 minutes against a 12 minute default that weighs as PRIOR_VISITS.
    assert learned[service.id] == pytest.approx((3 * 4 + PRIOR_VISITS * 12) / (3 + PRIOR_VISITS))
    waiting = [issue(engine, site) for _ in range(2)]
    assert fresh_forecast(engine, site).step_minutes(waiting[1]) == 8


def test_pages_share_a_forecast_but_never_miss_a_new_ticket(engine, site):
    engine.open_counter(site.counters["desk-1"], service_ids=[site.services["registration"]])
    first = issue(engine, site)
    shared = site_forecast(engine, site.id)
    assert shared.step_minutes(first) == 0
    second = issue(engine, site)
    assert site_forecast(engine, site.id).step_minutes(second) is None  # shared, a bit old
    assert site_forecast(engine, site.id, must_include=second).step_minutes(second) == 12


def test_the_forecast_leaves_no_trace_in_redis(engine, site, redis_client):
    issue(engine, site)
    engine.open_counter(site.counters["desk-1"])
    before = set(redis_client.keys("*"))
    fresh_forecast(engine, site)
    after = set(redis_client.keys("*"))
    # The shared forecast, and the habits it learned from history (none here), kept a day.
    assert after - before == {f"tessera:{{{site.id}}}:forecast".encode(),
                              f"tessera:{{{site.id}}}:forecast-habits:2026-11-23".encode()}


def test_the_busy_desks_steps_and_no_habits_without_history(engine, site, clock):
    issue(engine, site)
    desk = site.counters["desk-1"]
    engine.open_counter(desk, service_ids=[site.services["registration"]])
    called = engine.call_next(desk)
    clock.advance(minutes=2)
    with engine.database.session() as session:
        small = session.get(Site, site.id)
        assert learned_from_history(engine, session, small, clock.now) is None
        outlook = site_outlook(engine, session, small, clock.now, None)
    step_id = called.step.id
    busy = outlook.busy[step_id]
    assert busy.service_id == site.services["registration"]
    assert busy.started_at == epoch(clock.now) - 120
    # Without history nobody is expected and no spread assumed: the forecast as it was.
    assert not outlook.joinings and not outlook.referrals and outlook.handling_cv == 0


def test_habits_and_hourly_means_are_learned_from_last_weeks_history(engine, site, clock):
    # Monday from 10:00 Athens: six registrations, one every 10 minutes, each served
    # 8 minutes, the last one referred on to certificates.
    desk = site.counters["desk-1"]
    engine.open_counter(desk)
    registration, certificates = site.services["registration"], site.services["certificates"]
    for visit in range(6):
        engine.issue_ticket(site.id, [registration], "el")
        clock.advance(minutes=1)
        engine.call_next(desk)
        engine.start(desk)
        clock.advance(minutes=8)
        if visit == 5:
            engine.refer(desk, certificates)
        else:
            engine.finish(desk)
        clock.advance(minutes=1)
    # A week later, Monday 10:00 again.
    clock.now = dt.datetime(2026, 11, 30, 8, 0)
    with engine.database.session() as session:
        small = session.get(Site, site.id)
        learned = learned_from_history(engine, session, small, clock.now)
        outlook = site_outlook(engine, session, small, clock.now, learned)
    assert learned["means"][str(registration)]["10"] == 8.0
    habits = habits_from_json(learned["habits"])
    assert habits.referrals[registration][certificates] > 0
    assert outlook.referrals and outlook.handling_cv > 0
    # Nothing timed yet today: the hour's mean of past days, not the configured 12 minutes.
    with engine.database.session() as session:
        service = session.get(Service, registration)
        means = learned_handling_minutes(session, [service],
                                         start_of_day(clock.now, "Europe/Athens"),
                                         {registration: 8.0})
    assert means[registration] == 8.0
    assert fresh_forecast(engine, site).newcomer_minutes(registration) is not None
