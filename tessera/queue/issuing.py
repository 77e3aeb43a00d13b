"""Issuing a ticket: checking the request, idempotency, numbering, the first step queued."""

import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Iterable, Sequence

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from tessera.clock import local_time, service_day
from tessera.errors import Conflict, InvalidInput, NotFound
from tessera.events import record_event
from tessera.languages import current_language
from tessera.models import Service, Site, Step, StepState, Ticket
from tessera.queue.base import EngineBase, queued_step
from tessera.sites.hours import OpeningHours, opening_words

NEEDS = ("priority", "interpreter")
NUMBER_ATTEMPTS = 5


def request_fingerprint(service_ids: Sequence[int], language: str, needs: Iterable[str],
                        appointment_due: dt.datetime | None = None) -> str:
    """A digest of an issue request, to tell a retry from a reused idempotency key."""
    facts = [list(service_ids), language, sorted(needs)]
    if appointment_due is not None:
        # A walk-in request never matches a check-in's ticket, whatever key it sends.
        facts.append(appointment_due.isoformat())
    body = json.dumps(facts)
    return hashlib.sha256(body.encode()).hexdigest()


class Issuing(EngineBase):
    """The engine's part that issues tickets."""

    def issue_ticket(self, site_id: str, service_ids: Sequence[int], language: str,
                     needs: Iterable[str] = (), idempotency_key: str | None = None,
                     kiosk: str | None = None,
                     appointment_due: dt.datetime | None = None) -> Ticket:
        """Issue a ticket for a journey of services and put its first step in the queue.

        The same `idempotency_key` with the same request returns the first
        ticket again (a double tap is one ticket); with a different request
        it is refused. `kiosk`, where the ticket was taken, goes into the
        `issued` event, so that printing can resume after Redis was flushed.
        `appointment_due`, a checked-in appointment's slot start (naive UTC), goes
        on the first step for the routing's appointment boost; such a ticket is
        issued outside the walk-in hours too, and for appointment-only services.
        """
        needs = sorted(set(needs))
        fingerprint = request_fingerprint(service_ids, language, needs, appointment_due)
        reseed = False
        # Before issuing: a lost Redis would put this visitor ahead of those it forgot.
        self._heal(site_id)
        for _attempt in range(NUMBER_ATTEMPTS):
            if idempotency_key:
                existing = self._ticket_by_key(site_id, idempotency_key, fingerprint)
                if existing is not None:
                    return existing
            try:
                ticket = self._insert_ticket(site_id, service_ids, language, needs,
                                             idempotency_key, fingerprint, reseed, kiosk,
                                             appointment_due)
            except IntegrityError:
                # Either a concurrent request with the same idempotency key won,
                # or Redis lost the day's numbering: look again, re-seed from SQL.
                reseed = True
                continue
            self.live.enqueue(site_id, queued_step(ticket.steps[0]))
            self._queue_changed(site_id)
            return ticket
        raise Conflict(_("Could not issue a ticket number; please try again."), "numbering")

    def _ticket_by_key(self, site_id: str, key: str, fingerprint: str) -> Ticket | None:
        with self.database.session() as session:
            ticket = session.scalars(
                select(Ticket).options(selectinload(Ticket.steps).selectinload(Step.service),
                                       selectinload(Ticket.steps).selectinload(Step.ticket))
                .where(Ticket.site_id == site_id, Ticket.idempotency_key == key)
            ).first()
        if ticket is not None and ticket.request_fingerprint != fingerprint:
            raise InvalidInput(_("This Idempotency-Key was already used for a different request."),
                               "idempotency_key_reused")
        if ticket is not None and ticket.steps[0].state == StepState.WAITING:
            # A retry may follow a first attempt that committed but failed to queue:
            # queuing again is harmless (the same member, the same score).
            self.live.enqueue(site_id, queued_step(ticket.steps[0]))
        return ticket

    def _check_open(self, site: Site) -> None:
        """Walk-in tickets are issued only within the opening hours, not just before a close."""
        hours, now = OpeningHours.of(site), self.clock()
        if hours.accepts_walk_in(now):
            return
        opens = hours.next_opening(now)
        if opens is None:
            raise Conflict(_("The centre is closed now."), "closed", opens_at=None)
        raise Conflict(_("The centre is closed now. It opens again on %(day)s at %(time)s.",
                         **opening_words(opens, site.timezone, current_language())),
                       "closed", opens_at=local_time(opens, site.timezone).isoformat())

    def _validate_issue(self, session: Session, site_id: str, service_ids: Sequence[int],
                        language: str, needs: Sequence[str],
                        appointment: bool = False) -> tuple[Site, list[Service]]:
        site = session.get(Site, site_id)
        if site is None:
            raise NotFound(_("There is no site '%(site)s'.", site=site_id))
        if not appointment:
            # The check-in window, not the walk-in hours, decides when an appointment comes in.
            self._check_open(site)
        if not service_ids:
            raise InvalidInput(_("Choose at least one service."), "empty_journey")
        if len(service_ids) > self.max_services:
            raise InvalidInput(_("At most %(count)s services can be chosen for one visit.",
                                 count=self.max_services), "too_many_services")
        if len(set(service_ids)) != len(service_ids):
            raise InvalidInput(_("A service was chosen twice."), "duplicate_service")
        if language not in site.languages:
            raise InvalidInput(_("Language '%(language)s' is not offered at this site.",
                                 language=language), "unknown_language")
        unknown_needs = set(needs) - set(NEEDS)
        if unknown_needs:
            raise InvalidInput(_("Unknown need(s): %(needs)s. Known needs: %(known)s.",
                                 needs=", ".join(sorted(unknown_needs)),
                                 known=", ".join(NEEDS)), "unknown_need")
        # A retiring service is no longer issued (tessera/sites/retirement.py).
        offered = [Service.site_id == site_id, Service.id.in_(service_ids), Service.offered]
        if not appointment:
            offered.append(Service.walk_in)
        services = {s.id: s for s in session.scalars(select(Service).where(*offered))}
        missing = [str(service_id) for service_id in service_ids if service_id not in services]
        if missing:
            raise InvalidInput(_("Unknown service(s) for walk-in visitors: %(services)s.",
                                 services=", ".join(missing)), "unknown_service")
        return site, [services[service_id] for service_id in service_ids]

    def _insert_ticket(self, site_id: str, service_ids: Sequence[int], language: str,
                       needs: list[str], idempotency_key: str | None,
                       fingerprint: str, reseed: bool, kiosk: str | None,
                       appointment_due: dt.datetime | None) -> Ticket:
        now = self.clock()
        with self.database.session() as session:
            site, services = self._validate_issue(session, site_id, service_ids, language, needs,
                                                  appointment_due is not None)
            day = service_day(now, site.timezone)
            prefix = services[0].prefix
            sequence = self._next_sequence(session, site_id, day, prefix, reseed)
            ticket = Ticket(
                site_id=site_id, number=f"{prefix}-{sequence:03d}", prefix=prefix,
                sequence=sequence, service_day=day, language=language, needs=needs,
                token=secrets.token_urlsafe(16), idempotency_key=idempotency_key,
                request_fingerprint=fingerprint, issued_at=now, arrived_at=now,
            )
            for position, service in enumerate(services):
                first = position == 0
                ticket.steps.append(Step(
                    service=service, position=position,
                    state=StepState.WAITING if first else StepState.PLANNED,
                    queued_at=now if first else None,
                    appointment_due=appointment_due if first else None,
                ))
            session.add(ticket)
            session.flush()
            record_event(session, site_id, "issued", now, ticket_id=ticket.id,
                         services=[s.id for s in services], language=language, needs=needs,
                         kiosk=kiosk)
            record_event(session, site_id, "queued", now, ticket_id=ticket.id,
                         step_id=ticket.steps[0].id, service_id=services[0].id)
        return ticket

    def _next_sequence(self, session: Session, site_id: str, day: dt.date, prefix: str,
                       reseed: bool) -> int:
        """Redis hands out numbers; SQL's highest one is the floor when Redis lost count."""
        number = None if reseed else self.live.next_number(site_id, day, prefix)
        if number is None:
            highest = session.scalar(
                select(func.coalesce(func.max(Ticket.sequence), 0))
                .where(Ticket.site_id == site_id, Ticket.service_day == day,
                       Ticket.prefix == prefix))
            number = self.live.next_number(site_id, day, prefix, floor=highest)
        return number
