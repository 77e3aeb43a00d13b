"""Checking in: a booked appointment becomes a ticket whose first step carries the slot time.

Check-in is open from `early` minutes before the slot's start to `late` minutes
after it; an appointment still booked when its window has closed is missed.
The ticket is issued first (SQL committed, queued) with an idempotency key only
the appointment can produce, then the appointment turns checked_in by a
conditional update: two kiosks checking in the same code at once, or a retry
after a lost answer, get the one ticket.
"""

import datetime as dt
import hashlib
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tessera.appointments.booking import _record, _transition
from tessera.clock import local_time
from tessera.database import Database
from tessera.errors import Conflict, NotFound
from tessera.languages import current_language
from tessera.models import Appointment, AppointmentState, Ticket
from tessera.queue.engine import QueueEngine
from tessera.sites.catalogue import get_site
from tessera.sites.hours import opening_words

# Appointments that will not come in any more, whatever their holder types.
GONE = (AppointmentState.CANCELLED, AppointmentState.MISSED, AppointmentState.EXPIRED)


@dataclass(frozen=True)
class CheckInWindow:
    """How many minutes before and after its start an appointment may check in."""

    early_minutes: int = 30
    late_minutes: int = 15

    def opens(self, appointment: Appointment) -> dt.datetime:
        """When check-in opens for this appointment (naive UTC)."""
        return appointment.start - dt.timedelta(minutes=self.early_minutes)

    def closes(self, appointment: Appointment) -> dt.datetime:
        """When check-in closes for this appointment (naive UTC)."""
        return appointment.start + dt.timedelta(minutes=self.late_minutes)


def normal_code(code: str) -> str:
    """A typed code as stored: capitals, without spaces or dashes."""
    return "".join(code.split()).replace("-", "").upper()


def find_by_code(session: Session, site_id: str, code: str) -> Appointment:
    """The site's appointment with this code: the active one, else the latest; or NotFound."""
    found = session.scalars(select(Appointment).where(
        Appointment.site_id == site_id, Appointment.code == normal_code(code),
        Appointment.state != AppointmentState.HELD)
        .order_by(Appointment.id.desc())).all()
    if not found:
        raise NotFound(_("We do not know this code. Please check it and type it again."),
                       "unknown_code")
    return next((a for a in found if a.state not in GONE), found[0])


def check_in(engine: QueueEngine, site_id: str, code: str, now: dt.datetime,
             window: CheckInWindow = CheckInWindow(), kiosk: str | None = None) -> Ticket:
    """The ticket of the site's appointment with `code`, issued at its first check-in.

    Refused with unknown_code, cancelled (also missed or expired), too_early
    (with opens_at) or too_late; checking in again gives the same ticket.
    """
    with engine.database.session() as session:
        site = get_site(session, site_id)
        appointment = find_by_code(session, site_id, code)
        if appointment.state in GONE:
            raise Conflict(_("This appointment was cancelled or has passed. "
                             "Please take a ticket instead."), "cancelled")
        if appointment.state == AppointmentState.BOOKED:
            _check_window(appointment, window, now, site.timezone)
        facts = (appointment.id, appointment.service_id, appointment.language,
                 appointment.start, _ticket_key(appointment))
    appointment_id, service_id, language, start, key = facts
    ticket = engine.issue_ticket(site_id, [service_id], language, idempotency_key=key,
                                 kiosk=kiosk, appointment_due=start)
    with engine.database.session() as session:
        changed = session.execute(
            update(Appointment).where(Appointment.id == appointment_id,
                                      Appointment.state == AppointmentState.BOOKED)
            .values(state=AppointmentState.CHECKED_IN, ticket_id=ticket.id)
            .execution_options(synchronize_session=False)).rowcount
        if changed == 1:
            _record(session, session.get(Appointment, appointment_id), "appointment_checked_in",
                    now, ticket=ticket.id)
    return ticket


def mark_missed(database: Database, now: dt.datetime,
                window: CheckInWindow = CheckInWindow()) -> int:
    """Every booked appointment whose check-in window has closed becomes missed; how many."""
    closed_before = now - dt.timedelta(minutes=window.late_minutes)
    missed = 0
    with database.session() as session:
        for appointment in session.scalars(select(Appointment).where(
                Appointment.state == AppointmentState.BOOKED,
                Appointment.start < closed_before)).all():
            # A check-in at this very moment wins: the update expects `booked`.
            missed += _transition(session, appointment, AppointmentState.MISSED,
                                  "appointment_missed", now, AppointmentState.BOOKED)
    return missed


def _check_window(appointment: Appointment, window: CheckInWindow, now: dt.datetime,
                  timezone: str) -> None:
    opens = window.opens(appointment)
    if now < opens:
        raise Conflict(_("It is too early to check in. Check-in opens at %(time)s.",
                         time=opening_words(opens, timezone, current_language())["time"]),
                       "too_early", opens_at=local_time(opens, timezone).isoformat())
    if now > window.closes(appointment):
        raise Conflict(_("It is too late to check in for this appointment. "
                         "You can take a walk-in ticket instead."), "too_late")


def _ticket_key(appointment: Appointment) -> str:
    # Derived from the secret token: nobody can take or squat this ticket's key by guessing.
    return "appointment:" + hashlib.sha256(appointment.token.encode()).hexdigest()[:40]
