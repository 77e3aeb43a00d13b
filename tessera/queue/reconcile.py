"""Bring the live state in Redis back in line with SQL, the system of record (invariant 4).

`repair` never flushes: it adds what Redis lacks, drops what SQL has ended and keeps
the scores of what is there, so it is safe while desks call (the web runs it when it
finds Redis lost or stale, the scheduler every few seconds, `reconcile` on release).
"""

import datetime as dt
import logging

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from tessera.clock import service_day, utc_now
from tessera.database import Database
from tessera.models import Counter, CounterStatus, Site, Step, StepState, Ticket
from tessera.printing.jobs import restore_printing
from tessera.queue.base import counter_duty, queued_step
from tessera.queue.live import LiveState, counters_key, site_prefix

logger = logging.getLogger(__name__)


def _live_members(live: LiveState, site_id: str) -> dict[str, set[str]]:
    """Every queue and reserved set of a site in Redis: key -> members."""
    members = {}
    for pattern in ("queue:*", "reserved:*"):
        for key in live.redis.scan_iter(match=f"{site_prefix(site_id)}{pattern}", count=500):
            key = key.decode()
            members[key] = {member.decode() for member in live.redis.zrange(key, 0, -1)}
    return members


def _waiting_ids(database: Database, step_ids: set[int]) -> set[int]:
    """Which of these steps SQL holds as waiting now (a fresh read, not a snapshot)."""
    if not step_ids:
        return set()
    with database.session() as session:
        return set(session.scalars(select(Step.id).where(Step.id.in_(step_ids),
                                                         Step.state == StepState.WAITING)))


def repair_site(database: Database, live: LiveState, site: Site, now: dt.datetime) -> dict:
    """Repair one site's queues and counter duties without flushing; returns counts.

    Redis is read before SQL: a step is committed before it is queued, so a member
    Redis holds is one SQL already knows, and a step a desk claims meanwhile was in
    Redis when read, so it is not added back. What is added is checked against SQL
    again afterwards and taken out if a desk called it in between.
    """
    before = _live_members(live, site.id)
    duties_before = {int(k) for k in live.redis.hkeys(counters_key(site.id))}
    with database.session() as session:
        # Only today's steps queue: an earlier day's leftovers wait for close-day.
        waiting = session.scalars(
            select(Step).join(Step.ticket).options(selectinload(Step.ticket))
            .where(Step.state == StepState.WAITING, Ticket.site_id == site.id,
                   Ticket.service_day == service_day(now, site.timezone))).all()
        wanted = {}
        for step in waiting:
            queued = queued_step(step)
            wanted.setdefault(queued.key(site.id), {})[queued.member] = queued
        counters = session.scalars(
            select(Counter).where(Counter.site_id == site.id, Counter.active)).all()
        duties = {}
        for counter in counters:
            if counter.status == CounterStatus.CLOSED:
                duties[counter.id] = None
            elif counter.id not in duties_before:
                # A duty Redis still holds is the call script's own (it marks desks
                # busy); only a missing one is rebuilt.
                duties[counter.id] = counter_duty(session, counter)
    added = []
    for key, members in wanted.items():
        for member, queued in members.items():
            if member not in before.get(key, set()):
                # NX: a member that appeared meanwhile keeps its score.
                live.redis.zadd(key, {member: queued.arrived_at}, nx=True)
                added.append((key, member))
    # What Redis holds and SQL no longer has waiting (ended while Redis missed it).
    stale = [(key, member) for key, members in before.items() for member in members
             if member not in wanted.get(key, {})]
    ids = {int(member.split("|", 1)[0]) for _key, member in stale + added}
    still_waiting = _waiting_ids(database, ids)
    # A step SQL has waiting elsewhere (moved to a desk's reserved steps, say) leaves
    # its old entry behind too: one place per step.
    placed = {queued.step_id for members in wanted.values() for queued in members.values()}
    dropped = 0
    for key, member in stale:
        step_id = int(member.split("|", 1)[0])
        if step_id not in still_waiting or step_id in placed:
            dropped += live.redis.zrem(key, member)
    for key, member in added:
        if int(member.split("|", 1)[0]) not in still_waiting:
            live.redis.zrem(key, member)  # a desk called it while we were adding it
    for counter_id, duty in duties.items():
        if duty is None:
            live.set_duty(site.id, counter_id, None)
        else:
            live.redis.hsetnx(counters_key(site.id), str(counter_id), duty.as_json())
    # A duty for a desk SQL does not know (or no longer active) is a leftover.
    for counter_id in duties_before - {counter.id for counter in counters}:
        live.set_duty(site.id, counter_id, None)
    on_duty = sum(1 for counter in counters if counter.status != CounterStatus.CLOSED)
    live.mark_generation(site.id)
    if added or dropped:
        logger.info("Repaired site %s: %d steps added, %d dropped", site.id, len(added),
                    dropped)
    return {"waiting": len(waiting), "counters_on_duty": on_duty}


def repair(database: Database, live: LiveState, site_id: str | None = None,
           now: dt.datetime | None = None) -> dict:
    """Repair each site's live state from SQL without flushing, and resume its printing.

    Returns per site how many steps wait, how many counters are on duty and how many
    print jobs were enqueued again. Safe at any time.
    """
    now = now or utc_now()
    with database.session() as session:
        sites = session.scalars(select(Site).where(Site.id == site_id) if site_id
                                else select(Site)).all()
        session.expunge_all()
    summary = {}
    for site in sites:
        summary[site.id] = repair_site(database, live, site, now)
        summary[site.id]["print_jobs"] = restore_printing(database, live, site.id, now)
    return summary


def reconcile(database: Database, live: LiveState, site_id: str | None = None,
              now: dt.datetime | None = None) -> dict:
    """The `reconcile` command and `up`: the non-flushing repair, safe while the web runs.

    Ticket numbering needs no rebuilding: when its counter is missing, the engine
    continues from the highest number SQL holds for the day.
    """
    return repair(database, live, site_id, now)


def heal_if_stale(database: Database, live: LiveState, site_id: str,
                  now: dt.datetime | None = None) -> bool:
    """Repair a site when Redis was lost (restart, flush) or a write to it failed.

    Cheap when all is well (one read of the generation marker). Returns whether it
    repaired. A Redis that does not answer is left to the next caller.
    """
    try:
        if live.generation_current(site_id):
            return False
        repair(database, live, site_id, now)
        return True
    except Exception:  # Redis still away: the request goes on, the scheduler retries
        logger.warning("Could not repair the live state of site %s", site_id, exc_info=True)
        return False
