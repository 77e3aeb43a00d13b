"""Managers' live figures: today's come from the event log, never from counters kept aside."""

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from tessera.appointments.checkin import CheckInWindow
from tessera.clock import epoch, start_of_day
from tessera.models import Counter, Event, Service, Step, StepState
from tessera.planning.forecast import site_forecast
from tessera.queue.engine import QueueEngine
from tessera.sites.catalogue import get_site, translated
from tessera.status.appointments import appointments_today

# The events that end a step the desk served.
SERVED_EVENTS = ("finished", "referred")


def live_stats(engine: QueueEngine, site_id: str,
               window: CheckInWindow | None = None) -> dict:
    """Per service: waiting, longest current wait, estimate, today's mean wait and service level.

    Per counter: whether it is closed, paused, idle or serving, who is on duty, and
    what it serves. Per service taking appointments: today's booked, checked in,
    missed and cancelled (`window` tells when a booked one counts as missed).
    """
    now = engine.clock()
    expected = site_forecast(engine, site_id)
    with engine.database.session() as session:
        site = get_site(session, site_id)
        language = site.language
        services = session.scalars(
            select(Service).where(Service.site_id == site_id, Service.active)
            .options(selectinload(Service.texts), selectinload(Service.site))
            .order_by(Service.position)).all()
        # A wait ends at the first call. A visitor is served when the desk ends their
        # step by finishing it or by referring them on (they were at the desk either
        # way); a no-show was called, not served.
        waits_today, served_today = defaultdict(list), defaultdict(int)
        for service_id, kind, data in session.execute(
                select(Step.service_id, Event.kind, Event.data)
                .join(Step, Step.id == Event.step_id)
                .where(Event.site_id == site_id,
                       Event.kind.in_(("called", *SERVED_EVENTS)),
                       Event.at >= start_of_day(now, site.timezone))):
            if kind == "called":
                waits_today[service_id].append(data["waited_seconds"] / 60)
            else:
                served_today[service_id] += 1
        counters = session.scalars(
            select(Counter).where(Counter.site_id == site_id, Counter.active)
            .options(selectinload(Counter.staff), selectinload(Counter.services)
                     .selectinload(Service.texts)).order_by(Counter.id)).all()
        active_steps = {step.counter_id: step for step in session.scalars(
            select(Step).where(Step.counter_id.in_([c.id for c in counters]),
                               Step.state.in_((StepState.CALLED, StepState.SERVING)))
            .options(selectinload(Step.ticket)))}
        service_rows = []
        for service in services:
            waiting = engine.live.waiting(site_id, service.id)
            longest = (epoch(now) - min(arrival for _, arrival in waiting)) / 60 if waiting else 0
            today = waits_today.get(service.id, [])
            target = service.target_wait_minutes
            service_rows.append({
                "service_id": service.id, "name": service.text(language).name,
                "prefix": service.prefix, "target_wait_minutes": target,
                "waiting": len(waiting), "longest_wait_minutes": round(longest, 1),
                "estimated_wait_minutes": expected.newcomer_minutes(service.id),
                "served_today": served_today[service.id],
                "mean_wait_today_minutes": round(sum(today) / len(today), 1) if today else None,
                "within_target_today": (round(sum(w <= target for w in today) / len(today), 3)
                                        if today else None),
                "over_target": longest > target,
            })
        counter_rows = []
        for counter in counters:
            step = active_steps.get(counter.id)
            state = counter.status.value
            if state == "open":
                state = "serving" if step is not None else "idle"
            counter_rows.append({
                "id": counter.id, "key": counter.key,
                "name": translated(counter.name, language, site), "state": state,
                "staff": counter.staff.display_name if counter.staff else None,
                "services": [s.text(language).name for s in counter.services
                             if s.id in counter.duty_service_ids],
                "languages": list(counter.duty_languages),
                "ticket": step.ticket.number if step else None,
            })
        appointments = appointments_today(session, site_id, language, now,
                                          window or CheckInWindow())
    return {"site": site_id, "at": now.isoformat() + "Z", "services": service_rows,
            "counters": counter_rows, "printers": engine.live.printer_statuses(site_id),
            "appointments": appointments}
