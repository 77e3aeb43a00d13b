"""Retiring a service or a desk safely: nobody who is waiting is stranded.

A service retires in two steps. It starts *retiring* (`Service.retiring`): from that
moment it is no longer issued at the kiosk or through the API, booked, checked in or
referred to, but desks go on calling and serving the visitors who hold a step of it.
When none of its steps is planned, waiting, called or being served (at once, or when
the last one ends: the engine calls `settle_retirements` after every step that ends),
it becomes inactive and its ticket letter is free again. A service with appointments
still booked (or held) is not retired: they are listed, to be moved or cancelled first.

A desk retires in one step, through the engine's close path: a ticket called there goes
back to waiting at its place (the visit's arrival time), steps transferred to it wait
for any desk again, and the desk becomes inactive. It is refused while a visitor is
being served there, and while it is the last desk serving a service whose visitors
still wait (they would be stranded): another desk must take that service first.

`engine` below is the queue engine (tessera.queue.engine.QueueEngine), untyped here: the
queue package depends on sites, not the other way round.
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping

from flask_babel import gettext as _
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from tessera.audit import record_audit
from tessera.clock import local_time
from tessera.errors import Conflict, Forbidden, NotFound
from tessera.models import (
    Appointment,
    AppointmentState,
    Counter,
    CounterStatus,
    Service,
    Staff,
    Step,
    StepState,
)
from tessera.sites.catalogue import translated
from tessera.staff.permissions import Action, may

# The steps that still need a desk: a planned one will wait when the step before it ends.
OPEN_STEP_STATES = (StepState.PLANNED, StepState.WAITING, StepState.CALLED, StepState.SERVING)
# How late a visitor may still check in for a booked slot (tessera.appointments.checkin).
DEFAULT_LATE_MINUTES = 15


def open_steps(session: Session, site_id: str) -> dict[int, int]:
    """How many steps of each service of the site still need a desk."""
    return dict(session.execute(
        select(Step.service_id, func.count()).join(Step.service)
        .where(Service.site_id == site_id, Step.state.in_(OPEN_STEP_STATES))
        .group_by(Step.service_id)).all())


def pending_appointments(session: Session, service: Service, now: dt.datetime,
                         late_minutes: int = DEFAULT_LATE_MINUTES) -> list[Appointment]:
    """The service's appointments that a visitor may still come to: booked ones whose
    check-in is not over, and holds not yet expired; earliest first."""
    return list(session.scalars(select(Appointment).where(
        Appointment.service_id == service.id,
        or_((Appointment.state == AppointmentState.BOOKED)
            & (Appointment.start >= now - dt.timedelta(minutes=late_minutes)),
            (Appointment.state == AppointmentState.HELD)
            & (Appointment.hold_expires_at > now)))
        .order_by(Appointment.start, Appointment.id)))


def appointments_refusal(service: Service, appointments: list[Appointment],
                         language: str) -> Conflict:
    """The refusal to retire a service that still has appointments, naming the first."""
    first = local_time(appointments[0].start, service.site.timezone)
    return Conflict(
        _("%(count)s appointment(s) of %(service)s are still booked, the first on %(day)s at "
          "%(time)s. Move or cancel them before retiring the service.",
          count=len(appointments), service=service.text(language).name,
          day=first.date().isoformat(), time=first.strftime("%H:%M")),
        "appointments_booked", appointments=[appointment.code for appointment in appointments])


def snapshot_service(service: Service) -> dict:
    """What the audit trail keeps of a service's state around a retirement."""
    return {"active": service.active, "retiring": service.retiring, "prefix": service.prefix}


