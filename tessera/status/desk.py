"""What a counter's staff see: the ticket at the desk and the queue behind it. No names."""

import math

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from tessera.clock import epoch
from tessera.errors import NotFound
from tessera.models import Counter, Service, Step, StepState, Ticket
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
    """A called or served step, with its visit's journey so far and the referral note."""
    ticket = step.ticket
    site = step.service.site
    return {
        "ticket": {"number": ticket.number, "language": ticket.language,
                   "needs": list(ticket.needs),
                   "journey": [{"service": s.service.text(language).name, "state": s.state.value}
                               for s in ticket.steps]},
        "step": {"id": step.id, "state": step.state.value, "service_id": step.service_id,
                 "service": step.service.text(language).name, "note": step.note,
                 "recall_count": step.recall_count,
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
        tickets = {step.id: step.ticket for step in session.scalars(
            select(Step).where(Step.id.in_(waiting_ids)).options(selectinload(Step.ticket)))}
        view = {
            "counter": {"id": counter.id, "key": counter.key,
                        "name": translated(counter.name, language, site),
                        "status": counter.status.value,
                        "services": [{"id": s.id, "name": s.text(language).name,
                                      "on_duty": s.id in counter.duty_service_ids}
                                     for s in served],
                        "languages": list(counter.duty_languages)},
            "current": step_view(current, language, now) if current else None,
            "waiting": [
                {"number": tickets[step_id].number, "service": service.text(language).name,
                 "language": tickets[step_id].language, "needs": list(tickets[step_id].needs),
                 "waited_minutes": math.floor((now - arrival) / 60)}
                for step_id, (service, arrival) in sorted(waiting_ids.items(),
                                                          key=lambda item: item[1][1])
                if step_id in tickets],
        }
    return view
