"""The waiting list: visitors waiting for a place in a service between two local days.

When a place frees (a cancellation, an appointment moved away, a hold or an
offer that lapsed), the first entry in line (the earliest to join, still
waiting) whose days include the slot's local day is offered it: a hold in that
slot for the entry's language and contact, kept WAITING_LIST_OFFER_MINUTES
(never past the service's minimum notice before the slot), which the visitor
confirms from the message (/a/<token>) like any hold. A visitor who has booked
a place of the service to come meanwhile (by email or phone) is passed over,
keeping their place in line.

An entry goes waiting -> offered -> booked (the visitor confirmed), or ends:
`left` (the visitor left the list, or cancelled the place offered), `ended`
(the offer lapsed unconfirmed, or the last day passed). A lapsed offer ends
the entry rather than putting it back in line: a visitor who did not answer
would otherwise keep each freed place from the next in line for hours, again
and again; they may join again.

Offering is safe under concurrency: the entry is claimed by a conditional
update (waiting -> offered) and the place by booking's seat index, both in the
caller's transaction, so two cancellations at once offer two different entries
and no place is offered twice. A periodic sweep (`sweep`) ends lapsed offers
and passed entries and offers every free place in a waiting entry's days, so
a place nobody was told of (a hold that lapsed quietly) is offered within a
minute.
"""

import datetime as dt
import secrets

from flask import current_app, has_app_context
from flask_babel import gettext as _
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from tessera.appointments.availability import (
    booking_window,
    day_slots,
    find_slot,
    get_service,
    kept_desks,
    settings_of,
    taken_places,
)
from tessera.appointments.booking import (
    _record,
    appointment_view,
    book,
    cancel,
    check_contact,
    get_appointment,
)
from tessera.clock import local_time
from tessera.config import Config
from tessera.database import Database, change_state
from tessera.errors import Conflict, InvalidInput, NotFound
from tessera.events import record_event
from tessera.models import Appointment, AppointmentState, Service, WaitingListEntry
from tessera.sites.catalogue import check_language, get_site
from tessera.sites.hours import OpeningHours

WAITING = "waiting"
OFFERED = "offered"
BOOKED = "booked"
LEFT = "left"
ENDED = "ended"
# The states in which an entry still stands in line (or holds what it was offered).
OPEN = (WAITING, OFFERED)
# One contact may wait for this many places at a site at once, so that one person
# (or a script) cannot stand in every line.
MAX_OPEN_ENTRIES_PER_CONTACT = 3
# An offer's hold ends at least this many minutes before the slot even where the
# service asks no notice: the visitor needs the time to come.
OFFER_MARGIN_MINUTES = 15


def offer_minutes() -> int:
    """How long a place is held for the first in line (WAITING_LIST_OFFER_MINUTES)."""
    if has_app_context():
        return current_app.config["WAITING_LIST_OFFER_MINUTES"]
    return Config.WAITING_LIST_OFFER_MINUTES


def join(session: Session, site_id: str, service_reference: int | str, language: str,
         first_day: dt.date | str, last_day: dt.date | str, contact: dict | None,
         now: dt.datetime) -> WaitingListEntry:
    """Put a visitor in line for a place in a service between two local days (inclusive).

    Refused with unknown_service (404), no_appointments, unknown_language,
    invalid_first_day / invalid_last_day (not a date), invalid_day_range
    (first after last), day_in_past, beyond_horizon, invalid_email,
    invalid_phone, contact_required (422); already_waiting (this contact
    already waits for this service) or too_many_entries (409).
    """
    site = get_site(session, site_id)
    service = get_service(session, site_id, service_reference)
    settings = settings_of(service)
    check_language(site, language)
    first_day, last_day = _day(first_day, "first_day"), _day(last_day, "last_day")
    if first_day > last_day:
        raise InvalidInput(_("The first day must not be after the last day."),
                           "invalid_day_range")
    if first_day < OpeningHours.of(site).local_day(now):
        raise InvalidInput(_("The first day has already passed. Choose today or a later day."),
                           "day_in_past")
    if last_day > booking_window(service, now)[1]:
        raise InvalidInput(_("The last day is too far ahead: at most %(days)s days ahead.",
                             days=settings["horizon_days"]), "beyond_horizon")
    email, phone = check_contact(contact)
    if email is None and phone is None:
        raise InvalidInput(_("Give an email address or a phone number, so that we can tell "
                             "you when a place frees."), "contact_required")
    _check_open_entries(session, site_id, service.id, email, phone)
    entry = WaitingListEntry(site_id=site_id, service_id=service.id, language=language,
                             first_day=first_day, last_day=last_day, email=email, phone=phone,
                             token=secrets.token_urlsafe(16), state=WAITING, created_at=now)
    session.add(entry)
    session.flush()
    record_event(session, site_id, "waiting_list_joined", now, entry=entry.id,
                 service=service.id, language=language, first_day=first_day.isoformat(),
                 last_day=last_day.isoformat())
    return entry