def begin_service_retirement(session: Session, service: Service, now: dt.datetime, *,
                             actor_id: int | None, via: str = "admin",
                             late_minutes: int = DEFAULT_LATE_MINUTES) -> bool:
    """Stop offering `service` at once and retire it when its last open step ends.

    In the caller's transaction. Refuses (409) a service already retiring or inactive,
    and one with appointments still booked. Records `service_retiring` (and, when
    nothing of it is open, `service_retired` at once). Returns whether it is retired.
    """
    if not service.active or service.retiring:
        raise Conflict(_("This service is already retired or retiring."), "not_offered")
    appointments = pending_appointments(session, service, now, late_minutes)
    if appointments:
        raise appointments_refusal(service, appointments, service.site.language)
    before = snapshot_service(service)
    service.retiring = True
    waiting = open_steps(session, service.site_id).get(service.id, 0)
    record_audit(session, service.site_id, "service_retiring", now, actor_id=actor_id,
                 subject={"kind": "service", "id": service.id, "key": service.key},
                 before=before, after=snapshot_service(service), open_steps=waiting, via=via)
    if waiting:
        return False
    _retire_service(session, service, now, actor_id, via)
    return True


def _retire_service(session: Session, service: Service, now: dt.datetime,
                    actor_id: int | None, reason: str) -> None:
    before = snapshot_service(service)
    service.active, service.retiring = False, False
    service.prefix = f"~{service.id}"  # an inactive service keeps no ticket letter
    session.flush()
    record_audit(session, service.site_id, "service_retired", now, actor_id=actor_id,
                 subject={"kind": "service", "id": service.id, "key": service.key},
                 before=before, after=snapshot_service(service), via=reason)


def settle_retirements(session: Session, site_id: str, now: dt.datetime) -> list[int]:
    """Retire each retiring service of the site that no open step needs any more.

    Cheap when nothing retires (one read of the site's retiring services). The rows are
    locked, so two desks finishing the last two steps at once retire it once.
    """
    retiring = session.scalars(select(Service).where(Service.site_id == site_id,
                                                     Service.retiring)
                               .with_for_update().execution_options(populate_existing=True)
                               ).all()
    if not retiring:
        return []
    counts = open_steps(session, site_id)
    done = [service for service in retiring if not counts.get(service.id)]
    for service in done:
        _retire_service(session, service, now, None, "last_step_ended")
    return [service.id for service in done]


def stranded(session: Session, site_id: str,
             serving: Mapping[int, Iterable[int]]) -> list[tuple[Service, int]]:
    """The services that would strand their visitors if each desk in `serving` served
    only those service ids (none: the desk retires): services with open steps that some
    active desk serves now and none would after; with how many steps."""
    counts = open_steps(session, site_id)
    if not counts:
        return []
    before, after = defaultdict(set), defaultdict(set)
    for counter in session.scalars(select(Counter).where(Counter.site_id == site_id,
                                                         Counter.active)):
        now_served = {service.id for service in counter.services}
        for service_id in now_served:
            before[service_id].add(counter.id)
        for service_id in serving.get(counter.id, now_served):
            after[service_id].add(counter.id)
    left = [service_id for service_id in counts if before[service_id] and not after[service_id]]
    return [(session.get(Service, service_id), counts[service_id]) for service_id in left]


def stranding_refusal(found: list[tuple[Service, int]], language: str) -> Conflict:
    """The refusal of a change to desks that would leave waiting visitors without a desk."""
    names = ", ".join(f"{service.text(language).name} ({count})" for service, count in found)
    return Conflict(_("No other desk serves %(services)s, where visitors still wait: add the "
                      "service to another desk first, or wait until they are served.",
                      services=names), "visitors_stranded",
                    services=[service.id for service, _count in found])


def snapshot_counter(counter: Counter) -> dict:
    """What the audit trail keeps of a desk."""
    return {"name": dict(counter.name), "zone": counter.zone,
            "languages": list(counter.languages), "active": counter.active,
            "services": sorted(service.key for service in counter.services),
            "status": counter.status.value}


