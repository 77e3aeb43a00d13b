"""The forecast's outlook: who is expected beyond the queues, and the median it tells."""

import pytest

from tessera.planning.forecast import (
    BusyStep,
    Outlook,
    forecast,
    median_seconds,
    remaining_handling_seconds,
)
from tessera.planning.outlook import (
    PRIOR_STEPS,
    Booking,
    Habits,
    Joining,
    expected_joinings,
    habits_from_days,
    habits_from_json,
    habits_to_json,
)
from tessera.planning.sampling import Visit
from tessera.queue.live import Duty, QueuedStep, ServiceQueue
from tessera.queue.routing import TESSERA

NOW = 1_800_000_000.0
REGISTRATION, CERTIFICATES = 1, 2
# Ten and five minutes, no spread (cv 0 below unless a test says otherwise).
QUEUES = {REGISTRATION: ServiceQueue(REGISTRATION, 1800, 600),
          CERTIFICATES: ServiceQueue(CERTIFICATES, 1200, 300)}


def test_a_visit_already_long_at_the_desk_has_more_left_than_the_mean_says():
    assert remaining_handling_seconds(720, 0.0, 300) == 420  # no spread: mean less elapsed
    assert remaining_handling_seconds(720, 0.7, 0) == 720
    half, whole, double = (remaining_handling_seconds(720, 0.7, elapsed)
                           for elapsed in (360, 720, 1440))
    # Skewed times: a visit half done has more than half left, one past its mean
    # still has minutes left, and the longer it has run the longer it will.
    assert half > 360 and 0 < whole < double
    assert remaining_handling_seconds(720, 0.7, 10**9) >= 0  # an absurd overrun stays finite


def test_the_median_is_below_the_mean_by_more_the_more_spread():
    assert median_seconds(600, 0) == 600
    assert median_seconds(0, 100) == 0
    assert 0 < median_seconds(600, 600) < median_seconds(600, 100) < 600


def test_booked_visitors_are_expected_as_fractional_visitors():
    habits = Habits(no_show=0.2, early_seconds=300)
    bookings = [Booking(CERTIFICATES, NOW + 1800, "uk"),
                Booking(REGISTRATION, NOW + 3 * 3600, "el")]  # beyond the horizon
    [booked] = expected_joinings(habits, NOW, bookings, horizon=2 * 3600)
    assert (booked.at, booked.appointment_due, booked.language, booked.weight) == (
        NOW + 1500, NOW + 1800, "uk", pytest.approx(0.8))


def test_habits_are_learned_from_past_days():
    def visit(number, at, services, due=None, priority=False):
        return Visit(number, at, "ar", priority, False, services, (600.0,) * len(services),
                     due)

    days = [
        [visit(1, 100, ("registration", "certificates")), visit(2, 4000, ("registration",)),
         visit(3, 200, ("certificates",), due=500, priority=True)],
        [visit(1, 300, ("registration",))],
    ]
    habits = habits_from_days(days, {"registration": REGISTRATION,
                                     "certificates": CERTIFICATES})
    # One referral out of three registrations, pulled towards none while evidence is thin.
    assert habits.referrals == {REGISTRATION: {CERTIFICATES: pytest.approx(1 / (3 + PRIOR_STEPS))}}
    assert habits.early_seconds == 300
    assert habits_from_json(habits_to_json(habits)) == habits


def _one_desk(live, site_id, busy_with=None, services=(REGISTRATION, CERTIFICATES)):
    # One desk serving `services`; busy with step `busy_with` if given.
    duty = Duty(services, ("el",))
    if busy_with is not None:
        duty = Duty(duty.service_ids, duty.languages, step_id=busy_with, free_at=NOW + 600)
    live.set_duty(site_id, 1, duty)