def get_entry(session: Session, token: str, now: dt.datetime | None = None) -> WaitingListEntry:
    """An entry by its token, or NotFound; with `now`, an offer that lapsed ends first.

    The place a lapsed offer held then goes to the next in line at once.
    """
    entry = session.scalars(select(WaitingListEntry).where(
        WaitingListEntry.token == token)).first()
    if entry is None:
        raise NotFound(_("There is no such place on the waiting list."), "unknown_entry")
    if now is not None and entry.state == OFFERED and _lapsed(entry.appointment, now):
        _end_lapsed_offer(session, entry, now)
    return entry


def leave(session: Session, token: str, now: dt.datetime) -> WaitingListEntry:
    """The visitor leaves the line; a place being offered to them goes to the next in line.

    Leaving again, or after the entry was booked or ended, changes nothing.
    """
    entry = get_entry(session, token, now)
    if entry.state == OFFERED:
        # Cancelling the hold frees the place and tells this module, which marks the
        # entry left and offers the place to the next in line.
        cancel(session, entry.appointment.token, now)
        session.refresh(entry)
    if entry.state == WAITING:
        _change(session, entry, WAITING, LEFT, "waiting_list_left", now, reason="left")
    return entry


def entry_view(entry: WaitingListEntry) -> dict:
    """What the holder of the token sees of an entry; `offer` is the place it was offered."""
    offer = None
    if entry.appointment is not None:
        shown = appointment_view(entry.appointment)
        offer = {name: shown[name] for name in
                 ("token", "code", "state", "start", "end", "hold_expires_at")}
    return {"token": entry.token, "state": entry.state, "service": entry.service_id,
            "service_key": entry.service.key, "language": entry.language,
            "first_day": entry.first_day.isoformat(), "last_day": entry.last_day.isoformat(),
            "joined_at": local_time(entry.created_at, entry.site.timezone).isoformat(),
            "offer": offer, "contact": {"email": entry.email, "phone": entry.phone}}


def appointment_changed(session: Session, appointment: Appointment, now: dt.datetime,
                        freed_start: dt.datetime | None = None) -> None:
    """Booking tells of a change: settle the offer it ends, offer the place at `freed_start`.

    Called by booking's confirm, cancel, move and hold expiry, in their transaction.
    """
    entry = session.scalars(select(WaitingListEntry).where(
        WaitingListEntry.service_id == appointment.service_id,
        WaitingListEntry.state == OFFERED,
        WaitingListEntry.appointment_id == appointment.id)).first()
    if entry is not None:
        _settle(session, entry, appointment, now)
    if freed_start is not None:
        offer_place(session, appointment.service, freed_start, now)


def offer_place(session: Session, service: Service, start: dt.datetime,
                now: dt.datetime) -> WaitingListEntry | None:
    """Offer one free place of the slot at `start` to the first in line whose days include it.

    None when nobody fits, the place is gone meanwhile, or the slot is too near
    for an offer to be of use.
    """
    day = OpeningHours.of(service.site).local_day(start)
    in_line = session.scalars(select(WaitingListEntry).where(
        WaitingListEntry.service_id == service.id, WaitingListEntry.state == WAITING,
        WaitingListEntry.first_day <= day, WaitingListEntry.last_day >= day)
        .order_by(WaitingListEntry.created_at, WaitingListEntry.id)).all()
    return _offer_to_first(session, service, start, now, in_line)


def sweep(database: Database, now: dt.datetime) -> dict[str, int]:
    """End lapsed offers and passed entries, then offer every free place someone waits for.

    One transaction for the endings and one per service for the offers; how many
    entries ended and how many were offered a place.
    """
    with database.session() as session:
        ended = _end_lapsed_offers(session, now) + _end_passed_entries(session, now)
        service_ids = list(session.scalars(select(WaitingListEntry.service_id).where(
            WaitingListEntry.state == WAITING).distinct()))
    offered = 0
    for service_id in service_ids:
        with database.session() as session:
            offered += _offer_free_places(session, session.get(Service, service_id), now)
    return {"ended": ended, "offered": offered}


