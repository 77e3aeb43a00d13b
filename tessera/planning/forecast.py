"""Wait estimates: one forecast, shown everywhere (kiosk, mobile ticket, display, manager).

The forecast replays the coming calls through the live routing script itself
(tessera/queue/call_next.lua) on a scratch copy of a site's live state: each desk
on duty calls when it is next free, busy desks when their current visitor is
expected to leave, each service taking the mean handling time learned from
today's events, blended with the service's mean in this hour of past days (the
site file's default while there is no history). So it accounts for which desks
are on duty, what they serve, in which languages, and for priorities and holds,
exactly as the calls will happen.

With history (the last HISTORY_DAYS days), the replay also expects who is not
there yet but will be called first (an Outlook, tessera/planning/outlook.py):
today's booked visitors as their slots come due, and the referral each call
may bring, which keeps its visit's arrival and so goes ahead of most of those
waiting (expected walk-ins were measured and did not help: see outlook.py).
A busy desk is expected free after the
remaining time of a visit already that long at the desk. The replay gives each
step's mean wait and its spread; a visitor is told the median (median_seconds):
waits are skewed, and the median is what is off by the least on average.
Without history the forecast is as it was: nobody new, no spread.

The naive estimate, people ahead x mean handling / desks, is kept for
comparison (BENCHMARKS.md).
"""

import datetime as dt
import heapq
import json
import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from tessera.appointments.checkin import CheckInWindow
from tessera.clock import epoch, local_time, service_day, start_of_day
from tessera.models import (
    Appointment,
    AppointmentState,
    Service,
    Site,
    Step,
    StepState,
    Ticket,
)
from tessera.planning.outlook import (
    MIN_WEIGHT,
    UNDETERMINED,
    Booking,
    Joining,
    expected_joinings,
    habits_from_demand,
    habits_from_json,
    habits_to_json,
)
from tessera.queue.live import (
    Duty,
    LiveState,
    QueuedStep,
    ServiceQueue,
    counters_key,
    queue_key,
    site_prefix,
)
from tessera.queue.routing import RoutingPolicy

# How many timed visits of a service it takes to trust today's mean half as much
# as the configured default...
PRIOR_VISITS = 3
# ...and as the mean of the service's past days, which rests on many visits: a
# morning's few long visits would otherwise move every estimate of the service
# (with cv 0.7, five visits give a mean a third off as often as not).
HISTORY_PRIOR_VISITS = 60
# The replay's spread of a wait counts only the handling times before it at the
# desk that calls it; overtaking, referrals and which desk frees first spread
# it too. This many times that variance makes the median below (BENCHMARKS.md).
SPREAD_FACTOR = 2.0
# A forecast never runs longer than this many calls (a runaway guard, not a limit in practice).
MAX_FORECAST_CALLS = 5000
# A virtual newcomer per service, with an id no real step will have; expected
# visitors (tessera/planning/outlook.py) and referrals have ids above EXPECTED_BASE.
NEWCOMER_BASE = 10**12
EXPECTED_BASE = 2 * 10**12
# The newcomers' language is unknown ("und", BCP 47's undetermined): no desk gets a
# language boost for them and none holds them, so they queue behind everyone already
# waiting and do not push real visitors back (which a site-language newcomer, boosted
# at every desk, did: see BENCHMARKS.md).
NEWCOMER_LANGUAGE = "und"
# The live forecast learns its habits from this many days before today, and keeps
# them this long (they change only with the day).
HISTORY_DAYS = 28
HABITS_SECONDS = 3600
# Pages share a forecast this long: a thousand phones must not replay the queue each.
FORECAST_SECONDS = 5


def naive_wait_minutes(people_ahead: int, mean_handling_minutes: float,
                       counters_serving: int) -> int | None:
    """People ahead x mean handling time / desks serving: the usual, routing-blind estimate."""
    if counters_serving <= 0:
        return None
    return math.ceil(people_ahead * mean_handling_minutes / counters_serving)


def blended_handling_minutes(timed_minutes: Sequence[float], default_minutes: float,
                             prior_visits: float = PRIOR_VISITS) -> float:
    """A service's mean handling time from today's timed visits and a default.

    With n visits timed today, the default weighs as `prior_visits` visits: the
    configured mean as PRIOR_VISITS, so the first visits of a day move the
    estimate gently and a full morning dominates it; the mean of past days as
    HISTORY_PRIOR_VISITS. Pure, so the live system and the estimates benchmark
    (bench/estimates.py) learn exactly alike.
    """
    return ((sum(timed_minutes) + prior_visits * default_minutes)
            / (len(timed_minutes) + prior_visits))