def test_a_referral_of_the_visitor_at_the_desk_is_expected_ahead_of_later_visitors(live):
    site_id = "outlook-referral"
    try:
        _one_desk(live, site_id, busy_with=5)
        live.enqueue(site_id, QueuedStep(10, CERTIFICATES, NOW - 60, "el"))
        alone = forecast(live, site_id, QUEUES, TESSERA, NOW)
        assert alone.steps[10] == 600  # when the desk is free
        # The visitor at the desk arrived earlier and goes on to certificates: that
        # step keeps their arrival, so it is called first, for its five minutes.
        busy = {5: BusyStep(REGISTRATION, NOW, NOW - 900)}
        certain = forecast(live, site_id, QUEUES, TESSERA, NOW,
                           Outlook(referrals={REGISTRATION: {CERTIFICATES: 1.0}}, busy=busy))
        assert certain.steps[10] == 900
        # Referred half the time: half of it in expectation, with the spread of
        # whether it comes at all (half a visitor: 150 s either way), so its median.
        even = forecast(live, site_id, QUEUES, TESSERA, NOW,
                        Outlook(referrals={REGISTRATION: {CERTIFICATES: 0.5}}, busy=busy))
        assert even.spreads[10] == pytest.approx(150)
        assert even.steps[10] == pytest.approx(median_seconds(750, 150))
        assert live.redis.keys("tessera:{forecast-*") == []
    finally:
        live.flush_site(site_id)


def test_a_booked_visitor_expected_later_overtakes(live):
    site_id = "outlook-booked"
    try:
        _one_desk(live, site_id, services=(REGISTRATION,))
        live.enqueue(site_id, QueuedStep(10, REGISTRATION, NOW - 10, "el"))
        live.enqueue(site_id, QueuedStep(11, REGISTRATION, NOW - 5, "el"))
        assert forecast(live, site_id, QUEUES, TESSERA, NOW).steps[11] == 600
        # Five minutes from now a booked visitor comes for their slot: at 10 minutes,
        # when the desk is free, the appointment boost outweighs step 11's five minutes.
        booked = Joining(NOW + 300, REGISTRATION, NOW + 300, appointment_due=NOW + 300)
        expected = forecast(live, site_id, QUEUES, TESSERA, NOW, Outlook(joinings=[booked]))
        assert expected.steps[11] == 1200
        # A visitor without an appointment who comes later stays behind.
        plain = Joining(NOW + 300, REGISTRATION, NOW + 300)
        assert forecast(live, site_id, QUEUES, TESSERA, NOW,
                        Outlook(joinings=[plain])).steps[11] == 600
    finally:
        live.flush_site(site_id)


def test_a_desk_with_nothing_to_call_takes_the_next_expected_visitor(live):
    site_id = "outlook-idle"
    try:
        _one_desk(live, site_id)
        # Nobody waits; a booked visitor is due in 20 minutes, and a newcomer joining
        # now is called at once, so the expected visitor changes nothing for them...
        booked = Joining(NOW + 1200, CERTIFICATES, NOW + 1200, appointment_due=NOW + 1200)
        expected = forecast(live, site_id, QUEUES, TESSERA, NOW, Outlook(joinings=[booked]))
        assert expected.newcomer_minutes(REGISTRATION) == 0
    finally:
        live.flush_site(site_id)


def test_the_spread_of_handling_times_makes_the_estimate_a_median(live):
    site_id = "outlook-median"
    try:
        _one_desk(live, site_id, services=(REGISTRATION,))
        for step in (10, 11, 12):
            live.enqueue(site_id, QueuedStep(step, REGISTRATION, NOW - 100 + step, "el"))
        exact = forecast(live, site_id, QUEUES, TESSERA, NOW)
        spread = forecast(live, site_id, QUEUES, TESSERA, NOW, Outlook(handling_cv=0.7))
        assert [exact.steps[step] for step in (10, 11, 12)] == [0, 600, 1200]
        assert spread.steps[10] == 0
        # Below the mean, the more so the fewer visits the wait rests on.
        assert 0.5 < spread.steps[11] / 600 < spread.steps[12] / 1200 < 1
    finally:
        live.flush_site(site_id)
