"""The visitors of one simulated day, drawn from a scenario before any policy runs.

Day d draws from the scenario's seed + d, and everything random about a
visit (arrival, language, needs, each step's handling time, each referral)
is drawn here, so every policy is run on the same visitors.

Which visits are booked (see the scenario's `appointments:` section) is drawn
afterwards from a stream of its own, so the walk-ins' draws never change, and
the same four numbers are drawn for every visit whatever the shares: a visit
booked at 20% is booked, on the same slot, at 40% too.
"""

import math
import random
from dataclasses import dataclass, replace

from tessera.planning.scenario import AppointmentSpec, Scenario

# A referral chain could loop (A -> B -> A ...); a visit stops after this many steps.
MAX_STEPS_PER_VISIT = 8


@dataclass(frozen=True)
class Visit:
    """One visitor's day, drawn before any policy runs.

    `services` is the whole journey (first service, then each referral) and
    `handling_seconds` the time each of those steps takes at whichever desk.
    """

    visit_id: int
    arrived_at: float  # seconds after opening
    language: str
    priority: bool
    # Drawn as the kiosk records it, though routing does not use it: the step's
    # queue member carries no interpreter flag.
    interpreter: bool
    services: tuple[str, ...]
    handling_seconds: tuple[float, ...]
    # Seconds after opening: the slot of a booked visit, None for a walk-in.
    appointment_due: float | None = None


@dataclass(frozen=True)
class SampledDay:
    """A day's visits: those who come, and the booked visitors who never do."""

    visits: list[Visit]
    no_shows: list[Visit]


def _lognormal_seconds(draw: random.Random, mean: float, cv: float) -> float:
    # A lognormal with this mean and coefficient of variation.
    sigma_squared = math.log(1 + cv * cv)
    return draw.lognormvariate(math.log(mean) - sigma_squared / 2, math.sqrt(sigma_squared))


def _arrivals_stop_seconds(scenario: Scenario) -> float:
    return (scenario.open_hours * 60 - scenario.arrivals_stop_before_close_minutes) * 60


def _arrival_times(scenario: Scenario, draw: random.Random) -> list[float]:
    # Piecewise-constant rates: a Poisson process restarted at each hour is
    # exact, since exponential gaps have no memory.
    stop = _arrivals_stop_seconds(scenario)
    times = []
    for hour, per_hour in enumerate(scenario.arrivals_per_hour):
        start, end = hour * 3600.0, min((hour + 1) * 3600.0, stop)
        if per_hour <= 0 or start >= end:
            continue
        moment = start + draw.expovariate(per_hour / 3600)
        while moment < end:
            times.append(moment)
            moment += draw.expovariate(per_hour / 3600)
    return times


def _book(visits: list[Visit], booking: AppointmentSpec, stop: float,
          draw: random.Random) -> SampledDay:
    slots = max(1, math.floor(stop / booking.slot_seconds + 1e-9))
    coming, no_shows = [], []
    for visit in visits:
        booked = draw.random() < booking.shares[visit.services[0]]
        slot = draw.randrange(slots) * booking.slot_seconds
        early = draw.gauss(booking.early_mean_seconds, booking.early_spread_seconds)
        stays_away = draw.random() < booking.no_show
        if not booked:
            coming.append(visit)
            continue
        # Those early for the first slot wait at the door until opening.
        visit = replace(visit, arrived_at=max(0.0, slot - early), appointment_due=slot)
        (no_shows if stays_away else coming).append(visit)
    coming.sort(key=lambda visit: (visit.arrived_at, visit.visit_id))
    return SampledDay(coming, no_shows)


def sample_day(scenario: Scenario, day: int) -> list[Visit]:
    """The visitors of day `day` (0-based) who come, in order of arrival; see sample_bookings."""
    return sample_bookings(scenario, day).visits


def sample_bookings(scenario: Scenario, day: int) -> SampledDay:
    """The visits of day `day` (0-based), seeded with the scenario's seed + day.

    Without appointments every visit is a walk-in and none stays away; with
    them, the booked share of visits get their slots and punctuality, and
    the no-shows among them are set apart.
    """
    draw = random.Random(scenario.seed + day)
    languages, language_shares = zip(*scenario.languages.items(), strict=True)
    names = list(scenario.services)
    first_shares = [scenario.services[name].share for name in names]
    visits = []
    for visit_id, arrived_at in enumerate(_arrival_times(scenario, draw), start=1):
        language = draw.choices(languages, language_shares)[0]
        priority = draw.random() < scenario.needs.get("priority", 0)
        interpreter = draw.random() < scenario.needs.get("interpreter", 0)
        journey = [draw.choices(names, first_shares)[0]]
        handling = []
        while True:
            service = scenario.services[journey[-1]]
            handling.append(_lognormal_seconds(draw, service.mean_handling_seconds,
                                               scenario.handling_cv))
            referral = draw.random()
            next_service = None
            for candidate, probability in scenario.referrals.get(service.name, {}).items():
                if referral < probability:
                    next_service = candidate
                    break
                referral -= probability
            if next_service is None or len(journey) == MAX_STEPS_PER_VISIT:
                break
            journey.append(next_service)
        visits.append(Visit(visit_id, arrived_at, language, priority, interpreter,
                            tuple(journey), tuple(handling)))
    if scenario.appointments is None:
        return SampledDay(visits, [])
    return _book(visits, scenario.appointments, _arrivals_stop_seconds(scenario),
                 random.Random(f"appointments:{scenario.seed + day}"))
