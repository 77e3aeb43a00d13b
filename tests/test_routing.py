"""The routing policy's preferences, in small exact cases, through the real Redis script.

Cases are phrased in the policy's own weights, so re-tuning them keeps the
tests meaningful: a boost of B seconds must beat a visitor who came just
under B seconds earlier, and lose to one who came just over B earlier.
"""

from dataclasses import replace

import pytest

from tessera.queue.live import Duty, QueuedStep, ServiceQueue
from tessera.queue.routing import LONGEST_WAIT_FIRST, TESSERA

SITE = "routing"
NOW = 1_000_000.0
REGISTRATION = ServiceQueue(service_id=1, target_seconds=3600, mean_handling_seconds=600)
LEGAL = ServiceQueue(service_id=2, target_seconds=3600, mean_handling_seconds=1200)


def waiting(live, *steps: QueuedStep) -> None:
    """Put steps in their queues."""
    for step in steps:
        live.enqueue(SITE, step)


def step(step_id, waited_seconds, language="el", service=REGISTRATION, priority=False):
    """A step of a visit that arrived `waited_seconds` before NOW."""
    return QueuedStep(step_id, service.service_id, NOW - waited_seconds, language, priority)


def open_desk(live, counter_id, languages, queues=(REGISTRATION,), busy_until=None):
    """Put a counter on duty; `busy_until` makes it busy until then."""
    live.set_duty(SITE, counter_id, Duty(
        tuple(q.service_id for q in queues), tuple(languages),
        step_id=None if busy_until is None else 999, free_at=busy_until or 0.0))


def call(live, counter_id, policy=TESSERA, queues=(REGISTRATION,), now=NOW):
    """Call next for a counter; returns the step id it gets (None if nothing)."""
    return live.call_next(SITE, counter_id, list(queues), policy, now).step_id


def test_longest_wait_first_without_boosts(live):
    waiting(live, step(1, 100, priority=True, language="en"), step(2, 300))
    open_desk(live, 1, ["en"])
    assert call(live, 1, LONGEST_WAIT_FIRST) == 2


@pytest.mark.parametrize(("margin", "winner"), [(-60, 1), (60, 2)])
def test_priority_boost_is_bounded(live, margin, winner):
    # Step 2 came `boost + margin` seconds before the priority step 1.
    boost = TESSERA.priority_boost
    waiting(live, step(1, 100, priority=True), step(2, 100 + boost + margin))
    open_desk(live, 1, ["el"])
    assert call(live, 1) == winner


@pytest.mark.parametrize(("margin", "winner"), [(-60, 1), (60, 2)])
def test_language_boost_is_bounded(live, margin, winner):
    boost = TESSERA.language_boost
    waiting(live, step(1, 100, language="ar"), step(2, 100 + boost + margin, language="en"))
    open_desk(live, 1, ["el", "ar"])  # speaks Arabic, not English
    open_desk(live, 2, ["el"])  # a colleague without Arabic: the boost can change who serves
    assert call(live, 1) == winner


def test_aging_means_nobody_starves(live):
    # Every boost at once cannot beat a visitor who has waited long enough.
    total_boost = TESSERA.priority_boost + TESSERA.language_boost
    waiting(live, step(1, 60, language="ar", priority=True),
            step(2, 60 + total_boost + 60, language="en"))
    open_desk(live, 1, ["ar"])
    open_desk(live, 2, ["el"])  # without Arabic, so the language boost applies at desk 1
    assert call(live, 1) == 2


@pytest.mark.parametrize(("policy", "winner"), [(TESSERA, 2), (LONGEST_WAIT_FIRST, 1)])
def test_urgency_as_a_step_nears_its_target(live, policy, winner):
    # Step 1 waited a little longer, but step 2 is close to its (shorter) target.
    urgent_service = replace(LEGAL, target_seconds=1200)
    waited = 0.95 * urgent_service.target_seconds
    waiting(live, step(1, waited + 30), step(2, waited, service=urgent_service))
    queues = (REGISTRATION, urgent_service)
    open_desk(live, 1, ["el"], queues=queues)
    assert call(live, 1, policy, queues=queues) == winner


def test_only_the_counters_services_are_called(live):
    waiting(live, step(1, 500, service=LEGAL), step(2, 10))
    open_desk(live, 1, ["el"])
    assert call(live, 1) == 2
    open_desk(live, 1, ["el"])  # step 2 done: the legal step is still not this desk's
    assert call(live, 1) is None


def test_hold_for_a_speaker_who_is_about_to_be_free(live):
    # Desk 1 speaks only Greek; desk 2 speaks Arabic and will be free in a minute.
    waiting(live, step(1, 30, language="ar"))
    open_desk(live, 1, ["el"])
    open_desk(live, 2, ["el", "ar"], busy_until=NOW + 60)
    outcome = live.call_next(SITE, 1, [REGISTRATION], TESSERA, NOW)
    assert outcome.status == "empty" and outcome.held == 1
    assert outcome.retry_after == pytest.approx(60)
    # Desk 2, once free, gets the step.
    open_desk(live, 2, ["el", "ar"])
    assert call(live, 2, now=NOW + 60) == 1


def test_hold_is_bounded(live):
    # Past the hold limit the step is served by whoever is free.
    waited = TESSERA.hold_fraction * REGISTRATION.target_seconds + 1
    waiting(live, step(1, waited, language="ar"))
    open_desk(live, 1, ["el"])
    open_desk(live, 2, ["ar"], busy_until=NOW + 60)
    assert call(live, 1) == 1


def test_no_hold_when_no_speaker_is_coming(live):
    waiting(live, step(1, 30, language="ti"))
    open_desk(live, 1, ["el"])
    open_desk(live, 2, ["ar"], busy_until=NOW + 60)
    assert call(live, 1) == 1


