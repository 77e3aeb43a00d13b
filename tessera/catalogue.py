"""What visitors see of a site, in their language: its services and its tickets."""

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from tessera.clock import local_time
from tessera.engine import QueueEngine, queued_step
from tessera.errors import InvalidInput, NotFound
from tessera.estimates import site_forecast
from tessera.i18n import direction, language_name
from tessera.models import Category, Service, Site, Step, StepState, Ticket


def translated(texts: dict, language: str, site: Site) -> str:
    """A text in `language`, else in the site language."""
    return texts.get(language) or texts[site.language]


def get_site(session: Session, site_id: str) -> Site:
    """A site, or NotFound."""
    site = session.get(Site, site_id)
    if site is None:
        raise NotFound(_("There is no site '%(site)s'.", site=site_id))
    return site


def check_language(site: Site, language: str) -> str:
    """`language` if the site offers it, else a clear refusal."""
    if language not in site.languages:
        raise InvalidInput(_("Language '%(language)s' is not offered at this site. "
                             "Offered: %(offered)s.", language=language,
                             offered=", ".join(site.languages)), "unknown_language")
    return language


def site_languages(site: Site) -> list[dict]:
    """The site's languages, each named in its own script, with its writing direction."""
    return [{"code": code, "name": language_name(code), "direction": direction(code),
             "checked": code not in site.unchecked_translations} for code in site.languages]


def service_entry(service: Service, language: str) -> dict:
    """One service as a visitor reads it."""
    text = service.text(language)
    return {"id": service.id, "key": service.key, "prefix": service.prefix, "name": text.name,
            "description": text.description, "what_to_bring": text.what_to_bring,
            "walk_in": service.walk_in, "by_appointment": service.by_appointment,
            "target_wait_minutes": service.target_wait_minutes,
            "organisation": translated(service.organisation.name, language, service.site)}


def catalogue(session: Session, site_id: str, language: str) -> dict:
    """The site's services grouped by category, in `language`."""
    site = get_site(session, site_id)
    check_language(site, language)
    services = session.scalars(
        select(Service).where(Service.site_id == site_id, Service.active)
        .options(selectinload(Service.texts), selectinload(Service.organisation))
        .order_by(Service.position)).all()
    categories = session.scalars(select(Category).where(Category.site_id == site_id)
                                 .order_by(Category.position)).all()
    grouped = []
    for category in categories:
        members = [service_entry(s, language) for s in services if s.category_id == category.id]
        if members:
            grouped.append({"key": category.key, "icon": category.icon,
                            "name": translated(category.name, language, site),
                            "parent": next((c.key for c in categories
                                            if c.id == category.parent_id), None),
                            "services": members})
    uncategorised = [service_entry(s, language) for s in services if s.category_id is None]
    if uncategorised:
        grouped.append({"key": "other", "icon": "info", "name": None, "parent": None,
                        "services": uncategorised})
    return {"site": {"id": site.id, "name": translated(site.name, language, site),
                     "language": site.language},
            "language": language, "direction": direction(language),
            "languages": site_languages(site), "categories": grouped}


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
