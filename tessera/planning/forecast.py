"""Wait estimates: one forecast, shown everywhere (kiosk, mobile ticket, display, manager).

The forecast replays the coming calls through the live routing script itself
(tessera/queue/call_next.lua) on a scratch copy of a site's live state: each desk
on duty calls when it is next free, busy desks when their current visitor is
expected to leave, each service taking the mean handling time learned from
today's events (the site file's default until a few visits have been timed).
So it accounts for which desks are on duty, what they serve, in which
languages, and for priorities and holds, exactly as the calls will happen.
Nobody new arrives during the forecast, so it is what a visitor joining now
can expect. The naive estimate, people ahead x mean handling / desks, is kept
for comparison (BENCHMARKS.md).
"""

import datetime as dt
import heapq
import json
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from tessera.clock import epoch, start_of_day
from tessera.models import Service, Site, Step, StepState
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
# as the configured default.
PRIOR_VISITS = 3
# A forecast never runs longer than this many calls (a runaway guard, not a limit in practice).
MAX_FORECAST_CALLS = 5000
# A virtual newcomer per service, with an id no real step will have.
NEWCOMER_BASE = 10**12
# The newcomers' language is unknown ("und", BCP 47's undetermined): no desk gets a
# language boost for them and none holds them, so they queue behind everyone already
# waiting and do not push real visitors back (which a site-language newcomer, boosted
# at every desk, did: see BENCHMARKS.md).
NEWCOMER_LANGUAGE = "und"
# Pages share a forecast this long: a thousand phones must not replay the queue each.
FORECAST_SECONDS = 5


def naive_wait_minutes(people_ahead: int, mean_handling_minutes: float,
                       counters_serving: int) -> int | None:
    """People ahead x mean handling time / desks serving: the usual, routing-blind estimate."""
    if counters_serving <= 0:
        return None
    return math.ceil(people_ahead * mean_handling_minutes / counters_serving)


def blended_handling_minutes(timed_minutes: Sequence[float], default_minutes: float) -> float:
    """A service's mean handling time from today's timed visits and its configured default.

    With n visits timed today, the default weighs as PRIOR_VISITS visits, so the
    first visits of a day move the estimate gently and a full morning dominates it.
    Pure, so the live system and the estimates benchmark (bench/estimates.py)
    learn exactly alike.
    """
    return ((sum(timed_minutes) + PRIOR_VISITS * default_minutes)
            / (len(timed_minutes) + PRIOR_VISITS))


def learned_handling_minutes(session: Session, services: list[Service],
                             since: dt.datetime) -> dict[int, float]:
    """Each service's mean handling time: today's timed visits, blended with the default."""
    handled: dict[int, list[float]] = {service.id: [] for service in services}
    for service_id, started, ended in session.execute(
            select(Step.service_id, Step.started_at, Step.ended_at)
            .where(Step.service_id.in_(handled), Step.started_at >= since,
                   Step.ended_at.is_not(None),
                   Step.state.in_((StepState.DONE, StepState.REFERRED)))):
        handled[service_id].append((ended - started).total_seconds() / 60)
    return {service.id: blended_handling_minutes(handled[service.id],
                                                 service.mean_handling_minutes)
            for service in services}


@dataclass(frozen=True)
class Forecast:
    """Seconds from now until each waiting step, and a newcomer to each service, is called.

    A step or service missing from the forecast will not be called by the
    desks on duty now (none serves it): its estimate is unknown, not zero.
    """

    steps: dict[int, float]
    newcomers: dict[int, float]

    def step_minutes(self, step_id: int) -> int | None:
        """Minutes until a waiting step is called, rounded up; None if no desk will."""
        seconds = self.steps.get(step_id)
        return None if seconds is None else math.ceil(seconds / 60)

    def newcomer_minutes(self, service_id: int) -> int | None:
        """Minutes a visitor joining a service now would wait; None if no desk serves it."""
        seconds = self.newcomers.get(service_id)
        return None if seconds is None else math.ceil(seconds / 60)


def forecast(live: LiveState, site_id: str, services: dict[int, ServiceQueue],
             policy: RoutingPolicy, now: float) -> Forecast:
    """Replay the coming calls of a site with the live routing script; see the module doc.

    `services` gives each active service's target and (learned) mean handling
    time.
    """
    scratch = f"forecast-{uuid.uuid4().hex}"
    try:
        desks = _copy_live_state(live, site_id, scratch, services, now)
        called = _replay(live, scratch, desks, services, policy, now)
    finally:
        live.flush_site(scratch)
    return Forecast(
        steps={step: seconds for step, seconds in called.items() if step < NEWCOMER_BASE},
        newcomers={step - NEWCOMER_BASE: seconds for step, seconds in called.items()
                   if step >= NEWCOMER_BASE})


def _copy_live_state(live: LiveState, site_id: str, scratch: str,
                     services: dict[int, ServiceQueue],
                     now: float) -> dict[int, tuple[Duty, float]]:
    """Copy queues and duties to the scratch site; returns each desk's duty and free time."""
    pipeline = live.redis.pipeline(transaction=False)
    for service_id in services:
        pipeline.zrange(queue_key(site_id, service_id), 0, -1, withscores=True)
    pipeline.hgetall(counters_key(site_id))
    *queues, duties = pipeline.execute()
    for service_id, members in zip(services, queues, strict=True):
        if members:
            live.redis.zadd(queue_key(scratch, service_id), dict(members))
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
        free_at = max(now, float(duty.get("free_at") or now)) if duty["state"] == "busy" else now
        desks[int(counter_id)] = (Duty(service_ids, languages), free_at)
        live.set_duty(scratch, int(counter_id), Duty(service_ids, languages, step_id=0,
                                                     free_at=free_at))
    return desks


def _replay(live: LiveState, scratch: str, desks: dict[int, tuple[Duty, float]],
            services: dict[int, ServiceQueue], policy: RoutingPolicy,
            now: float) -> dict[int, float]:
    """Let each desk call when it is next free, until nobody is left that a desk will call."""
    called: dict[int, float] = {}
    free = [(free_at, counter_id) for counter_id, (_duty, free_at) in desks.items()]
    heapq.heapify(free)
    for _call in range(MAX_FORECAST_CALLS):
        if not free:
            break
        moment, counter_id = heapq.heappop(free)
        duty = desks[counter_id][0]
        live.set_duty(scratch, counter_id, duty)  # free now
        result = live.call_next(scratch, counter_id, [services[s] for s in duty.service_ids],
                                policy, moment)
        if result.status == "called":
            called[result.step_id] = moment - now
            handling = services[result.service_id].mean_handling_seconds
            live.set_duty(scratch, counter_id, Duty(duty.service_ids, duty.languages,
                                                    step_id=result.step_id,
                                                    free_at=moment + handling))
            heapq.heappush(free, (moment + handling, counter_id))
        elif result.held:
            # Steps wait briefly for a colleague; this desk looks again, as a live desk would.
            heapq.heappush(free, (moment + max(result.retry_after or 60, 10), counter_id))
    return called


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
        means = learned_handling_minutes(session, services,
                                         start_of_day(now, site.timezone))
    queues = {service.id: ServiceQueue(service.id, service.target_wait_minutes * 60.0,
                                       means[service.id] * 60.0) for service in services}
    fresh = forecast(engine.live, site_id, queues, engine.policy, epoch(now))
    engine.live.redis.set(cache_key, json.dumps({"steps": fresh.steps,
                                                 "newcomers": fresh.newcomers}),
                          ex=FORECAST_SECONDS)
    return fresh