def test_no_hold_when_the_speaker_is_busy_for_long(live):
    waiting(live, step(1, 30, language="ar"))
    open_desk(live, 1, ["el"])
    open_desk(live, 2, ["ar"], busy_until=NOW + TESSERA.hold_horizon + 60)
    assert call(live, 1) == 1


def test_a_held_step_does_not_block_others(live):
    waiting(live, step(1, 60, language="ar"), step(2, 30, language="el"))
    open_desk(live, 1, ["el"])
    open_desk(live, 2, ["ar"], busy_until=NOW + 60)
    assert call(live, 1) == 2


def test_ties_go_to_the_earlier_arrival(live):
    waiting(live, step(2, 100), step(1, 100.5))
    open_desk(live, 1, ["el"])
    assert call(live, 1) == 1


def test_busy_paused_and_unknown_counters(live):
    waiting(live, step(1, 10), step(2, 5))
    assert live.call_next(SITE, 7, [REGISTRATION], TESSERA, NOW).status == "not_open"
    live.set_duty(SITE, 7, Duty((1,), ("el",), paused=True))
    assert live.call_next(SITE, 7, [REGISTRATION], TESSERA, NOW).status == "not_open"
    open_desk(live, 8, ["el"])
    assert call(live, 8) == 1
    assert live.call_next(SITE, 8, [REGISTRATION], TESSERA, NOW).status == "busy"


@pytest.mark.parametrize(("policy", "winner"), [
    (TESSERA, 2), (replace(TESSERA, urgency_until=0), 1)])
def test_urgency_stops_growing_at_the_target(live, policy, winner):
    # Step 1 is far past its short target; step 2 waited longer than step 1's
    # capped effective wait, short of its own long target. Urgency without end
    # keeps lifting step 1, which cannot be served within target any more;
    # capped at the target, step 2, which still can, goes first.
    short = replace(LEGAL, target_seconds=600)
    long = replace(REGISTRATION, target_seconds=7200)
    waiting(live, step(1, 1500, service=short), step(2, 3000, service=long))
    queues = (long, short)
    open_desk(live, 1, ["el"], queues=queues)
    assert call(live, 1, policy, queues=queues) == winner


def test_capped_urgency_still_lets_aging_win(live):
    # The most urgency can add is urgency_weight x (until - from) of the target:
    # a visitor who waited that much longer is served first all the same.
    short = replace(LEGAL, target_seconds=600)
    most = TESSERA.urgency_weight * (TESSERA.urgency_until - TESSERA.urgency_from) * 600
    waiting(live, step(1, 1000, service=short), step(2, 1000 + most + 60))
    queues = (REGISTRATION, short)
    open_desk(live, 1, ["el"], queues=queues)
    assert call(live, 1, queues=queues) == 2


def test_an_idle_counter_holds_only_briefly(live):
    # Desk 1 has nobody else to serve: holding the Arabic speaker would leave it
    # idle, so it waits only hold_idle_horizon for desk 2, not the full horizon.
    busy_for = TESSERA.hold_idle_horizon + 60
    assert busy_for <= TESSERA.hold_horizon  # long enough a hold if desk 1 had others
    waiting(live, step(1, 30, language="ar"))
    open_desk(live, 1, ["el"])
    open_desk(live, 2, ["el", "ar"], busy_until=NOW + busy_for)
    assert call(live, 1) == 1


def test_an_idle_counter_still_holds_for_a_speaker_about_to_be_free(live):
    waiting(live, step(1, 30, language="ar"))
    open_desk(live, 1, ["el"])
    open_desk(live, 2, ["el", "ar"], busy_until=NOW + TESSERA.hold_idle_horizon - 10)
    outcome = live.call_next(SITE, 1, [REGISTRATION], TESSERA, NOW)
    assert outcome.status == "empty" and outcome.held == 1


def test_without_the_idle_horizon_the_idle_counter_holds_longer(live):
    waiting(live, step(1, 30, language="ar"))
    open_desk(live, 1, ["el"])
    open_desk(live, 2, ["el", "ar"], busy_until=NOW + TESSERA.hold_idle_horizon + 60)
    policy = replace(TESSERA, hold_idle_horizon=0)
    outcome = live.call_next(SITE, 1, [REGISTRATION], policy, NOW)
    assert outcome.status == "empty" and outcome.held == 1


def test_a_busy_counter_holds_for_the_full_horizon(live):
    # With a Greek visitor to serve meanwhile, desk 1 does not stand idle: the
    # Arabic speaker is held for desk 2 beyond the idle horizon.
    waiting(live, step(1, 60, language="ar"), step(2, 30, language="el"))
    open_desk(live, 1, ["el"])
    open_desk(live, 2, ["el", "ar"], busy_until=NOW + TESSERA.hold_idle_horizon + 60)
    assert call(live, 1) == 2


def test_an_idle_counter_serves_the_first_long_hold_and_keeps_the_short_one(live):
    # Both visitors would be held; the Arabic speaker's colleague is far off,
    # the Farsi speaker's is about to be free. Desk 1 serves the Arabic speaker
    # (the first whose hold would leave it idle for long) and leaves the other.
    waiting(live, step(1, 60, language="ar"), step(2, 30, language="fa"))
    open_desk(live, 1, ["el"])
    open_desk(live, 2, ["ar"], busy_until=NOW + TESSERA.hold_idle_horizon + 60)
    open_desk(live, 3, ["fa"], busy_until=NOW + 30)
    outcome = live.call_next(SITE, 1, [REGISTRATION], TESSERA, NOW)
    assert outcome.step_id == 1 and outcome.held == 1
