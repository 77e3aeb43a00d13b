"""What a staffing plan is made of: per weekday, the visitors of a typical day and, per
service and hour, the arrival rate and handling time.

Two sources give the same shape. A scenario file (tessera.planning.scenario) is one
typical day. A date range of a site's history is replayed from its event log by the
reports' own replay (tessera.reports.rollups.load_visits, which reads closed days from
their roll-ups and replays the others with tessera.reports.history.replay), and gives
one day per weekday that had visits. Each day also carries a scenario, so that the
plan can be checked in the simulator on visitors like the real ones.
"""

import datetime as dt
import math
import zlib
from collections import Counter as Tally
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from tessera.planning.sampling import MAX_STEPS_PER_VISIT
from tessera.planning.scenario import CounterSpec, Scenario, ServiceSpec

# An hour's own mean handling time is used once it rests on this many steps; below
# that, the service's mean over the whole range is the better guess.
MIN_HANDLING_SAMPLES = 3
# Handling times vary about this much (coefficient of variation) where the history has
# too few to tell: the reference scenario's figure.
DEFAULT_HANDLING_CV = 0.7
MIN_CV_SAMPLES = 10
# Steps started and ended in the same instant (a desk clicking through) would give a
# handling time of 0, which no queue has: half a minute is the least we plan with.
MIN_HANDLING_MINUTES = 0.5


@dataclass(frozen=True)
class Cell:
    """One service in one opening hour: steps joining its queue per hour, mean handling."""

    arrivals_per_hour: float
    mean_handling_minutes: float


@dataclass(frozen=True)
class DayDemand:
    """One weekday to plan: its visitors (as a scenario) and its cells.

    `cells` is keyed by (service, opening hour), hour 0 being the hour the day opens
    (`opens_at`, local time). `speakers` names, per language, who could cover it: the
    site's staff, or for a scenario, its desks.
    """

    weekday: int  # 0 = Monday
    opens_at: int
    scenario: Scenario
    cells: dict[tuple[str, int], Cell]
    speakers: dict[str, tuple[str, ...]] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)  # service -> shown name
    unserved: tuple[str, ...] = ()  # services asked for that no desk serves


def steps_per_visit(scenario: Scenario) -> dict[str, float]:
    """How many steps of each service one visit brings, first requests and referrals.

    The referral chains are followed as the sampling does, up to MAX_STEPS_PER_VISIT.
    """
    flow = {name: service.share for name, service in scenario.services.items()}
    total = dict(flow)
    for _ in range(MAX_STEPS_PER_VISIT - 1):
        onward = defaultdict(float)
        for source, amount in flow.items():
            for target, chance in scenario.referrals.get(source, {}).items():
                onward[target] += amount * chance
        if not onward:
            break
        for name, amount in onward.items():
            total[name] = total.get(name, 0.0) + amount
        flow = onward
    return total


def _cells(scenario: Scenario, handling: dict[tuple[str, int], float] | None = None
           ) -> dict[tuple[str, int], Cell]:
    """Each service's expected steps per opening hour, from the scenario's visit rates.

    A referral is counted in the hour its visit arrived: it follows within minutes.
    The last hour counts only the minutes before arrivals stop.
    """
    per_visit = steps_per_visit(scenario)
    stop = scenario.open_hours * 60 - scenario.arrivals_stop_before_close_minutes
    cells = {}
    for hour, rate in enumerate(scenario.arrivals_per_hour):
        minutes = min(60.0, max(0.0, stop - hour * 60))
        for name, service in scenario.services.items():
            mean = (handling or {}).get((name, hour), service.mean_handling_seconds / 60)
            cells[name, hour] = Cell(round(rate * minutes / 60 * per_visit.get(name, 0), 3),
                                     round(mean, 2))
    return cells


def demand_from_scenario(scenario: Scenario, weekday: int = 0, opens_at: int = 9) -> DayDemand:
    """A scenario's typical day, planned as `weekday`, opening at `opens_at` o'clock."""
    speakers = defaultdict(list)
    for counter in scenario.counters:
        for language in counter.languages:
            speakers[language].append(counter.name)
    return DayDemand(weekday, opens_at, scenario, _cells(scenario),
                     {language: tuple(names) for language, names in speakers.items()},
                     {name: name for name in scenario.services})


def _cv(values: list[float]) -> float:
    if len(values) < MIN_CV_SAMPLES:
        return DEFAULT_HANDLING_CV
    mean = sum(values) / len(values)
    spread = math.sqrt(sum((value - mean) ** 2 for value in values) / (len(values) - 1))
    # Clamped: a handful of odd days should not make the simulated day absurd.
    return min(1.5, max(0.2, spread / mean)) if mean > 0 else DEFAULT_HANDLING_CV


