"""When a service takes appointments: its slots, their free places, and who speaks what.

A service's settings come from the site file (`appointments:`, SCHEMA.md): slot
length, places per slot, weekly blocks of local time (each may name the
languages spoken in it), closed dates, the booking horizon and minimum notice,
and the desks kept for appointments. Slots are laid end to end from the start
of each block in real time, so a block across a daylight-saving change has one
slot more or fewer, and no slot ever falls outside the site's opening hours.
"""

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from tessera.clock import local_time
from tessera.errors import InvalidInput, NotFound
from tessera.models import MAX_ID, Appointment, AppointmentState, Counter, Service
from tessera.sites.catalogue import check_language
from tessera.sites.hours import WEEKDAYS, OpeningHours, parse_interval

MAX_DAYS = 31  # days one slots request may cover


@dataclass(frozen=True)
class Slot:
    """One slot: naive UTC bounds (as stored), free places, the languages spoken in it."""

    start: dt.datetime
    end: dt.datetime
    available: int
    languages: tuple[str, ...]
    interpreter: bool = False

    def as_dict(self, timezone: str) -> dict:
        """The slot as the API gives it: local times with their offset."""
        return {"start": local_time(self.start, timezone).isoformat(),
                "end": local_time(self.end, timezone).isoformat(), "available": self.available,
                "languages": list(self.languages), "interpreter": self.interpreter}


def get_service(session: Session, site_id: str, reference: int | str) -> Service:
    """An active service of the site by id or key, or NotFound."""
    column = Service.id if isinstance(reference, int) or str(reference).isdecimal() \
        else Service.key
    value = int(reference) if column is Service.id else reference
    if column is Service.id and not 1 <= value <= MAX_ID:
        value = None  # a number no id can be: no service, not a database error
    service = session.scalars(select(Service).where(
        Service.site_id == site_id, Service.offered, column == value)).first()
    if service is None:
        raise NotFound(_("There is no service '%(service)s' at this site.", service=reference),
                       "unknown_service")
    return service


def settings_of(service: Service) -> dict:
    """The service's appointment settings, or a refusal if it takes none."""
    if not service.appointment_settings:
        raise InvalidInput(_("This service does not take appointments."), "no_appointments")
    return service.appointment_settings


def kept_desks(session: Session, service: Service) -> list[Counter]:
    """The desks kept for this service's appointments; the others serve walk-in visitors."""
    keys = settings_of(service)["desks"]
    return list(session.scalars(select(Counter).where(
        Counter.site_id == service.site_id, Counter.key.in_(keys), Counter.active)))


def _spoken(block: dict, desks: list[Counter], site_language: str) -> tuple[str, ...]:
    """A block's languages: as named, else those usually spoken at the kept desks."""
    if block["languages"]:
        return tuple(block["languages"])
    usual = [language for desk in desks for language in desk.languages]
    return tuple(dict.fromkeys(usual or [site_language]))


def day_slots(service: Service, day: dt.date,
              desks: list[Counter]) -> list[tuple[dt.datetime, dt.datetime, tuple[str, ...]]]:
    """The local day's slots of a service as naive UTC (start, end, languages), in order."""
    settings = settings_of(service)
    site = service.site
    if str(day) in settings["closed_dates"]:
        return []
    opening = _merged(OpeningHours.of(site).intervals(day))
    zone, length = ZoneInfo(site.timezone), dt.timedelta(minutes=settings["slot_minutes"])
    found = []
    for block in settings["hours"].get(WEEKDAYS[day.weekday()], []):
        first, last = parse_interval(block["time"])
        start = _utc(dt.datetime.combine(day, first, zone))
        end = _utc(dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), zone)
                   if last is None else dt.datetime.combine(day, last, zone))
        languages = _spoken(block, desks, site.language)
        while start + length <= end:
            if any(open_ <= start and start + length <= close for open_, close in opening):
                found.append((start, start + length, languages))
            start += length
    return sorted(set(found))


def booking_window(service: Service, now: dt.datetime) -> tuple[dt.datetime, dt.date]:
    """The earliest start one may book now (minimum notice) and the last local day (horizon)."""
    settings = settings_of(service)
    today = OpeningHours.of(service.site).local_day(now)
    return (now + dt.timedelta(minutes=settings["notice_minutes"]),
            today + dt.timedelta(days=settings["horizon_days"]))


def taken_places(session: Session, service: Service, starts: list[dt.datetime],
                 now: dt.datetime) -> dict[dt.datetime, int]:
    """How many places of each slot are taken; an expired hold takes none."""
    if not starts:
        return {}
    rows = session.execute(
        select(Appointment.start, func.count()).where(
            Appointment.service_id == service.id, Appointment.start.in_(starts),
            or_(Appointment.state.in_((AppointmentState.BOOKED, AppointmentState.CHECKED_IN)),
                (Appointment.state == AppointmentState.HELD)
                & (Appointment.hold_expires_at > now)))
        .group_by(Appointment.start))
    return dict(rows.all())


def slots(session: Session, service: Service, start_day: dt.date, days: int,
          language: str | None, now: dt.datetime) -> list[Slot]:
    """The bookable slots of `days` local days from `start_day`, with their free places.

    Slots where `language` is spoken come first, then the others marked
    `interpreter` (an interpreter by phone); each group in time order.
    """
    settings = settings_of(service)
    if not 1 <= days <= MAX_DAYS:
        raise InvalidInput(_("Ask for 1 to %(most)s days of slots.", most=MAX_DAYS),
                           "invalid_days")
    if language is not None:
        check_language(service.site, language)
    earliest, last_day = booking_window(service, now)
    desks = kept_desks(session, service)
    candidates = [slot for offset in range(days)
                  if (day := start_day + dt.timedelta(days=offset)) <= last_day
                  for slot in day_slots(service, day, desks) if slot[0] >= earliest]
    taken = taken_places(session, service, [start for start, _end, _spoken in candidates], now)
    found = [Slot(start, end, max(settings["places"] - taken.get(start, 0), 0), spoken,
                  language is not None and language not in spoken)
             for start, end, spoken in candidates]
    return sorted(found, key=lambda slot: (slot.interpreter, slot.start))


def find_slot(session: Session, service: Service, start: dt.datetime,
              now: dt.datetime) -> tuple[dt.datetime, dt.datetime, tuple[str, ...]]:
    """The slot beginning at `start` (naive UTC) if one may book it now, else a clear refusal."""
    earliest, last_day = booking_window(service, now)
    hours = OpeningHours.of(service.site)
    day = hours.local_day(start)
    match = next((slot for slot in day_slots(service, day, kept_desks(session, service))
                  if slot[0] == start), None)
    if match is None:
        raise InvalidInput(_("There is no appointment slot of this service at that time."),
                           "not_a_slot")
    if start < earliest:
        raise InvalidInput(_("This slot is too soon to book: book at least %(minutes)s minutes "
                             "ahead.", minutes=settings_of(service)["notice_minutes"]),
                           "too_early")
    if day > last_day:
        raise InvalidInput(_("This slot is too far ahead: book at most %(days)s days ahead.",
                             days=settings_of(service)["horizon_days"]), "beyond_horizon")
    return match


def _merged(spans: list[tuple[dt.datetime, dt.datetime]]) -> list[tuple[dt.datetime, dt.datetime]]:
    """Opening intervals with those that touch joined, so a slot may span their seam."""
    merged: list[tuple[dt.datetime, dt.datetime]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(tzinfo=None)
