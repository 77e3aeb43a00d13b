"""What the wait forecast expects beyond the queues: who will come, who will be referred.

The forecast (tessera/planning/forecast.py) replays the coming calls through the
routing script. Replaying only the steps waiting now leaves out everyone who
joins later yet is called first: a priority visitor (the priority boost), a
booked visitor as their slot comes due (the appointment boost), a visitor in a
language the desk speaks (the language boost), a step of a service with a short
target at a shared desk (urgency), and above all a referral, which keeps its
visit's arrival time and so queues ahead of most of those waiting. So the
forecast was optimistic (BENCHMARKS.md, Wait estimates).

`Habits` is what a site's past days say about such arrivals: where each service
refers visitors on, how early booked visitors come and how many never do.
`expected_joinings` turns them, with today's bookings, into the booked steps
expected to join during the forecast, as *fractional* visitors: a joining of
weight 0.8 is four fifths of a visitor, who takes four fifths of the mean handling
time at the desk that calls it. Expected walk-ins (per service and hour, with their
priority needs and languages) were tried and left out: they made the estimates worse
on the reference day and on generated centres, and the replay three times slower
(BENCHMARKS.md, Wait estimates); booked visitors and referrals are what overtake in
earnest. So the replay stays one deterministic
run and carries the expected work of the visitors to come, not one random draw
of them.

Pure: the live system learns habits from its history
(`habits_from_demand`, from the staffing plan's reading of the event log) and the
estimates benchmark from the days it sampled before the ones it measures
(`habits_from_days`), and both build the joinings alike.
"""

from collections import Counter as Tally
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

# Expected visitors beyond this horizon are not added: by then the queue waiting now
# has been called at any centre that is not overrun, and the replay stops there.
HORIZON_SECONDS = 2 * 3600.0
# The language of an expected visitor nobody has told us of, which no desk boosts.
UNDETERMINED = "und"
# A fractional visitor lighter than this is left out: it would cost a call of the
# routing script for a few seconds of a desk's time.
MIN_WEIGHT = 0.05
# A past day's referral chances count as this many visits' worth of evidence against
# the default of none, so a site with little history does not expect much overtaking
# from one odd day.
PRIOR_STEPS = 20


@dataclass(frozen=True)
class Joining:
    """A step expected to join a queue during the forecast; nobody's step yet.

    `arrived_at` is its visit's arrival (the routing's score): for a referral, the
    visit's, so earlier than `at`. `weight` is the expected number of such visitors
    (0 to 1): it takes `weight` x the service's mean handling time at a desk.
    """

    at: float  # epoch seconds when it joins its queue
    service_id: int
    arrived_at: float
    language: str = UNDETERMINED
    appointment_due: float = 0.0
    weight: float = 1.0


@dataclass(frozen=True)
class Booking:
    """An appointment of today whose visitor has not checked in yet."""

    service_id: int
    due: float  # epoch seconds of the slot
    language: str = UNDETERMINED


@dataclass(frozen=True)
class Habits:
    """A site's habits, learned from its past days.

    `referrals[service][next]`: the chance a step of `service` is referred on to `next`.
    """

    referrals: Mapping[int, Mapping[int, float]] = field(default_factory=dict)
    no_show: float = 0.0
    early_seconds: float = 0.0  # booked visitors come this long before their slot


def _shrunk(count: float, total: float) -> float:
    # A share of `total` events, pulled towards zero while the evidence is thin.
    return count / (total + PRIOR_STEPS) if total > 0 else 0.0


def habits_from_days(days: Sequence[Iterable], service_ids: Mapping[str, int]) -> Habits:
    """Habits from past days of visits (tessera.planning.sampling.Visit, or the same fields).

    Each day is the visits that came (`arrived_at` in seconds from the day's origin,
    `services` their journey by name, `appointment_due` for a booked one).
    """
    leaving: Tally = Tally()
    onward: dict[str, Tally] = defaultdict(Tally)
    early = []
    for day in days:
        for visit in day:
            if visit.appointment_due is not None:
                early.append(visit.appointment_due - visit.arrived_at)
            for index, name in enumerate(visit.services):
                leaving[name] += 1
                if index + 1 < len(visit.services):
                    onward[name][visit.services[index + 1]] += 1
    return Habits(
        referrals={service_ids[name]: {service_ids[target]: _shrunk(times, leaving[name])
                                       for target, times in targets.items()}
                   for name, targets in onward.items()},
        # No-shows are not among the visits that came; the caller knows them apart.
        no_show=0.0,
        early_seconds=sum(early) / len(early) if early else 0.0,
    )


def habits_from_demand(demand) -> Habits:
    """Habits from the staffing plan's reading of a site's history (planning.demand.DayDemand)."""
    scenario = demand.scenario
    ids = {name: spec.service_id for name, spec in scenario.services.items()}
    return Habits(
        referrals={ids[name]: {ids[target]: chance for target, chance in targets.items()}
                   for name, targets in scenario.referrals.items()},
    )


def expected_joinings(habits: Habits, now: float, bookings: Iterable[Booking] = (),
                      horizon: float = HORIZON_SECONDS) -> list[Joining]:
    """The booked visitors expected from `now` to `now + horizon`: each comes
    `early_seconds` before their slot (never before now), weighed by the chance they
    come at all. Referrals are not here: the replay adds them as it calls steps.
    """
    joinings = []
    for booking in bookings:
        at = max(now, booking.due - habits.early_seconds)
        if at <= now + horizon:
            joinings.append(Joining(at, booking.service_id, at, booking.language,
                                    appointment_due=booking.due,
                                    weight=1.0 - habits.no_show))
    return joinings


def habits_to_json(habits: Habits) -> dict:
    """Habits as JSON-able data (keys as strings), for a cache."""
    return {
        "referrals": {str(service): {str(onward): chance for onward, chance in targets.items()}
                      for service, targets in habits.referrals.items()},
        "no_show": habits.no_show, "early_seconds": habits.early_seconds,
    }


def habits_from_json(data: dict) -> Habits:
    """The Habits habits_to_json wrote."""
    return Habits(
        referrals={int(service): {int(onward): chance for onward, chance in targets.items()}
                   for service, targets in data["referrals"].items()},
        no_show=data["no_show"], early_seconds=data["early_seconds"],
    )
