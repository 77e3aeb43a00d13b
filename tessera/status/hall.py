"""What the hall's call displays show: recent calls and waits per service. Numbers, never names."""

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from tessera.clock import local_time, service_day
from tessera.models import Counter, Event, Service, Ticket
from tessera.planning.forecast import site_forecast
from tessera.queue.engine import QueueEngine
from tessera.sites.catalogue import get_site

CALL_KINDS = ("called", "recalled")


def recent_calls(engine: QueueEngine, site_id: str, zone: str | None = None,
                 limit: int = 12) -> list[dict]:
    """Today's latest calls at a site (or one zone of it), newest first, from the event log.

    A display that reconnects reads these, so it shows the calls it missed.
    """
    with engine.database.session() as session:
        site = get_site(session, site_id)
        day = service_day(engine.clock(), site.timezone)
        midnight = local_time(engine.clock(), site.timezone).replace(
            hour=0, minute=0, second=0, microsecond=0)
        since = midnight.astimezone(dt.UTC).replace(tzinfo=None)
        query = (select(Event, Ticket, Counter)
                 .join(Ticket, Ticket.id == Event.ticket_id)
                 .join(Counter, Counter.id == Event.counter_id)
                 .where(Event.site_id == site_id, Event.kind.in_(CALL_KINDS),
                        Event.at >= since, Ticket.service_day == day)
                 .order_by(Event.at.desc(), Event.id.desc()).limit(limit))
        if zone:
            query = query.where(Counter.zone == zone)
        rows = session.execute(query).all()
    return [{"ticket": ticket.number, "language": ticket.language, "step_id": event.step_id,
             "counter": {"id": counter.id, "key": counter.key, "name": counter.name,
                         "zone": counter.zone},
             "recall": event.data.get("recall", 0), "at": event.at.isoformat() + "Z"}
            for event, ticket, counter in rows]


def service_waits(engine: QueueEngine, site_id: str, language: str) -> list[dict]:
    """Per active service: how many wait, and the estimated wait for someone joining now."""
    expected = site_forecast(engine, site_id)
    with engine.database.session() as session:
        services = session.scalars(
            select(Service).where(Service.site_id == site_id, Service.active)
            .options(selectinload(Service.texts), selectinload(Service.site))
            .order_by(Service.position)).all()
    waits = []
    for service in services:
        waiting = engine.live.waiting_count(site_id, service.id)
        waits.append({
            "service_id": service.id, "prefix": service.prefix,
            "name": service.text(language).name, "waiting": waiting,
            "estimated_wait_minutes": expected.newcomer_minutes(service.id),
        })
    return waits