def _day(value: dt.date | str, field: str) -> dt.date:
    """A local day given as a date or as text such as 2026-11-24."""
    if isinstance(value, dt.datetime):
        value = None  # a time is not a day
    elif isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value)
        except ValueError:
            value = None
    if not isinstance(value, dt.date):
        raise InvalidInput(_("'%(field)s' must be a date such as 2026-11-24.", field=field),
                           f"invalid_{field}")
    return value


def _check_open_entries(session: Session, site_id: str, service_id: int, email: str | None,
                        phone: str | None) -> None:
    """Refuse a second entry for the same service, or one more than the cap, per contact."""
    services = list(session.scalars(select(WaitingListEntry.service_id).where(
        WaitingListEntry.site_id == site_id, WaitingListEntry.state.in_(OPEN),
        _same_contact(WaitingListEntry, email, phone))))
    if service_id in services:
        raise Conflict(_("You are already on the waiting list for this service."),
                       "already_waiting")
    if len(services) >= MAX_OPEN_ENTRIES_PER_CONTACT:
        raise Conflict(_("You are already waiting for %(most)s places, the most one person "
                         "may wait for.", most=MAX_OPEN_ENTRIES_PER_CONTACT),
                       "too_many_entries")


def _same_contact(model: type[WaitingListEntry] | type[Appointment], email: str | None,
                  phone: str | None):
    """The condition that a row has this email (whatever its case) or this phone."""
    return or_(*[column == value for column, value in
                 ((func.lower(model.email), email and email.lower()), (model.phone, phone))
                 if value is not None])


def _has_a_place(session: Session, entry: WaitingListEntry, now: dt.datetime) -> bool:
    """Whether the entry's visitor already holds or booked a place of the service to come."""
    return session.scalar(select(Appointment.id).where(
        Appointment.service_id == entry.service_id, Appointment.start >= now,
        or_(Appointment.state == AppointmentState.BOOKED,
            (Appointment.state == AppointmentState.HELD) & (Appointment.hold_expires_at > now)),
        _same_contact(Appointment, entry.email, entry.phone)).limit(1)) is not None


def _offer_hold_minutes(service: Service, start: dt.datetime, now: dt.datetime) -> int | None:
    """How long an offer of this slot can be held now, or None if too short to be of use."""
    settings = settings_of(service)
    margin = max(settings["notice_minutes"], OFFER_MARGIN_MINUTES)
    until_then = (start - dt.timedelta(minutes=margin) - now) // dt.timedelta(minutes=1)
    minutes = min(offer_minutes(), until_then)
    return minutes if minutes >= settings["hold_minutes"] else None


def _offer_to_first(session: Session, service: Service, start: dt.datetime, now: dt.datetime,
                    in_line: list[WaitingListEntry]) -> WaitingListEntry | None:
    """Offer the place to the first of `in_line` that can still be claimed."""
    if not service.active or not service.appointment_settings:
        return None
    try:
        find_slot(session, service, start, now)
    except InvalidInput:
        return None  # no longer a slot one may book: nothing to offer
    minutes = _offer_hold_minutes(service, start, now)
    if minutes is None:
        return None
    for entry in in_line:
        if _has_a_place(session, entry, now):
            continue  # booked meanwhile without the waiting list: one place is theirs already
        try:
            with session.begin_nested():
                if not _claim(session, entry):
                    continue  # another request offered this entry a place first
                appointment = book(session, entry.site_id, service.id, start, entry.language,
                                   {"email": entry.email, "phone": entry.phone}, now,
                                   hold=True, hold_minutes=minutes)
                entry.appointment_id = appointment.id
                session.flush()
                _record(session, appointment, "appointment_offered", now, entry=entry.id,
                        hold_expires_at=appointment.hold_expires_at.isoformat())
                return entry
        except Conflict:
            session.refresh(entry)
            return None  # the place was taken meanwhile
        except InvalidInput:
            session.refresh(entry)  # this entry cannot take it (its language was withdrawn)
    return None


def _claim(session: Session, entry: WaitingListEntry) -> bool:
    """waiting -> offered, only if still waiting: the one request that changes it wins."""
    return change_state(session, entry, WAITING, OFFERED)


