"""Holding, booking, confirming, cancelling and moving appointments, in the caller's session.

Booking the last place is atomic without checking first: each appointment
takes a numbered seat of its slot, and a partial unique index on (service,
start, seat) among active appointments lets only one request commit a seat.
A request that loses the race tries the next free seat, and answers 409
`slot_full` when none is left. A hold whose time has passed takes no place:
reads ignore it, and booking its slot ends it (`expired`) first.
"""

import datetime as dt
import hashlib
import json
import re
import secrets

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tessera.appointments.availability import find_slot, get_service, settings_of
from tessera.clock import local_time
from tessera.database import change_state
from tessera.errors import Conflict, InvalidInput, NotFound
from tessera.events import record_event
from tessera.messages.outbox import queue_messages
from tessera.models import Appointment, AppointmentState, Service
from tessera.sites.catalogue import check_language, get_site

# Easy to read aloud and to type: no 0/O, 1/I/L, 2/Z, 5/S, 8/B, U/V.
CODE_ALPHABET = "ACDEFGHJKMNPQRTWXY34679"
CODE_LENGTH = 6
ACTIVE = (AppointmentState.HELD, AppointmentState.BOOKED, AppointmentState.CHECKED_IN)
# A code or a seat taken by a concurrent request is retried this many times at most.
ATTEMPTS = 8
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]{2,}$")
PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{4,22}[0-9]$")


