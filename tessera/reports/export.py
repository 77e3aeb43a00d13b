"""Exports of reports (CSV, XLSX) with small-cell suppression, and the anonymised event log.

Nothing exported names a person or holds contact data: reports are counts and times, and
the event log keeps a visit number local to the export, the service, the language and the
times, never a ticket token, a staff member, a note or a free-text reason.
"""

import csv
import datetime as dt
import io

from flask_babel import lazy_gettext
from openpyxl import Workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from tessera.clock import local_time
from tessera.models import Counter, Event, Organisation, Service, Step, Ticket
from tessera.reports.figures import FIGURES
from tessera.reports.history import STEP_EVENTS, event_window
from tessera.sites.catalogue import get_site

# Column headings, translated when the export is made.
HEADINGS = {
    "key": lazy_gettext("Key"), "label": lazy_gettext("Group"),
    "visits": lazy_gettext("Visits"), "served": lazy_gettext("Served"),
    "no_shows": lazy_gettext("No-shows"), "left": lazy_gettext("Left"),
    "referrals": lazy_gettext("Referrals"),
    "mean_wait_minutes": lazy_gettext("Mean wait (min)"),
    "median_wait_minutes": lazy_gettext("Median wait (min)"),
    "p90_wait_minutes": lazy_gettext("90th percentile wait (min)"),
    "within_target": lazy_gettext("Within target"),
    "in_language": lazy_gettext("In the visitor's language"),
    "mean_handling_minutes": lazy_gettext("Mean handling (min)"),
    "median_handling_minutes": lazy_gettext("Median handling (min)"),
    "p90_handling_minutes": lazy_gettext("90th percentile handling (min)"),
    "no_show_rate": lazy_gettext("No-show rate"),
    "feedback_count": lazy_gettext("Feedback given"),
    "mean_feedback_score": lazy_gettext("Mean feedback score (1-5)"),
    "appointments_booked": lazy_gettext("Appointments booked"),
    "appointments_checked_in": lazy_gettext("Appointments checked in"),
    "appointments_missed": lazy_gettext("Appointments missed"),
    "appointments_cancelled": lazy_gettext("Appointments cancelled"),
    "mean_punctuality_minutes": lazy_gettext("Mean arrival against the slot (min)"),
    "on_time": lazy_gettext("Checked in on time"),
    "check_in_rate": lazy_gettext("Check-in rate"),
}
COLUMNS = ("key", "label", *FIGURES)
EVENT_COLUMNS = ("visit", "service_day", "local_time", "kind", "service", "organisation",
                 "language", "desk", "waited_minutes", "to_service")
TOTAL_KEY = "total"


def suppressed_mark(minimum: int) -> str:
    """What a suppressed cell shows: fewer than `minimum` visits."""
    return f"<{minimum}"


def report_rows(result: dict, minimum: int | None) -> list[list]:
    """The report as rows under COLUMNS, total last.

    With `minimum`, a group of fewer visits shows every figure as "<minimum": a partner
    must not be able to pick out a handful of visitors. The total is a group like any.
    """
    rows = []
    for group in [*result["groups"],
                  {"key": TOTAL_KEY, "label": str(lazy_gettext("Total")), **result["total"]}]:
        small = minimum is not None and group["visits"] < minimum
        rows.append([group["key"], group["label"]]
                    + [suppressed_mark(minimum) if small else group[name] for name in FIGURES])
    return rows


def headings(columns) -> list[str]:
    """The translated headings of `columns` (the event log's stay as field names)."""
    return [str(HEADINGS.get(name, name)) for name in columns]


def to_csv(columns, rows) -> str:
    """Rows as CSV text with one heading row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(headings(columns))
    writer.writerows(rows)
    return buffer.getvalue()


def to_xlsx(sheets: dict[str, tuple]) -> bytes:
    """A workbook of one sheet per name, each (columns, rows)."""
    book = Workbook()
    book.remove(book.active)
    for title, (columns, rows) in sheets.items():
        # Excel allows 31 characters and no []:*?/\ in a sheet title.
        sheet = book.create_sheet("".join(c for c in title if c not in "[]:*?/\\")[:31])
        sheet.append(headings(columns))
        for row in rows:
            sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def event_rows(session: Session, site_id: str, first: dt.date, last: dt.date,
               organisation_ids: set[int] | None = None) -> list[list]:
    """The anonymised step events of the service days `first`..`last`, in order.

    A visit is numbered 1, 2, ... in the order of the export, so that it cannot be joined
    to a ticket number or token; times are local, to the minute.
    """
    site = get_site(session, site_id)
    services = {s.id: s for s in session.scalars(
        select(Service).where(Service.site_id == site_id))}
    organisations = dict(session.execute(
        select(Organisation.id, Organisation.key).where(Organisation.site_id == site_id)).all())
    desks = dict(session.execute(
        select(Counter.id, Counter.key).where(Counter.site_id == site_id)).all())
    numbers: dict[int, int] = {}
    rows = []
    for ticket_id, kind, at, counter_id, data, service_id, language, day in session.execute(
            select(Event.ticket_id, Event.kind, Event.at, Event.counter_id, Event.data,
                   Step.service_id, Ticket.language, Ticket.service_day)
            .join(Ticket, Ticket.id == Event.ticket_id)
            .outerjoin(Step, Step.id == Event.step_id)
            .where(*event_window(site_id, first, last),
                   Ticket.service_day >= first, Ticket.service_day <= last,
                   Event.kind.in_(STEP_EVENTS))
            .order_by(Event.id)):
        data = data or {}
        service = services.get(service_id)
        if organisation_ids is not None and (
                service is None or service.organisation_id not in organisation_ids):
            continue
        visit = numbers.setdefault(ticket_id, len(numbers) + 1)
        waited = data.get("waited_seconds") if kind == "called" else None
        to_service = services.get(data.get("to_service_id"))
        rows.append([
            visit, day.isoformat(),
            local_time(at, site.timezone).strftime("%Y-%m-%d %H:%M"), kind,
            service.key if service else None,
            organisations.get(service.organisation_id) if service else None, language,
            desks.get(counter_id), None if waited is None else round(waited / 60, 1),
            to_service.key if to_service else None,
        ])
    return rows