def _change(session: Session, entry: WaitingListEntry, expected: str, state: str, kind: str,
            now: dt.datetime, **data) -> bool:
    """Change the entry's state only from the one expected; with its event if it changed."""
    changed = change_state(session, entry, expected, state)
    if changed:
        record_event(session, entry.site_id, kind, now, entry=entry.id,
                     service=entry.service_id, appointment=entry.appointment_id, **data)
    return changed


def _settle(session: Session, entry: WaitingListEntry, appointment: Appointment,
            now: dt.datetime) -> None:
    """An offered entry follows its hold: confirmed is booked, cancelled left, lapsed ended."""
    if appointment.state in (AppointmentState.BOOKED, AppointmentState.CHECKED_IN):
        _change(session, entry, OFFERED, BOOKED, "waiting_list_booked", now)
    elif appointment.state == AppointmentState.CANCELLED:
        _change(session, entry, OFFERED, LEFT, "waiting_list_left", now, reason="declined")
    elif appointment.state in (AppointmentState.EXPIRED, AppointmentState.MISSED):
        _change(session, entry, OFFERED, ENDED, "waiting_list_ended", now, reason="offer_lapsed")


def _lapsed(appointment: Appointment, now: dt.datetime) -> bool:
    return appointment.state == AppointmentState.HELD and appointment.hold_expires_at <= now


def _end_lapsed_offer(session: Session, entry: WaitingListEntry, now: dt.datetime) -> None:
    """The offer's hold expires (which ends the entry); its place goes to the next in line."""
    appointment = get_appointment(session, entry.appointment.token, now)
    session.refresh(entry)
    offer_place(session, appointment.service, appointment.start, now)


def _end_lapsed_offers(session: Session, now: dt.datetime) -> int:
    """End every offered entry whose hold lapsed or that no longer follows a hold; how many."""
    ended = 0
    for entry in session.scalars(select(WaitingListEntry).where(
            WaitingListEntry.state == OFFERED)).all():
        appointment = entry.appointment
        if _lapsed(appointment, now):
            # Expiring the hold ends the entry; the sweep then offers its place.
            get_appointment(session, appointment.token, now)
        elif appointment.state != AppointmentState.HELD:
            _settle(session, entry, appointment, now)  # a change booking did not tell of
        session.refresh(entry)
        ended += entry.state == ENDED
    return ended


def _end_passed_entries(session: Session, now: dt.datetime) -> int:
    """Waiting entries whose last day has passed in their site's zone end; how many."""
    ended = 0
    # No site's local day is more than a day past the UTC one: SQL narrows, each site decides.
    for entry in session.scalars(select(WaitingListEntry).where(
            WaitingListEntry.state == WAITING,
            WaitingListEntry.last_day < (now + dt.timedelta(days=1)).date())).all():
        if entry.last_day < OpeningHours.of(entry.site).local_day(now):
            ended += _change(session, entry, WAITING, ENDED, "waiting_list_ended", now,
                             reason="days_passed")
    return ended


def _offer_free_places(session: Session, service: Service, now: dt.datetime) -> int:
    """Offer each free place of a service, in time order, to the first in line for its day."""
    if not service.active or not service.appointment_settings:
        return 0
    in_line = list(session.scalars(select(WaitingListEntry).where(
        WaitingListEntry.service_id == service.id, WaitingListEntry.state == WAITING)
        .order_by(WaitingListEntry.created_at, WaitingListEntry.id)))
    earliest, horizon = booking_window(service, now)
    today = OpeningHours.of(service.site).local_day(now)
    days = set()
    for entry in in_line:
        day = max(entry.first_day, today)
        while day <= min(entry.last_day, horizon):
            days.add(day)
            day += dt.timedelta(days=1)
    desks = kept_desks(session, service)
    candidates = [(start, day) for day in sorted(days)
                  for start, _end, _spoken in day_slots(service, day, desks) if start >= earliest]
    taken = taken_places(session, service, [start for start, _day in candidates], now)
    places, offered = settings_of(service)["places"], 0
    for start, day in candidates:
        for _place in range(places - taken.get(start, 0)):
            fitting = [entry for entry in in_line
                       if entry.state == WAITING and entry.first_day <= day <= entry.last_day]
            if not fitting or _offer_to_first(session, service, start, now, fitting) is None:
                break
            offered += 1
    return offered