def new_code() -> str:
    """A random appointment code from the unambiguous alphabet."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def check_contact(contact: dict | None) -> tuple[str | None, str | None]:
    """(email, phone) of a contact, each optional, or a refusal naming the one of a wrong shape."""
    contact = contact or {}
    email = (contact.get("email") or "").strip() or None
    phone = (contact.get("phone") or "").strip() or None
    if email is not None and (len(email) > 254 or EMAIL.match(email) is None):
        raise InvalidInput(_("This email address does not look right, e.g. name@example.org."),
                           "invalid_email")
    if phone is not None and (PHONE.match(phone) is None
                              or sum(c.isdigit() for c in phone) < 6):
        raise InvalidInput(_("This phone number does not look right, e.g. +30 210 123 4567."),
                           "invalid_phone")
    return email, phone


def request_fingerprint(service_id: int, start: dt.datetime, language: str,
                        email: str | None, phone: str | None, hold: bool) -> str:
    """A digest of a booking request, to tell a retry from a reused idempotency key."""
    facts = [service_id, start.isoformat(), language, email, phone, hold]
    return hashlib.sha256(json.dumps(facts).encode()).hexdigest()


def book(session: Session, site_id: str, service_reference: int | str, start: dt.datetime,
         language: str, contact: dict | None, now: dt.datetime, *,
         idempotency_key: str | None = None, hold: bool = False,
         booked_by: int | None = None, counter_id: int | None = None,
         hold_minutes: int | None = None) -> Appointment:
    """Book (or with `hold`, hold for a few minutes) a place in the slot at `start` (naive UTC).

    The same `idempotency_key` with the same request returns the first
    appointment; with another request it is refused. Staff booking for a
    visitor at a desk pass their id (`booked_by`) and the desk's: the event names them.
    A hold lasts the service's hold minutes, or `hold_minutes` (a waiting-list offer).
    """
    site = get_site(session, site_id)
    service = get_service(session, site_id, service_reference)
    settings = settings_of(service)
    check_language(site, language)
    email, phone = check_contact(contact)
    fingerprint = request_fingerprint(service.id, start, language, email, phone, hold)
    if idempotency_key and (found := _by_key(session, site_id, idempotency_key, fingerprint)):
        return found
    end = find_slot(session, service, start, now)[1]
    _expire_holds(session, service, start, now)
    for _attempt in range(ATTEMPTS):
        seat = _free_seat(session, service, start, settings["places"])
        if seat is None:
            break
        appointment = Appointment(
            site_id=site_id, service_id=service.id, start=start, end=end, seat=seat,
            language=language, code=new_code(), token=secrets.token_urlsafe(16),
            email=email, phone=phone, created_at=now,
            state=AppointmentState.HELD if hold else AppointmentState.BOOKED,
            hold_expires_at=now + dt.timedelta(minutes=hold_minutes or settings["hold_minutes"])
            if hold else None,
            idempotency_key=idempotency_key, request_fingerprint=fingerprint)
        try:
            with session.begin_nested():
                session.add(appointment)
        except IntegrityError:
            # Another request took this seat (or the code, or the key) first.
            if idempotency_key and (found := _by_key(session, site_id, idempotency_key,
                                                     fingerprint)):
                return found
            continue
        _record(session, appointment, "appointment_held" if hold else "appointment_booked", now,
                staff_id=booked_by, counter_id=counter_id)
        return appointment
    raise _slot_full()


def get_appointment(session: Session, token: str, now: dt.datetime | None = None) -> Appointment:
    """An appointment by its token, or NotFound; with `now`, a lapsed hold ends as expired."""
    appointment = session.scalars(select(Appointment).where(Appointment.token == token)).first()
    if appointment is None:
        raise NotFound(_("There is no such appointment."), "unknown_appointment")
    if now is not None:
        _expire(session, appointment, now)
    return appointment


def confirm(session: Session, token: str, now: dt.datetime, *,
            contact: dict | None = None) -> Appointment:
    """Turn a hold into a booking, while it lasts.

    With `contact` (the booking page's last step), the visitor's email and phone,
    each optional and checked as for booking, replace the hold's before it is booked.
    """
    appointment = get_appointment(session, token, now)
    if appointment.state == AppointmentState.BOOKED:
        return appointment
    if appointment.state == AppointmentState.EXPIRED:
        raise Conflict(_("This hold has expired. Please choose a time again."), "hold_expired")
    _require_state(appointment, (AppointmentState.HELD,))
    if contact is not None:
        # Written before the change, so that what its event sets off can reach the visitor.
        appointment.email, appointment.phone = check_contact(contact)
        session.flush()
    _change(session, appointment, AppointmentState.BOOKED, "appointment_booked", now,
            AppointmentState.HELD)
    appointment.hold_expires_at = None
    _tell_waiting_list(session, appointment, now)
    return appointment


def cancel(session: Session, token: str, now: dt.datetime) -> Appointment:
    """Cancel a held or booked appointment; cancelling it again changes nothing."""
    appointment = get_appointment(session, token, now)
    if appointment.state == AppointmentState.CANCELLED:
        return appointment
    _require_state(appointment, (AppointmentState.HELD, AppointmentState.BOOKED))
    _change(session, appointment, AppointmentState.CANCELLED, "appointment_cancelled", now,
            appointment.state)
    _tell_waiting_list(session, appointment, now, freed=appointment.start)
    return appointment


def move(session: Session, token: str, start: dt.datetime, now: dt.datetime) -> Appointment:
    """Move a held or booked appointment to another slot of its service with a free place.

    All or nothing: the appointment keeps its place and code if the new slot is full.
    """
    appointment = get_appointment(session, token, now)
    _require_state(appointment, (AppointmentState.HELD, AppointmentState.BOOKED))
    service = session.get(Service, appointment.service_id)
    if start == appointment.start:
        return appointment
    end = find_slot(session, service, start, now)[1]
    _expire_holds(session, service, start, now)
    before = appointment.start
    for _attempt in range(ATTEMPTS):
        seat = _free_seat(session, service, start, settings_of(service)["places"])
        if seat is None:
            break
        try:
            with session.begin_nested():
                appointment.start, appointment.end, appointment.seat = start, end, seat
                session.flush()
        except IntegrityError:
            session.refresh(appointment)
            continue
        _record(session, appointment, "appointment_moved", now, moved_from=before.isoformat())
        _tell_waiting_list(session, appointment, now, freed=before)
        return appointment
    raise _slot_full()


def appointment_view(appointment: Appointment) -> dict:
    """What the holder of the token sees of an appointment (times in the site's zone)."""
    timezone = appointment.site.timezone
    return {"code": appointment.code, "token": appointment.token,
            "state": appointment.state.value, "service": appointment.service_id,
            "service_key": appointment.service.key, "language": appointment.language,
            "start": local_time(appointment.start, timezone).isoformat(),
            "end": local_time(appointment.end, timezone).isoformat(),
            "hold_expires_at": (local_time(appointment.hold_expires_at, timezone).isoformat()
                                if appointment.state == AppointmentState.HELD else None),
            "contact": {"email": appointment.email, "phone": appointment.phone}}


def _slot_full() -> Conflict:
    return Conflict(_("This slot has just been taken. Please choose another time."), "slot_full")


def _by_key(session: Session, site_id: str, key: str, fingerprint: str) -> Appointment | None:
    found = session.scalars(select(Appointment).where(
        Appointment.site_id == site_id, Appointment.idempotency_key == key)).first()
    if found is not None and found.request_fingerprint != fingerprint:
        raise InvalidInput(_("This Idempotency-Key was already used for a different request."),
                           "idempotency_key_reused")
    return found


def _free_seat(session: Session, service: Service, start: dt.datetime, places: int) -> int | None:
    """The lowest seat of the slot no active appointment holds, as this transaction sees it."""
    taken = set(session.scalars(select(Appointment.seat).where(
        Appointment.service_id == service.id, Appointment.start == start,
        Appointment.state.in_(ACTIVE))))
    return next((seat for seat in range(places) if seat not in taken), None)


def _expire_holds(session: Session, service: Service, start: dt.datetime,
                  now: dt.datetime) -> None:
    """End the lapsed holds of one slot, so they free their seats for this booking."""
    for appointment in session.scalars(select(Appointment).where(
            Appointment.service_id == service.id, Appointment.start == start,
            Appointment.state == AppointmentState.HELD, Appointment.hold_expires_at <= now)):
        _expire(session, appointment, now)


def _expire(session: Session, appointment: Appointment, now: dt.datetime) -> None:
    # Two readers may find the same lapsed hold; the second one has nothing left to do.
    if appointment.state == AppointmentState.HELD and appointment.hold_expires_at <= now \
            and _transition(session, appointment, AppointmentState.EXPIRED,
                            "appointment_expired", now, AppointmentState.HELD):
        # No place to offer here: a booking of this slot is what found the lapsed hold,
        # or the waiting list's sweep offers it within a minute.
        _tell_waiting_list(session, appointment, now)


def _tell_waiting_list(session: Session, appointment: Appointment, now: dt.datetime,
                       freed: dt.datetime | None = None) -> None:
    """Let the waiting list settle an offer this change ends, and offer a place it `freed`."""
    # The waiting list books its offers through this module, so it is imported when used.
    from tessera.appointments.waiting_list import appointment_changed

    appointment_changed(session, appointment, now, freed_start=freed)


def _change(session: Session, appointment: Appointment, state: AppointmentState, kind: str,
            now: dt.datetime, expected: AppointmentState) -> None:
    """A state change that must happen, or a refusal if another request changed it first."""
    if not _transition(session, appointment, state, kind, now, expected):
        raise Conflict(_("This appointment changed meanwhile. Please look at it again."),
                       "appointment_changed")


def _transition(session: Session, appointment: Appointment, state: AppointmentState, kind: str,
                now: dt.datetime, expected: AppointmentState) -> bool:
    """Change the state only from the one this request read; with its event if it changed."""
    changed = change_state(session, appointment, expected, state)
    if changed:
        _record(session, appointment, kind, now)
    return changed


def _require_state(appointment: Appointment, allowed: tuple[AppointmentState, ...]) -> None:
    if appointment.state not in allowed:
        raise Conflict(_("This appointment is %(state)s and can no longer be changed.",
                         state=appointment.state.value), "not_changeable")


def _record(session: Session, appointment: Appointment, kind: str, now: dt.datetime,
            **data) -> None:
    record_event(session, appointment.site_id, kind, now, appointment=appointment.id,
                 service=appointment.service_id, start=appointment.start.isoformat(), **data)
    # The messages telling the visitor of it commit with the event, or neither does.
    queue_messages(session, appointment, kind, now)
