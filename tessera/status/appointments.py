"""What staff see of appointments: a desk's coming ones today, and a site's day per service.

No contact data ever leaves here: desks and managers see times, services,
languages and states, never an email address or a phone number. An appointment
still booked once its check-in window has closed is shown as missed at once,
before the worker's sweep (tessera/appointments/checkin.py mark_missed) marks it.
"""

import datetime as dt
from collections.abc import Mapping
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session, selectinload

from tessera.appointments.checkin import CheckInWindow
from tessera.clock import local_time
from tessera.errors import NotFound
from tessera.models import Appointment, AppointmentState, Counter, Service, Site
from tessera.sites.catalogue import translated
from tessera.sites.hours import OpeningHours, opening_words

# The states a day's figures count; held and expired places were never booked.
COUNTED = (AppointmentState.BOOKED, AppointmentState.CHECKED_IN, AppointmentState.MISSED,
           AppointmentState.CANCELLED)
# The states a desk is shown: a cancelled appointment will not come.
SHOWN_AT_DESK = (AppointmentState.BOOKED, AppointmentState.CHECKED_IN, AppointmentState.MISSED)


def check_in_window(config: Mapping) -> CheckInWindow:
    """The check-in window the configuration sets (CHECK_IN_EARLY_MINUTES, ..._LATE_MINUTES)."""
    return CheckInWindow(config["CHECK_IN_EARLY_MINUTES"], config["CHECK_IN_LATE_MINUTES"])


def local_day_bounds(site: Site, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The site's service day at `now` as naive UTC [start, end): local midnight to midnight."""
    day, zone = OpeningHours.of(site).local_day(now), ZoneInfo(site.timezone)
    bounds = [dt.datetime.combine(day + dt.timedelta(days=offset), dt.time(), zone)
              .astimezone(dt.UTC).replace(tzinfo=None) for offset in (0, 1)]
    return bounds[0], bounds[1]


def _shown_state(window: CheckInWindow, now: dt.datetime):
    """The state as staff should read it: booked past its check-in window is missed (SQL)."""
    closed_before = now - dt.timedelta(minutes=window.late_minutes)
    return case((and_(Appointment.state == AppointmentState.BOOKED,
                      Appointment.start < closed_before), AppointmentState.MISSED.value),
                else_=Appointment.state)


def desk_services(counter: Counter) -> list[Service]:
    """The services a desk serves now: those on duty, else all it may serve."""
    active = [service for service in counter.services if service.active]
    on_duty = [service for service in active if service.id in counter.duty_service_ids]
    return on_duty or active


def desk_appointments(session: Session, counter_id: int, language: str, now: dt.datetime,
                      window: CheckInWindow) -> list[dict]:
    """Today's appointments of the desk's services still to come or still to be served.

    Those whose slot has not ended or whose check-in window is still open, in
    time order: local start time, service, language, state (booked,
    checked_in or missed) and `interpreter` when no language of the desk's
    duty is the visitor's.
    """
    counter = session.scalars(select(Counter).where(Counter.id == counter_id).options(
        selectinload(Counter.services).selectinload(Service.texts),
        selectinload(Counter.site))).one()
    site = counter.site
    services = {service.id: service for service in desk_services(counter)}
    day_start, day_end = local_day_bounds(site, now)
    closed_before = now - dt.timedelta(minutes=window.late_minutes)
    state = _shown_state(window, now).label("shown_state")
    rows = session.execute(
        select(Appointment.id, Appointment.service_id, Appointment.start, Appointment.end,
               Appointment.language, state)
        .where(Appointment.site_id == site.id, Appointment.service_id.in_(services),
               Appointment.state.in_(SHOWN_AT_DESK),
               Appointment.start >= day_start, Appointment.start < day_end,
               (Appointment.end > now) | (Appointment.start >= closed_before))
        .order_by(Appointment.start, Appointment.id)).all()
    spoken = set(counter.duty_languages or counter.languages)
    return [{"id": row.id, "service_id": row.service_id,
             "service": services[row.service_id].text(language).name,
             "start": local_time(row.start, site.timezone).isoformat(),
             "time": local_time(row.start, site.timezone).strftime("%H:%M"),
             "language": row.language, "state": str(row.shown_state),
             "interpreter": row.language not in spoken}
            for row in rows]


def appointments_today(session: Session, site_id: str, language: str, now: dt.datetime,
                       window: CheckInWindow) -> list[dict]:
    """Per service taking appointments: today's booked, checked-in, missed and cancelled.

    One grouped query over the site's local day; `booked` counts those still
    to come or within their check-in window.
    """
    site = session.get(Site, site_id)
    day_start, day_end = local_day_bounds(site, now)
    state = _shown_state(window, now).label("shown_state")
    counts = {}
    for service_id, shown, count in session.execute(
            select(Appointment.service_id, state, func.count())
            .where(Appointment.site_id == site_id, Appointment.state.in_(COUNTED),
                   Appointment.start >= day_start, Appointment.start < day_end)
            .group_by(Appointment.service_id, state)):
        counts.setdefault(service_id, {})[str(shown)] = count
    services = session.scalars(select(Service).where(Service.site_id == site_id)
                               .options(selectinload(Service.texts), selectinload(Service.site))
                               .order_by(Service.position, Service.id)).all()
    return [{"service_id": service.id, "name": service.text(language).name,
             **{kind.value: counts.get(service.id, {}).get(kind.value, 0) for kind in COUNTED}}
            for service in services
            if (service.active and service.appointment_settings) or service.id in counts]


def bookable_services(session: Session, site_id: str, language: str) -> list[dict]:
    """The site's services that take appointments, grouped by organisation, in `language`.

    Staff may book any of them for a visitor, another organisation's as well.
    """
    services = session.scalars(
        select(Service).where(Service.site_id == site_id, Service.offered)
        .options(selectinload(Service.texts), selectinload(Service.site),
                 selectinload(Service.organisation))
        .order_by(Service.organisation_id, Service.position, Service.id)).all()
    groups: dict[int, dict] = {}
    for service in services:
        if not service.appointment_settings:
            continue  # takes no appointments (JSON null: not filtered in SQL alike everywhere)
        organisation = service.organisation
        group = groups.setdefault(organisation.id, {
            "organisation": translated(organisation.name, language, service.site),
            "services": []})
        group["services"].append({"id": service.id, "key": service.key,
                                  "name": service.text(language).name})
    return list(groups.values())


def printable_appointment(session: Session, site_id: str, appointment_id: int,
                          window: CheckInWindow) -> dict:
    """What the printed slip says, in the visitor's language: code, service, day, time, and
    from when check-in at the kiosk opens. NotFound for another site's appointment."""
    appointment = session.get(Appointment, appointment_id)
    if appointment is None or appointment.site_id != site_id:
        raise NotFound(_("There is no such appointment."), "unknown_appointment")
    site, language = appointment.site, appointment.language
    service = appointment.service
    words = opening_words(appointment.start, site.timezone, language)
    return {"id": appointment.id, "code": appointment.code, "token": appointment.token,
            "state": appointment.state.value, "language": language,
            "service": service.text(language).name,
            "organisation": translated(service.organisation.name, language, site),
            "site": translated(site.name, language, site),
            "day": words["day"], "time": words["time"],
            "check_in_from": opening_words(window.opens(appointment), site.timezone,
                                           language)["time"]}