def demand_from_history(session: Session, site_id: str, first: dt.date, last: dt.date,
                        label_language: str | None = None) -> list[DayDemand]:
    """One DayDemand per weekday with visits among the service days `first`..`last`.

    A weekday's rates are means over its days that had any visit (a closed day would
    only dilute them). Steps count as arrivals when they joined a queue, in the hour
    their visit arrived; handling is timed from start to end, as in the reports.
    Raises InvalidInput (422) on a reversed or too long range.
    """
    from tessera.models import Counter, Service, Staff, Ticket
    from tessera.reports.figures import check_range
    from tessera.reports.rollups import load_visits
    from tessera.sites.catalogue import get_site

    check_range(first, last)
    site = get_site(session, site_id)
    services = {service.id: service for service in session.scalars(
        select(Service).where(Service.site_id == site_id, Service.active)
        .options(selectinload(Service.texts)).order_by(Service.position))}
    counters = list(session.scalars(select(Counter).where(
        Counter.site_id == site_id, Counter.active).options(selectinload(Counter.services))
        .order_by(Counter.id)))
    staff_languages = defaultdict(list)
    for member in session.scalars(select(Staff).where(Staff.site_id == site_id, Staff.active)
                                  .order_by(Staff.display_name)):
        for language in member.languages or ():
            staff_languages[language].append(member.display_name)
    priority_share = _priority_share(session, site_id, first, last, Ticket)
    visits = load_visits(session, site, first, last)

    days_seen: dict[int, set] = defaultdict(set)
    arrivals = defaultdict(float)  # (weekday, hour) -> visits
    steps = defaultdict(float)  # (weekday, service id, hour) -> queued steps
    firsts: dict[int, Tally] = defaultdict(Tally)
    languages: dict[int, Tally] = defaultdict(Tally)
    handling = defaultdict(list)  # (weekday, service id, hour) -> minutes
    handling_all = defaultdict(list)  # service id -> minutes
    onward: dict[int, Tally] = defaultdict(Tally)
    leaving = Tally()
    for visit in visits.values():
        weekday, hour = visit.arrival_weekday, visit.arrival_hour
        known = [step for step in visit.steps if step.service_id in services]
        if not known:
            continue
        days_seen[weekday].add(visit.day)
        arrivals[weekday, hour] += 1
        firsts[weekday][known[0].service_id] += 1
        languages[weekday][visit.language] += 1
        for index, step in enumerate(known):
            if step.queued:
                steps[weekday, step.service_id, hour] += 1
            if step.handling_minutes is not None:
                handling[weekday, step.service_id, hour].append(step.handling_minutes)
                handling_all[step.service_id].append(step.handling_minutes)
            leaving[step.service_id] += 1
            if index + 1 < len(known):
                onward[step.service_id][known[index + 1].service_id] += 1

    served = {service.key for counter in counters for service in counter.services
              if service.id in services}
    keys = {service_id: service.key for service_id, service in services.items()}
    means = {service_id: max(MIN_HANDLING_MINUTES, (
        sum(handling_all[service_id]) / len(handling_all[service_id])
        if handling_all[service_id] else float(service.mean_handling_minutes)))
        for service_id, service in services.items()}
    cv = _cv([minutes for values in handling_all.values() for minutes in values])
    specs = {}
    for service_id, service in services.items():
        if service.key in served:
            specs[service.key] = (service_id, service)
    counter_specs = tuple(
        CounterSpec(counter.key, counter.id,
                    tuple(s.key for s in counter.services if s.key in specs),
                    tuple(dict.fromkeys([site.language, *(counter.languages or [])])))
        for counter in counters if any(s.key in specs for s in counter.services))
    labels = {service.key: (service.text(label_language).name if label_language
                            else service.key) for service in services.values()}

    demands = []
    for weekday in sorted(days_seen):
        day_count = len(days_seen[weekday])
        hours = sorted(hour for (wd, hour) in arrivals if wd == weekday)
        opens_at, closes_at = hours[0], hours[-1] + 1
        first_total = sum(count for service_id, count in firsts[weekday].items()
                          if keys[service_id] in specs)
        unserved = tuple(sorted({keys[service_id] for service_id in firsts[weekday]}
                                - set(specs)))
        if not first_total:
            continue
        service_specs = {
            key: ServiceSpec(key, service_id, None, service.prefix, 60 * means[service_id],
                             60 * service.target_wait_minutes,
                             firsts[weekday][service_id] / first_total)
            for key, (service_id, service) in specs.items()}
        referrals = {}
        for service_id, targets in onward.items():
            if keys[service_id] in specs:
                chances = {keys[target]: count / leaving[service_id]
                           for target, count in targets.items() if keys[target] in specs}
                if chances:
                    referrals[keys[service_id]] = chances
        language_total = sum(languages[weekday].values())
        scenario = Scenario(
            name=f"{site_id}-{first.isoformat()}-{last.isoformat()}-weekday{weekday}",
            # A seed fixed by the site and weekday: the same range plans the same way.
            seed=zlib.crc32(f"{site_id}:{weekday}".encode()),
            open_hours=closes_at - opens_at, arrivals_stop_before_close_minutes=0,
            handling_cv=cv, site_language=site.language,
            languages={language: count / language_total
                       for language, count in languages[weekday].most_common()},
            needs={"priority": priority_share}, services=service_specs,
            referrals=referrals, counters=counter_specs,
            arrivals_per_hour=tuple(arrivals.get((weekday, hour), 0) / day_count
                                    for hour in range(opens_at, closes_at)))
        cells = {}
        for key, (service_id, _service) in specs.items():
            for hour in range(opens_at, closes_at):
                timed = handling.get((weekday, service_id, hour), [])
                mean = (max(MIN_HANDLING_MINUTES, sum(timed) / len(timed))
                        if len(timed) >= MIN_HANDLING_SAMPLES else means[service_id])
                cells[key, hour - opens_at] = Cell(
                    round(steps.get((weekday, service_id, hour), 0) / day_count, 3),
                    round(mean, 2))
        demands.append(DayDemand(weekday, opens_at, scenario, cells,
                                 {language: tuple(names)
                                  for language, names in staff_languages.items()},
                                 {key: labels[key] for key in specs}, unserved))
    return demands


def _priority_share(session: Session, site_id: str, first: dt.date, last: dt.date,
                    ticket_model) -> float:
    """The share of the range's tickets with a priority need, for the simulated visitors."""
    needs = list(session.scalars(select(ticket_model.needs).where(
        ticket_model.site_id == site_id, ticket_model.service_day >= first,
        ticket_model.service_day <= last)))
    return sum("priority" in (need or ()) for need in needs) / len(needs) if needs else 0.0
