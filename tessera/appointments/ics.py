"""An appointment as an iCalendar file (RFC 5545), for the visitor to add to a calendar.

Times are written in UTC (`...Z`), which every calendar program reads the same
way and shows in its own zone. The UID is derived from the token without
revealing it, and stays the same when the appointment moves, so importing the
file again updates the event instead of adding a second one.
"""

import datetime as dt
import hashlib

from flask_babel import gettext as _
from icalendar import Calendar, Event

from tessera.models import Appointment, AppointmentState
from tessera.sites.catalogue import translated

PRODUCT = "-//Tessera//Appointments//EN"


def event_uid(appointment: Appointment) -> str:
    """A stable identifier of the appointment that does not give its token away."""
    digest = hashlib.sha256(appointment.token.encode()).hexdigest()[:32]
    return f"{digest}@tessera"


def appointment_calendar(appointment: Appointment, language: str, manage_link: str,
                         now: dt.datetime) -> bytes:
    """The .ics file of one appointment: service name in `language`, site, code, manage link.

    `now` (naive UTC) is the file's time stamp. A cancelled appointment gives a
    cancelled event, so a calendar that imports it again drops the visit.
    """
    site = appointment.site
    calendar = Calendar()
    calendar.add("prodid", PRODUCT)
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    event = Event()
    event.add("uid", event_uid(appointment))
    event.add("dtstamp", _utc(now))
    event.add("dtstart", _utc(appointment.start))
    event.add("dtend", _utc(appointment.end))
    event.add("summary", appointment.service.text(language).name)
    event.add("location", translated(site.name, language, site))
    event.add("description", "\n".join([
        _("Your appointment code: %(code)s", code=appointment.code),
        _("Show this code at the kiosk when you arrive."),
        _("See, move or cancel your appointment: %(link)s", link=manage_link)]))
    event.add("url", manage_link)
    event.add("status", "CANCELLED" if appointment.state == AppointmentState.CANCELLED
              else "CONFIRMED")
    calendar.add_component(event)
    return calendar.to_ical()


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=dt.UTC)
