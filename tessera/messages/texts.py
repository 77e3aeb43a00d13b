"""What a message says, in the visitor's language: a subject and a few plain lines.

Workers have no request and so no Flask-Babel locale: texts are translated with
the project's compiled catalogues directly, as printed tickets are
(tessera.printing.content.catalogue_translator), and dates are written by
Babel in the visitor's locale, in the site's time zone.
"""

import datetime as dt
from dataclasses import dataclass

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time

from tessera.clock import local_time
from tessera.links import manage_appointment_url
from tessera.messages.outbox import CANCELLATION, CONFIRMATION, MOVED_PREFIX, OFFER
from tessera.models import Appointment
from tessera.printing.content import APPOINTMENT_AT, N_, Translator, catalogue_translator

SUBJECTS = {
    CONFIRMATION: N_("Your appointment is booked"),
    MOVED_PREFIX: N_("Your appointment has a new time"),
    CANCELLATION: N_("Your appointment is cancelled"),
    OFFER: N_("A place is free for you"),
    "reminder": N_("Reminder of your appointment"),
}
SERVICE = N_("Service: %(service)s")
CODE = N_("Your code: %(code)s")
SHOW_CODE = N_("When you arrive, type or show this code at the kiosk.")
MANAGE = N_("See, move or cancel your appointment: %(link)s")
CANCELLED = N_("This appointment is cancelled. You do not need to come.")
OFFERED = N_("A place has become free. It is kept for you until %(time)s.")
CONFIRM_OFFER = N_("Confirm it here: %(link)s")


@dataclass(frozen=True)
class Text:
    """A message's subject (email only) and body, and the language they are in."""

    language: str
    subject: str
    body: str

    @property
    def short(self) -> str:
        """The text for an SMS: the subject, then the body on as few lines as possible."""
        return self.subject + "\n" + self.body


def compose(kind: str, appointment: Appointment, public_url: str,
            translate: Translator = catalogue_translator) -> Text:
    """The text of a message of `kind` about `appointment` (with its site and service loaded)."""
    language = appointment.language
    site = appointment.site

    def say(message: str, **values) -> str:
        return translate(language, message) % values if values else translate(language, message)

    link = manage_appointment_url(public_url, appointment.token)
    when = local_date_time(appointment.start, site.timezone, language)
    lines = [say(APPOINTMENT_AT, time=when),
             say(SERVICE, service=appointment.service.text(language).name),
             say(CODE, code=appointment.code)]
    if kind == CANCELLATION:
        lines.append(say(CANCELLED))
    elif kind == OFFER:
        until = local_date_time(appointment.hold_expires_at, site.timezone, language)
        lines += [say(OFFERED, time=until), say(CONFIRM_OFFER, link=link)]
    else:
        lines += [say(SHOW_CODE), say(MANAGE, link=link)]
    return Text(language, say(SUBJECTS[_subject_key(kind)]), "\n".join(lines))


def local_date_time(moment: dt.datetime, timezone: str, language: str) -> str:
    """A naive UTC time as the visitor reads a date and time, in the site's zone."""
    local = local_time(moment, timezone)
    locale = _locale(language)
    return f"{format_date(local.date(), 'full', locale=locale)} " \
           f"{format_time(local.time(), 'short', locale=locale)}"


def _subject_key(kind: str) -> str:
    if kind.startswith(MOVED_PREFIX):
        return MOVED_PREFIX
    return "reminder" if kind.startswith("reminder:") else kind


def _locale(language: str) -> Locale:
    # Babel knows most languages; one it does not know is written the English way.
    try:
        return Locale.parse(language.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return Locale.parse("en")
