"""Rebuild the live state in Redis from SQL, the system of record (invariant 4)."""

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from tessera.clock import service_day, utc_now
from tessera.database import Database
from tessera.models import Counter, Site, Step, StepState, Ticket
from tessera.printing.jobs import restore_printing
from tessera.queue.base import counter_duty, queued_step
from tessera.queue.live import LiveState


def reconcile(database: Database, live: LiveState, site_id: str | None = None,
              now: dt.datetime | None = None) -> dict:
    """Flush each site's live keys and rebuild its queues, counter duties and printing.

    A waiting step transferred to a desk (`reserved_counter_id`) goes back into that
    desk's reserved set rather than its service queue (`queued_step` says where).

    Ticket numbering needs no rebuilding: when its counter is missing, the
    engine continues from the highest number SQL holds for the day. Returns
    how many waiting steps, counters on duty and resumed print jobs each site has.
    """
    now = now or utc_now()
    summary = {}
    with database.session() as session:
        sites = session.scalars(select(Site).where(Site.id == site_id) if site_id
                                else select(Site)).all()
        for row in sites:
            site = row.id
            # Only today's steps queue: an earlier day's leftovers wait for close-day.
            waiting = session.scalars(
                select(Step).join(Step.ticket).options(selectinload(Step.ticket))
                .where(Step.state == StepState.WAITING, Ticket.site_id == site,
                       Ticket.service_day == service_day(now, row.timezone))).all()
            counters = session.scalars(
                select(Counter).where(Counter.site_id == site, Counter.active)).all()
            duties = {counter.id: counter_duty(session, counter) for counter in counters}
            live.flush_site(site)
            for step in waiting:
                live.enqueue(site, queued_step(step))
            on_duty = 0
            for counter_id, duty in duties.items():
                if duty is not None:
                    live.set_duty(site, counter_id, duty)
                    on_duty += 1
            summary[site] = {"waiting": len(waiting), "counters_on_duty": on_duty}
    for site, counts in summary.items():
        counts["print_jobs"] = restore_printing(database, live, site, now)
    return summary
