"""Closing a service day: nothing carries over to tomorrow.

At each site's closing time (and, as a safety, once the next service day has
begun) every step of the day still planned, waiting or called ends as
`expired`, with an event, and every desk closes and no longer names its staff.
A desk still serving a visitor at closing time is left to finish; the next run
closes it. Once a day is wholly closed, the site remembers it (`closed_through`),
so staff who reopen a desk after hours are not closed again.
"""

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from tessera.clock import service_day
from tessera.events import record_event
from tessera.models import Counter, CounterStatus, Site, Step, StepState, Ticket
from tessera.queue.base import EngineBase, queued_step
from tessera.sites.hours import OpeningHours

OPEN_STATES = (StepState.PLANNED, StepState.WAITING, StepState.CALLED)


class Closing(EngineBase):
    """The engine's part that ends service days."""

    def close_day(self, site_id: str, day: dt.date | None = None, *,
                  final: bool = False) -> dict:
        """End service day `day` (default: today's) at a site, and any earlier day left open.

        Steps planned, waiting or called expire; `final` (the day is over, or an
        operator closes it by hand) expires steps being served too, so that every
        desk closes. Returns how many steps expired and desks closed, and whether
        the day is now wholly closed.
        """
        now = self.clock()
        with self.database.session() as session:
            site = session.get(Site, site_id, with_for_update=True)
            day = day or service_day(now, site.timezone)
            states = (*OPEN_STATES, StepState.SERVING) if final else OPEN_STATES
            steps = session.scalars(
                select(Step).join(Step.ticket)
                .where(Ticket.site_id == site_id, Ticket.service_day <= day,
                       Step.state.in_(states))
                .options(selectinload(Step.ticket))
                .order_by(Step.id).with_for_update(of=Step)).all()
            expired = []
            for step in steps:
                was_waiting = step.state == StepState.WAITING
                self._change(session, step, (step.state,), StepState.EXPIRED, now, "expired",
                             values={"ended_at": now}, data={"day": day.isoformat()})
                expired.append((step, was_waiting))
            closed = self._close_desks(session, site_id, now)
            if expired:
                self._settle_retirements(session, site_id)
            busy = session.scalar(
                select(Step.id).join(Step.ticket)
                .where(Ticket.site_id == site_id, Ticket.service_day <= day,
                       Step.state.in_((*OPEN_STATES, StepState.SERVING))).limit(1))
            done = busy is None and not session.scalar(
                select(Counter.id).where(Counter.site_id == site_id,
                                         Counter.status != CounterStatus.CLOSED).limit(1))
            if done and (site.closed_through is None or site.closed_through < day):
                site.closed_through = day
                record_event(session, site_id, "day_closed", now, day=day.isoformat(),
                             expired=len(expired))
        for step, was_waiting in expired:
            if was_waiting:
                self.live.remove(site_id, queued_step(step))
            self._ticket_changed(step.ticket)
        for counter_id in closed:
            self._duty_changed(site_id, counter_id, None)
        if expired:
            self._queue_changed(site_id)
        return {"site": site_id, "day": day.isoformat(), "expired": len(expired),
                "desks_closed": len(closed), "closed": done}

    def close_ended_days(self) -> list[dict]:
        """Close, at every site, each service day whose closing time has passed.

        Idempotent and cheap when there is nothing to do, so a scheduler can
        run it every minute; a day before today is closed for good (`final`).
        """
        now = self.clock()
        with self.database.session() as session:
            sites = session.scalars(select(Site)).all()
            earliest = dict(session.execute(
                select(Ticket.site_id, func.min(Ticket.service_day)).join(Ticket.steps)
                .where(Step.state.in_((*OPEN_STATES, StepState.SERVING)))
                .group_by(Ticket.site_id)).all())
        results = []
        for site in sites:
            hours, today = OpeningHours.of(site), service_day(now, site.timezone)
            # Days up to closed_through are done; steps left from one of them (rare) are
            # swept up by the next close, which takes every day up to its own.
            day = (site.closed_through + dt.timedelta(days=1) if site.closed_through
                   else min(earliest.get(site.id, today), today))
            while day <= today:
                closing = hours.closing_time(day)
                if day < today or (closing is not None and now >= closing):
                    results.append(self.close_day(site.id, day, final=day < today))
                day += dt.timedelta(days=1)
        return results

    def _close_desks(self, session, site_id: str, now: dt.datetime) -> list[int]:
        """Close every desk of the site that holds no visitor; returns their ids."""
        closed = []
        counters = session.scalars(
            select(Counter).where(Counter.site_id == site_id,
                                  Counter.status != CounterStatus.CLOSED)
            .with_for_update()).all()
        for counter in counters:
            if self._active_step(session, counter.id) is not None:
                continue  # a visitor is still being served here
            record_event(session, site_id, "counter_closed", now, counter_id=counter.id,
                         staff_id=counter.staff_id, reason="day_closed")
            counter.status, counter.staff_id = CounterStatus.CLOSED, None
            closed.append(counter.id)
        return closed
