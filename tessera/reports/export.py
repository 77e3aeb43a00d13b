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
    "weekday": lazy_gettext("Weekday"), "source": lazy_gettext("From"),
    "target": lazy_gettext("To"), "last_service": lazy_gettext("Service"),
    "ending": lazy_gettext("How"),
}
WEEKDAY_NAMES = (lazy_gettext("Monday"), lazy_gettext("Tuesday"), lazy_gettext("Wednesday"),
                 lazy_gettext("Thursday"), lazy_gettext("Friday"), lazy_gettext("Saturday"),
                 lazy_gettext("Sunday"))
# How an unfinished journey ended, in words.
ENDING_NAMES = {"no_show": lazy_gettext("No-show"), "left": lazy_gettext("Left"),
                "expired": lazy_gettext("Day closed first"),
                "referred": lazy_gettext("Referred")}
COLUMNS = ("key", "label", *FIGURES)
EVENT_COLUMNS = ("visit", "service_day", "local_time", "kind", "service", "organisation",
                 "language", "desk", "waited_minutes", "to_service")
TOTAL_KEY = "total"


def suppressed_mark(minimum: int) -> str:
    """What a suppressed cell shows: fewer than `minimum` visits."""
    return f"<{minimum}"


def suppressed(counts: list[int], minimum: int) -> set[int]:
    """The indexes of `counts` to hide so that no fewer than `minimum` visits can be read.

    A count from 1 to minimum - 1 is hidden; and then, as long as only one is hidden or
    the hidden ones add up to fewer than `minimum`, the smallest shown count too, since a
    lone hidden cell is the total minus the others. Zeros stay: they name nobody.
    """
    hidden = {index for index, count in enumerate(counts) if 0 < count < minimum}
    shown = sorted((count, index) for index, count in enumerate(counts)
                   if count > 0 and index not in hidden)
    while hidden and shown and (len(hidden) < 2
                                or sum(counts[index] for index in hidden) < minimum):
        hidden.add(shown.pop(0)[1])
    return hidden


def report_rows(result: dict, minimum: int | None) -> list[list]:
    """The report as rows under COLUMNS, total last.

    With `minimum`, a group of fewer visits shows every figure as "<minimum", and so do
    the groups that would give it away (`suppressed`): a partner must not be able to pick
    out a handful of visitors. A total of fewer visits is hidden too.
    """
    groups = [*result["groups"],
              {"key": TOTAL_KEY, "label": str(lazy_gettext("Total")), **result["total"]}]
    hidden = set()
    if minimum is not None:
        hidden = suppressed([group["visits"] for group in groups[:-1]], minimum)
        if groups[-1]["visits"] < minimum:
            hidden.add(len(groups) - 1)
    return [[group["key"], group["label"]]
            + [suppressed_mark(minimum) if index in hidden else group[name] for name in FIGURES]
            for index, group in enumerate(groups)]


def journey_tables(flows: dict, minimum: int | None) -> dict[str, tuple]:
    """The heat map, the flows and the unfinished journeys as (columns, rows) tables,
    with the counts `suppressed` below `minimum`."""

    def hide(counts: list[int]) -> list:
        hidden = suppressed(counts, minimum) if minimum is not None else set()
        return [suppressed_mark(minimum) if index in hidden else count
                for index, count in enumerate(counts)]

    hours = [f"{hour:02d}" for hour in range(24)]
    cells = hide([count for counts in flows["arrivals"] for count in counts])
    return {
        "arrivals": (("weekday", *hours),
                     [[str(WEEKDAY_NAMES[day]), *cells[day * 24:(day + 1) * 24]]
                      for day in range(7)]),
        **{table: (("source", "target", "visits"),
                   [[flow["source"], flow["target"], count] for flow, count
                    in zip(flows[table], hide([f["visits"] for f in flows[table]]),
                           strict=True)])
           for table in ("flows", "organisation_flows")},
        "unfinished": (("last_service", "ending", "visits"),
                       [[end["service"], str(ENDING_NAMES.get(end["ending"], end["ending"])), count]
                        for end, count in zip(flows["unfinished"],
                                              hide([e["visits"] for e in flows["unfinished"]]),
                                              strict=True)]),
    }


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