def median_seconds(mean: float, spread: float) -> float:
    """The median of a wait with this mean and spread (seconds), taken as lognormal.

    Waits are skewed (most visitors are called a little early, a few very late),
    and the estimate that is off by the least on average is the median, not the
    mean: below the mean by more the more spread the wait is.
    """
    if mean <= 0 or spread <= 0:
        return max(mean, 0.0)
    return mean / math.sqrt(1 + SPREAD_FACTOR * (spread / mean) ** 2)


def learned_handling_minutes(session: Session, services: list[Service], since: dt.datetime,
                             history: dict[int, float | None] | None = None
                             ) -> dict[int, float]:
    """Each service's mean handling time: today's timed visits, blended with a default.

    The default is the service's mean in this hour of past days where `history`
    has one (weighing HISTORY_PRIOR_VISITS), else the configured mean (PRIOR_VISITS).
    """
    history = history or {}
    handled: dict[int, list[float]] = {service.id: [] for service in services}
    for service_id, started, ended in session.execute(
            select(Step.service_id, Step.started_at, Step.ended_at)
            .where(Step.service_id.in_(handled), Step.started_at >= since,
                   Step.ended_at.is_not(None),
                   Step.state.in_((StepState.DONE, StepState.REFERRED)))):
        handled[service_id].append((ended - started).total_seconds() / 60)
    return {service.id: (
        blended_handling_minutes(handled[service.id], history[service.id], HISTORY_PRIOR_VISITS)
        if history.get(service.id) else
        blended_handling_minutes(handled[service.id], service.mean_handling_minutes))
        for service in services}


@dataclass(frozen=True)
class Forecast:
    """Seconds from now until each waiting step, and a newcomer to each service, is called.

    A step or service missing from the forecast will not be called by the
    desks on duty now (none serves it): its estimate is unknown, not zero.
    """

    steps: dict[int, float]
    newcomers: dict[int, float]
    # The spread (standard deviation, seconds) of each step's wait in the replay.
    spreads: dict[int, float] = field(default_factory=dict)

    def step_minutes(self, step_id: int) -> int | None:
        """Minutes until a waiting step is called, rounded up; None if no desk will."""
        seconds = self.steps.get(step_id)
        return None if seconds is None else math.ceil(seconds / 60)

    def newcomer_minutes(self, service_id: int) -> int | None:
        """Minutes a visitor joining a service now would wait; None if no desk serves it."""
        seconds = self.newcomers.get(service_id)
        return None if seconds is None else math.ceil(seconds / 60)


@dataclass(frozen=True)
class BusyStep:
    """The step a busy desk is serving: when it began, and its visit, for what follows it."""

    service_id: int
    started_at: float  # epoch seconds it was called (or started)
    arrived_at: float  # its visit's arrival, which a referral onward keeps
    language: str = UNDETERMINED
    priority: bool = False


@dataclass(frozen=True)
class Outlook:
    """What the forecast expects beyond the live queues (tessera/planning/outlook.py).

    `joinings`: steps expected to join during the forecast (walk-ins, booked
    visitors). `referrals[service][next]`: the chance a step of `service` is
    referred on to `next`; the replay adds each call's expected referrals as it
    goes. `busy`: the steps the busy desks serve, by step id, so that a desk is
    expected free after the *remaining* handling time of a visit already that
    long at the desk (`handling_cv`, the spread of handling times), not at the
    mean counted from the call. The empty outlook is the forecast as it was:
    nobody new, desks free at their expected time.
    """

    joinings: Sequence[Joining] = ()
    referrals: Mapping[int, Mapping[int, float]] = field(default_factory=dict)
    busy: Mapping[int, BusyStep] = field(default_factory=dict)
    handling_cv: float = 0.0


def remaining_handling_seconds(mean: float, cv: float, elapsed: float) -> float:
    """The expected rest of a lognormal handling time (mean, cv) already `elapsed` long.

    Handling times are skewed: a visit that has taken its mean so far is likely a
    long one, so it has more than nothing left, and one half done has more than
    half left. Without a spread (cv 0) it is the plain mean minus the elapsed time.
    """
    if cv <= 0 or elapsed <= 0 or mean <= 0:
        return max(0.0, mean - max(elapsed, 0.0))
    sigma = math.sqrt(math.log(1 + cv * cv))
    location = math.log(mean) - sigma * sigma / 2
    # Bounded so that both tails below stay representable for absurd overruns.
    z = min((math.log(elapsed) - location) / sigma, 30.0)
    surviving = math.erfc(z / math.sqrt(2))
    beyond = math.erfc((z - sigma) / math.sqrt(2))
    return max(0.0, mean * beyond / surviving - elapsed)


