"""What a counter's staff see: the ticket at the desk and the queue behind it. No names."""

import datetime as dt
import math

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from tessera.clock import epoch
from tessera.errors import NotFound
from tessera.models import Counter, CounterStatus, Service, Step, StepState, Ticket
from tessera.queue.desk_actions import UNDO_WINDOW, undoable_ending
from tessera.queue.engine import QueueEngine
from tessera.sites.catalogue import translated


def _with_desk_details(query):
    """Load what a desk shows of a step: its ticket's journey, in the desk's language."""
    return query.options(selectinload(Step.ticket).selectinload(Ticket.steps)
                         .selectinload(Step.service).selectinload(Service.texts),
                         selectinload(Step.service).selectinload(Service.site))


def desk_step(engine: QueueEngine, step_id: int, language: str) -> dict:
    """The view of one step for its desk (after a call)."""
    with engine.database.session() as session:
        step = session.scalars(_with_desk_details(select(Step).where(Step.id == step_id))).one()
        return step_view(step, language, epoch(engine.clock()))


def step_view(step: Step, language: str, now_epoch: float) -> dict:
    """A called or served step, with its visit's journey so far and the referral note.

    `recalls_left` is how many recalls the site still allows (at 0 the next one
    would be a no-show); `later_services` how many planned services follow.
    """
    ticket = step.ticket
    site = step.service.site
    return {
        "ticket": {"number": ticket.number, "language": ticket.language,
                   "needs": list(ticket.needs),
                   "journey": [{"service": s.service.text(language).name,
                                "service_id": s.service_id, "state": s.state.value}
                               for s in ticket.steps]},
        "step": {"id": step.id, "state": step.state.value, "service_id": step.service_id,
                 "service": step.service.text(language).name, "note": step.note,
                 "recall_count": step.recall_count,
                 "recalls_left": max(0, site.recall_limit - step.recall_count),
                 "later_services": sum(1 for s in ticket.steps if s.position > step.position
                                       and s.state == StepState.PLANNED),
                 "waited_minutes": math.floor((now_epoch - epoch(ticket.arrived_at)) / 60)},
        "site": site.id,
    }


def counter_view(engine: QueueEngine, counter_id: int, language: str) -> dict:
    """A counter's duty, its current step, and the steps waiting for its services."""
    now = epoch(engine.clock())
    with engine.database.session() as session:
        counter = session.scalars(select(Counter).where(Counter.id == counter_id).options(
            selectinload(Counter.services).selectinload(Service.texts),
            selectinload(Counter.site))).first()
        if counter is None or not counter.active:
            raise NotFound(_("There is no counter %(counter)s.", counter=counter_id))
        site = counter.site
        current = session.scalars(_with_desk_details(
            select(Step).where(Step.counter_id == counter_id,
                               Step.state.in_((StepState.CALLED, StepState.SERVING))))).first()
        served = [s for s in counter.services if s.active]
        waiting_ids = {}
        for service in served:
            if service.id in counter.duty_service_ids or not counter.duty_service_ids:
                for member, arrival in engine.live.waiting(site.id, service.id):
                    waiting_ids[int(member.split("|", 1)[0])] = (service, arrival)
        # Steps transferred to this desk, whatever their service: only this desk may call them.
        reserved = {int(member.split("|", 1)[0]): arrival
                    for member, arrival in engine.live.reserved(site.id, counter.id)}
        steps = {step.id: step for step in session.scalars(
            select(Step).where(Step.id.in_([*waiting_ids, *reserved]))
            .options(selectinload(Step.ticket), selectinload(Step.service)
                     .selectinload(Service.texts)))}
        for step_id, arrival in reserved.items():
            if step_id in steps:
                waiting_ids[step_id] = (steps[step_id].service, arrival)
        tickets = {step_id: step.ticket for step_id, step in steps.items()}
        view = {
            "counter": {"id": counter.id, "key": counter.key,
                        "name": translated(counter.name, language, site),
                        "status": counter.status.value,
                        "services": [{"id": s.id, "name": s.text(language).name,
                                      "on_duty": s.id in counter.duty_service_ids}
                                     for s in served],
                        "languages": list(counter.duty_languages)},
            "current": step_view(current, language, now) if current else None,
            "undo": _undo_view(session, counter_id, engine.clock()),
            "transfer_targets": _transfer_targets(session, counter, current, language),
            "waiting": [
                {"step_id": step_id, "number": tickets[step_id].number,
                 "service": service.text(language).name,
                 "language": tickets[step_id].language, "needs": list(tickets[step_id].needs),
                 "reserved": step_id in reserved,
                 "waited_minutes": math.floor((now - arrival) / 60)}
                for step_id, (service, arrival) in sorted(waiting_ids.items(),
                                                          key=lambda item: item[1][1])
                if step_id in tickets],
        }
    return view


def _undo_view(session: Session, counter_id: int, now: dt.datetime) -> dict | None:
    """The finish or no-show this desk may still undo, and until when; None if none."""
    ending = undoable_ending(session, counter_id, now)
    if ending is None:
        return None
    return {"ticket": session.get(Ticket, ending.ticket_id).number, "action": ending.kind,
            "until": (ending.at + UNDO_WINDOW).isoformat() + "Z"}


def _transfer_targets(session: Session, counter: Counter, current: Step | None,
                      language: str) -> list[dict]:
    """The other desks on duty that serve the current step's service: where it may go."""
    if current is None:
        return []
    desks = session.scalars(select(Counter).where(
        Counter.site_id == counter.site_id, Counter.active, Counter.id != counter.id,
        Counter.status != CounterStatus.CLOSED).order_by(Counter.id)).all()
    return [{"id": desk.id, "name": translated(desk.name, language, counter.site)}
            for desk in desks if current.service_id in desk.duty_service_ids]
