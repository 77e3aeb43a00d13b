"""Wait estimates: the forecast replays the coming calls through the routing script."""

import pytest
from sqlalchemy import select

from tessera.clock import start_of_day
from tessera.models import Service
from tessera.planning.forecast import (
    PRIOR_VISITS,
    learned_handling_minutes,
    naive_wait_minutes,
    site_forecast,
)


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
    assert after - before == {f"tessera:{{{site.id}}}:forecast".encode()}