def forecast(live: LiveState, site_id: str, services: dict[int, ServiceQueue],
             policy: RoutingPolicy, now: float, outlook: Outlook | None = None) -> Forecast:
    """Replay the coming calls of a site with the live routing script; see the module doc.

    `services` gives each active service's target and (learned) mean handling
    time; `outlook` who else is expected (none: only those waiting now).
    """
    outlook = outlook or Outlook()
    scratch = f"forecast-{uuid.uuid4().hex}"
    try:
        desks, waiting = _copy_live_state(live, site_id, scratch, services, outlook, now)
        called, spreads = _replay(live, scratch, desks, waiting, services, policy, outlook,
                                  now)
    finally:
        live.flush_site(scratch)
    # The replay gives means; a visitor is told the median (none without a spread).
    middle = {step: median_seconds(seconds, spreads.get(step, 0.0))
              for step, seconds in called.items()}
    return Forecast(
        steps={step: seconds for step, seconds in middle.items() if step < NEWCOMER_BASE},
        newcomers={step - NEWCOMER_BASE: seconds for step, seconds in middle.items()
                   if NEWCOMER_BASE <= step < EXPECTED_BASE},
        spreads={step: spread for step, spread in spreads.items() if step < NEWCOMER_BASE})


@dataclass
class _Desk:
    duty: Duty
    free_at: float
    # What the desk serves now, for the referral that may follow it: (service, visit).
    serving: tuple[int, "_Visit"] | None = None
    # The variance of when it will be free, from the handling times before (seconds²).
    variance: float = 0.0


@dataclass(frozen=True)
class _Visit:
    # What a referral onward keeps of its visit.
    arrived_at: float
    language: str
    priority: bool


def _parse(member: bytes | str, score: float) -> tuple[int, _Visit]:
    text = member.decode() if isinstance(member, bytes) else member
    step_id, language, flags, _due = text.split("|")
    return int(step_id), _Visit(score, language, "p" in flags)


def _copy_live_state(live: LiveState, site_id: str, scratch: str,
                     services: dict[int, ServiceQueue], outlook: Outlook,
                     now: float) -> tuple[dict[int, _Desk], dict[int, tuple[int, _Visit]]]:
    """Copy queues and duties to the scratch site; each desk's duty and free time, and
    each waiting step's service and visit."""
    pipeline = live.redis.pipeline(transaction=False)
    for service_id in services:
        pipeline.zrange(queue_key(site_id, service_id), 0, -1, withscores=True)
    pipeline.hgetall(counters_key(site_id))
    *queues, duties = pipeline.execute()
    waiting: dict[int, tuple[int, _Visit]] = {}
    for service_id, members in zip(services, queues, strict=True):
        if members:
            live.redis.zadd(queue_key(scratch, service_id), dict(members))
            for member, score in members:
                step_id, visit = _parse(member, score)
                waiting[step_id] = (service_id, visit)
        # A newcomer joins behind everyone: arriving a moment from now.
        live.enqueue(scratch, QueuedStep(NEWCOMER_BASE + service_id, service_id, now + 0.001,
                                         NEWCOMER_LANGUAGE))
    desks = {}
    for counter_id, raw in duties.items():
        duty = json.loads(raw)
        if duty.get("state") not in ("open", "busy"):
            continue  # paused desks are not counted on
        service_ids = tuple(int(s) for s in duty.get("services") or [] if int(s) in services)
        languages = tuple(duty.get("languages") or [])
        desk = _Desk(Duty(service_ids, languages), now)
        if duty["state"] == "busy":
            desk.free_at = max(now, float(duty.get("free_at") or now))
            current = outlook.busy.get(int(duty["step"])) if duty.get("step") else None
            if current is not None and current.service_id in services:
                mean = services[current.service_id].mean_handling_seconds
                desk.free_at = now + remaining_handling_seconds(
                    mean, outlook.handling_cv, now - current.started_at)
                desk.variance = (outlook.handling_cv * (desk.free_at - now)) ** 2
                desk.serving = (current.service_id, _Visit(current.arrived_at, current.language,
                                                           current.priority))
        desks[int(counter_id)] = desk
        live.set_duty(scratch, int(counter_id), Duty(service_ids, languages, step_id=0,
                                                     free_at=desk.free_at))
    return desks, waiting