def retire_counter(engine, actor: Staff | None, counter_id: int, *, via: str = "admin",
                   check_stranding: bool = True) -> Counter:
    """Retire a desk through the engine's close path, in one transaction with its audit
    entry (`counter_retired`); Redis and the pages hear of it after the commit.

    Refused (409) while a visitor is being served there (`counter_busy`) or while it is
    the last desk serving a service whose visitors wait (`visitors_stranded`). `actor`
    None: the site file removed it (its stranding was checked when it was loaded).
    """
    now = engine.clock()
    with engine.database.session() as session:
        counter = session.get(Counter, counter_id, with_for_update=True)
        if counter is None or not counter.active or (
                actor is not None and counter.site_id != actor.site_id):
            raise NotFound(_("There is no desk %(counter)s.", counter=counter_id))
        if actor is not None and not may(actor, Action.MANAGE_COUNTERS, counter.site_id):
            raise Forbidden(_("You may not do this here."))
        language = counter.site.language
        if check_stranding:
            found = stranded(session, counter.site_id, {counter.id: ()})
            if found:
                raise stranding_refusal(found, language)
        before = snapshot_counter(counter)
        left = engine.close_desk_in(session, counter, reason="retired")
        counter.active = False
        forget_appointment_desk(counter)
        record_audit(session, counter.site_id, "counter_retired", now,
                     actor_id=actor.id if actor else None,
                     subject={"kind": "counter", "id": counter.id, "key": counter.key},
                     before=before, after=snapshot_counter(counter), via=via,
                     returned_ticket=left.returned.ticket.number
                     if left is not None and left.returned is not None else None,
                     name=translated(counter.name, language, counter.site))
    if left is not None:
        engine.after_desk_closed(left)
    return counter


def forget_appointment_desk(counter: Counter, services: Iterable[Service] | None = None) -> None:
    """A desk retired, or no longer serving `services` (default: any), is no longer kept
    for their appointments."""
    for service in counter.site.services if services is None else services:
        settings = service.appointment_settings
        if settings and counter.key in settings.get("desks", []):
            service.appointment_settings = {
                **settings, "desks": [key for key in settings["desks"] if key != counter.key]}


def removed_counters(session: Session, site_id: str, kept: Iterable[str]) -> list[Counter]:
    """The site's active desks whose keys are not in `kept` (a site file dropped them)."""
    return list(session.scalars(select(Counter).where(
        Counter.site_id == site_id, Counter.active, Counter.key.not_in(list(kept)))
        .order_by(Counter.id)))


def retire_idle_counter(session: Session, counter: Counter, now: dt.datetime) -> bool:
    """Retire at once, in SQL alone, a removed desk that is closed and holds nobody (the
    site file's case needing no engine); whether it did. Others go through `retire_counter`."""
    holds = session.scalar(select(Step.id).where(
        or_(Step.counter_id == counter.id, Step.reserved_counter_id == counter.id),
        Step.state.in_((StepState.WAITING, StepState.CALLED, StepState.SERVING))).limit(1))
    if counter.status != CounterStatus.CLOSED or holds is not None:
        return False
    before = snapshot_counter(counter)
    counter.active = False
    forget_appointment_desk(counter)
    record_audit(session, counter.site_id, "counter_retired", now, actor_id=None,
                 subject={"kind": "counter", "id": counter.id, "key": counter.key},
                 before=before, after=snapshot_counter(counter), via="site_file")
    return True


def retire_removed_counters(engine, site_id: str, kept: Iterable[str]) -> dict[str, str]:
    """After a site file was loaded: retire, through the engine, each desk it dropped that
    was still on duty. Returns, per desk that could not be retired yet, why not."""
    with engine.database.session() as session:
        pending = [(counter.id, counter.key) for counter in
                   removed_counters(session, site_id, kept)]
    refused = {}
    for counter_id, key in pending:
        try:
            retire_counter(engine, None, counter_id, via="site_file", check_stranding=False)
        except Conflict as refusal:
            refused[key] = refusal.message
    return refused


def load_site_safely(engine, document: dict) -> dict:
    """`load-site`: load a validated site file, retiring what it removes safely.

    Services it drops start retiring (their waiting visitors are still served); desks it
    drops close through the engine (a called ticket back in its place) and become
    inactive. Refused (SiteFileError, nothing changed) when that would strand waiting
    visitors or drop a service with booked appointments. Returns the services still
    retiring and the desks not retired yet (a visitor being served there), with why.
    """
    # Imported here: the loader builds on this module.
    from tessera.sites.loader import load_site

    with engine.database.session() as session:
        site = load_site(session, document, engine.clock())
        retiring = sorted(session.scalars(select(Service.key).where(
            Service.site_id == site.id, Service.retiring)))
    refused = retire_removed_counters(engine, document["id"], document.get("counters") or {})
    return {"retiring_services": retiring, "desks_not_retired": refused}
