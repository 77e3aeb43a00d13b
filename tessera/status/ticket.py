"""What a visitor sees of their ticket: number, journey, place in the queue, wait, desk."""

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from tessera.clock import local_time
from tessera.errors import NotFound
from tessera.models import Service, Step, StepState, Ticket
from tessera.planning.forecast import site_forecast
from tessera.queue.base import queued_step
from tessera.queue.engine import QueueEngine
from tessera.sites.catalogue import service_entry, translated


def load_ticket(engine: QueueEngine, token: str) -> Ticket:
    """A ticket by token, with what its status page needs loaded."""
    with engine.database.session() as session:
        service = selectinload(Ticket.steps).selectinload(Step.service)
        ticket = session.scalars(
            select(Ticket).where(Ticket.token == token)
            .options(selectinload(Ticket.site),
                     service.selectinload(Service.texts),
                     service.selectinload(Service.organisation),
                     service.selectinload(Service.site),
                     selectinload(Ticket.steps).selectinload(Step.counter),
                     # The steps' way back to their ticket comes from the identity map.
                     selectinload(Ticket.steps).selectinload(Step.ticket))).first()
    if ticket is None:
        raise NotFound(_("There is no such ticket."))
    return ticket


def ticket_status(engine: QueueEngine, ticket: Ticket, language: str | None = None) -> dict:
    """A ticket as its holder sees it: number, journey, place in the queue, wait, desk."""
    site = ticket.site
    language = language or ticket.language
    current = ticket.current_step
    status = {
        "number": ticket.number, "state": ticket.state, "language": ticket.language,
        "needs": list(ticket.needs),
        "issued_at": local_time(ticket.issued_at, site.timezone).isoformat(),
        "site": {"id": site.id, "name": translated(site.name, language, site)},
        "journey": [{"service": service_entry(step.service, language),
                     "state": step.state.value} for step in ticket.steps],
        "position": None, "estimated_wait_minutes": None, "counter": None,
    }
    if current is not None and current.state == StepState.WAITING:
        status["position"] = engine.live.ahead_of(site.id, queued_step(current))
        status["estimated_wait_minutes"] = site_forecast(
            engine, site.id, must_include=current.id).step_minutes(current.id)
    if current is not None and current.counter is not None:
        status["counter"] = {"key": current.counter.key,
                             "name": translated(current.counter.name, language, site)}
    return status