def _replay(live: LiveState, scratch: str, desks: dict[int, _Desk],
            waiting: dict[int, tuple[int, _Visit]], services: dict[int, ServiceQueue],
            policy: RoutingPolicy, outlook: Outlook,
            now: float) -> tuple[dict[int, float], dict[int, float]]:
    """Let each desk call when it is next free, until every step waiting now (and each
    newcomer) is called or nobody left is one a desk will call.

    Expected steps join their queues when their time comes; a desk with nothing
    to call waits for the next one of its services. Each step called brings its
    expected referrals, joining when its handling ends.
    """
    served = {service for desk in desks.values() for service in desk.duty.service_ids}
    # Only steps of a service some desk on duty serves will be called.
    pending = {step for step, (service, _visit) in waiting.items() if service in served}
    pending |= {NEWCOMER_BASE + service for service in served}
    visits = {step: visit for step, (_service, visit) in waiting.items()}
    called: dict[int, float] = {}
    spreads: dict[int, float] = {}
    # Expected steps per service, by joining time: (at, id, queued step).
    coming: dict[int, list] = {service: [] for service in services}
    # The newcomers are alternatives (one visitor joining one service, for the
    # displays), not visitors who will all come: they take no desk's time, so
    # that they delay nobody (eleven of them, boosted by urgency at a small
    # centre, pushed real visitors back by whole visits).
    weights: dict[int, float] = {NEWCOMER_BASE + service: 0.0 for service in services}
    next_id = EXPECTED_BASE

    def expect(at: float, service_id: int, visit: _Visit, weight: float,
               due: float = 0.0) -> None:
        nonlocal next_id
        if service_id not in served or weight < MIN_WEIGHT:
            return
        next_id += 1
        weights[next_id] = weight
        visits[next_id] = visit
        heapq.heappush(coming[service_id], (at, next_id, QueuedStep(
            next_id, service_id, visit.arrived_at, visit.language, visit.priority,
            appointment_due=due)))

    def refer(at: float, service_id: int, visit: _Visit, weight: float) -> None:
        for onward, chance in outlook.referrals.get(service_id, {}).items():
            expect(at, onward, visit, weight * chance)

    for joining in outlook.joinings:
        expect(joining.at, joining.service_id,
               _Visit(joining.arrived_at, joining.language, False),
               joining.weight, joining.appointment_due)
    for desk in desks.values():
        if desk.serving is not None:
            refer(desk.free_at, *desk.serving, 1.0)

    free = [(desk.free_at, counter_id) for counter_id, desk in desks.items()]
    heapq.heapify(free)
    for _call in range(MAX_FORECAST_CALLS):
        if not free or not pending:
            break
        moment, counter_id = heapq.heappop(free)
        for queue in coming.values():
            while queue and queue[0][0] <= moment:
                live.enqueue(scratch, heapq.heappop(queue)[2])
        duty = desks[counter_id].duty
        live.set_duty(scratch, counter_id, duty)  # free now
        result = live.call_next(scratch, counter_id, [services[s] for s in duty.service_ids],
                                policy, moment)
        if result.status == "called":
            step_id = result.step_id
            if step_id in pending:
                pending.discard(step_id)
                called[step_id] = moment - now
                spreads[step_id] = math.sqrt(desks[counter_id].variance)
            weight = weights.get(step_id, 1.0)
            mean = services[result.service_id].mean_handling_seconds
            handling = weight * mean
            # A fraction of a visitor: whether they come, and how long they take.
            desks[counter_id].variance += (weight * mean * mean * (1 + outlook.handling_cv ** 2)
                                           - handling * handling)
            if step_id in visits:
                refer(moment + mean, result.service_id, visits[step_id], weight)
            live.set_duty(scratch, counter_id, Duty(duty.service_ids, duty.languages,
                                                    step_id=step_id,
                                                    free_at=moment + handling))
            heapq.heappush(free, (moment + handling, counter_id))
        elif result.held:
            # Steps wait briefly for a colleague; this desk looks again, as a live desk would.
            heapq.heappush(free, (moment + max(result.retry_after or 60, 10), counter_id))
        else:
            # Nothing to call: the desk waits for the next expected step it serves.
            later = [coming[s][0][0] for s in duty.service_ids if coming[s]]
            if later:
                desks[counter_id].variance = 0.0  # idle until then: no doubt left
                heapq.heappush(free, (max(moment, min(later)), counter_id))
    return called, spreads


def learned_from_history(engine, session: Session, site: Site, now: dt.datetime) -> dict | None:
    """A site's habits, handling spread and means from its past weeks; None without history.

    Read by the staffing plan's replay of the event log (planning.demand), which
    takes a while, so kept in Redis for HABITS_SECONDS: the past does not change
    during the day.
    """
    today = service_day(now, site.timezone)
    cache_key = f"{site_prefix(site.id)}forecast-habits:{today.isoformat()}"
    cached = engine.live.redis.get(cache_key)
    if cached is not None:
        data = json.loads(cached)
        return data or None
    from tessera.planning.demand import demand_from_history

    demands = demand_from_history(session, site.id, today - dt.timedelta(days=HISTORY_DAYS),
                                  today - dt.timedelta(days=1))
    demand = next((day for day in demands if day.weekday == today.weekday()), None)
    data = {}
    if demand is not None:
        ids = {name: spec.service_id for name, spec in demand.scenario.services.items()}
        data = {
            "habits": habits_to_json(habits_from_demand(demand)),
            "cv": demand.scenario.handling_cv,
            # Per service and local hour: the hour's own mean where it had enough visits.
            "means": {str(ids[name]): {str(demand.opens_at + hour): cell.mean_handling_minutes
                                       for (cell_name, hour), cell in demand.cells.items()
                                       if cell_name == name}
                      for name in ids},
        }
    engine.live.redis.set(cache_key, json.dumps(data), ex=HABITS_SECONDS)
    return data or None


def site_outlook(engine, session: Session, site: Site, now: dt.datetime,
                 learned: dict | None) -> Outlook:
    """What the live forecast expects beyond the queues: see Outlook.

    The busy desks' steps always (from SQL); with history, the walk-ins and
    referrals of the site's habits, today's bookings not yet checked in, and the
    spread of handling times. Without history: no one new, no spread, the
    forecast as it was.
    """
    busy = {}
    for step_id, service_id, started, called, arrived, language, needs in session.execute(
            select(Step.id, Step.service_id, Step.started_at, Step.called_at,
                   Ticket.arrived_at, Ticket.language, Ticket.needs)
            .join(Step.ticket)
            .where(Ticket.site_id == site.id,
                   Step.state.in_((StepState.CALLED, StepState.SERVING)))):
        began = started or called
        if began is not None:
            busy[step_id] = BusyStep(service_id, epoch(began), epoch(arrived), language,
                                     "priority" in (needs or ()))
    if learned is None:
        return Outlook(busy=busy)
    habits = habits_from_json(learned["habits"])
    midnight = start_of_day(now, site.timezone)
    late = dt.timedelta(minutes=CheckInWindow().late_minutes)
    bookings = [Booking(service_id, epoch(start), language)
                for service_id, start, language in session.execute(
                    select(Appointment.service_id, Appointment.start, Appointment.language)
                    .where(Appointment.site_id == site.id,
                           Appointment.state == AppointmentState.BOOKED,
                           Appointment.start >= midnight,
                           Appointment.start < midnight + dt.timedelta(days=1),
                           Appointment.start + late > now))]
    return Outlook(joinings=expected_joinings(habits, epoch(now), bookings),
                   referrals=habits.referrals, busy=busy, handling_cv=learned["cv"])


def site_forecast(engine, site_id: str, must_include: int | None = None) -> Forecast:
    """The site's current forecast, shared by every page for a few seconds.

    Recomputed when older than FORECAST_SECONDS, or when it does not know
    `must_include` (a step that joined after it was made).
    """
    cache_key = f"{site_prefix(site_id)}forecast"
    cached = engine.live.redis.get(cache_key)
    if cached is not None:
        data = json.loads(cached)
        known = Forecast({int(k): v for k, v in data["steps"].items()},
                         {int(k): v for k, v in data["newcomers"].items()})
        if must_include is None or must_include in known.steps:
            return known
    now = engine.clock()
    with engine.database.session() as session:
        site = session.get(Site, site_id)
        services = session.scalars(select(Service).where(Service.site_id == site_id,
                                                         Service.active)).all()
        learned = learned_from_history(engine, session, site, now)
        hour = str(local_time(now, site.timezone).hour)
        history = ({service.id: learned["means"].get(str(service.id), {}).get(hour)
                    for service in services} if learned else {})
        means = learned_handling_minutes(session, services, start_of_day(now, site.timezone),
                                         history)
        outlook = site_outlook(engine, session, site, now, learned)
    queues = {service.id: ServiceQueue(service.id, service.target_wait_minutes * 60.0,
                                       means[service.id] * 60.0) for service in services}
    fresh = forecast(engine.live, site_id, queues, engine.policy, epoch(now), outlook)
    engine.live.redis.set(cache_key, json.dumps({"steps": fresh.steps,
                                                 "newcomers": fresh.newcomers}),
                          ex=FORECAST_SECONDS)
    return fresh
