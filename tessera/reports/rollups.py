"""Daily roll-ups: the step facts of each closed service day, kept in SQL for the reports.

Replaying a year of events takes seconds; reading a year of roll-ups a fraction of one.
A day is rolled up once the site has closed it (`Site.closed_through`), by the RQ job
`worker.reports.roll_up_reports`; days not rolled up yet (today, above all) are replayed
from the events when a report asks. The roll-ups are derived data, never a second truth:
`rebuild` drops them and rolls them again from the events, and a rolled-up day whose step
events grow later (a step of it swept up by a late close) is rolled up again by the next
run. The figures are the same whichever source a day is read from (tested).
"""

import datetime as dt
from collections.abc import Iterator

from sqlalchemy import (
    Boolean,
    Date,
    Integer,
    String,
    delete,
    func,
    insert,
    select,
    type_coerce,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tessera.clock import local_time
from tessera.database import Database
from tessera.models import (
    Event,
    ReportAppointment,
    ReportDay,
    ReportStep,
    ReportWatermark,
    Site,
    Ticket,
)
from tessera.reports.appointments import EVENTS as APPOINTMENT_EVENTS
from tessera.reports.appointments import AppointmentFact, replay_appointments
from tessera.reports.history import STEP_EVENTS, StepFact, VisitFact, replay
from tessera.sites.catalogue import get_site

# Days replayed per transaction: on SQLite a roll-up holds the write lock while it
# writes, and a week of a busy centre is written in a fraction of a second.
DAYS_PER_TRANSACTION = 7
STEP_COLUMNS = ("ticket_id", "ordinal", "service_id", "queued", "waited_minutes",
                "handling_minutes", "ending", "in_language")
APPOINTMENT_COLUMNS = ("appointment_id", "slot_hour", "service_id", "language", "ending",
                       "punctuality_minutes")


def roll_up(database: Database, site_id: str) -> list[dt.date]:
    """Roll up the site's closed days not rolled up yet, and those whose events grew.

    Idempotent, and cheap when nothing is due; returns the days rolled up.
    """
    _ensure_watermark(database, site_id)
    with database.session() as session:
        # The watermark row's lock keeps two roll-ups of one site from writing one day twice.
        watermark = session.get(ReportWatermark, site_id, with_for_update=True)
        site = session.get(Site, site_id)
        top = session.scalar(select(func.max(Event.id)).where(Event.site_id == site_id)) or 0
        due = _days_due(session, site, watermark.event_id, top)
    for days in _chunks(sorted(due)):
        with database.session() as session:
            session.get(ReportWatermark, site_id, with_for_update=True)
            _write_days(session, session.get(Site, site_id), days)
    with database.session() as session:
        watermark = session.get(ReportWatermark, site_id, with_for_update=True)
        watermark.event_id = max(watermark.event_id, top)
    return sorted(due)


def roll_up_sites(database: Database, site_id: str | None = None, *,
                  from_scratch: bool = False) -> dict[str, list[dt.date]]:
    """Roll up every site (or `site_id` only; a 404 if there is none), or rebuild them
    `from_scratch`; the days rolled up per site."""
    with database.session() as session:
        if site_id is not None:
            get_site(session, site_id)
        site_ids = [site_id] if site_id else list(session.scalars(select(Site.id)))
    action = rebuild if from_scratch else roll_up
    return {site: action(database, site) for site in site_ids}


def rebuild(database: Database, site_id: str) -> list[dt.date]:
    """Drop the site's roll-ups and roll every closed day up again from its events."""
    with database.session() as session:
        for model in (ReportStep, ReportAppointment, ReportDay, ReportWatermark):
            session.execute(delete(model).where(model.site_id == site_id))
    return roll_up(database, site_id)


def _ensure_watermark(database: Database, site_id: str) -> None:
    """The site's watermark row exists (a concurrent run may have made it first)."""
    with database.session() as session:
        if session.get(ReportWatermark, site_id) is not None:
            return
    try:
        with database.session() as session:
            session.add(ReportWatermark(site_id=site_id, event_id=0))
    except IntegrityError:
        pass


def _days_due(session: Session, site: Site, since_event: int, top: int) -> set[dt.date]:
    """The closed days never rolled up, and the rolled-up ones with step or appointment
    events since."""
    if site is None or site.closed_through is None:
        return set()
    latest = session.scalar(select(func.max(ReportDay.service_day))
                            .where(ReportDay.site_id == site.id))
    start = (latest + dt.timedelta(days=1) if latest else
             session.scalar(select(func.min(Ticket.service_day))
                            .where(Ticket.site_id == site.id)))
    due = set()
    # Every calendar day, those without a visit too: a report then finds its whole
    # range rolled up and replays nothing but today.
    day = start
    while day is not None and day <= site.closed_through:
        due.add(day)
        day += dt.timedelta(days=1)
    if latest is not None:
        due |= set(session.scalars(
            select(Ticket.service_day).distinct()
            .join(Event, Event.ticket_id == Ticket.id)
            .where(Event.site_id == site.id, Event.id > since_event, Event.id <= top,
                   Event.kind.in_(STEP_EVENTS), Ticket.service_day <= latest)))
        # An appointment event names the slot it is about (and a move the one it left).
        for start, moved_from in session.execute(
                select(Event.data["start"].as_string(), Event.data["moved_from"].as_string())
                .where(Event.site_id == site.id, Event.id > since_event, Event.id <= top,
                       Event.kind.in_(APPOINTMENT_EVENTS))):
            for slot in (start, moved_from):
                if slot:
                    day = local_time(dt.datetime.fromisoformat(slot), site.timezone).date()
                    if day <= latest:
                        due.add(day)
    return due


def _chunks(days: list[dt.date]) -> Iterator[list[dt.date]]:
    """Runs of consecutive days, at most DAYS_PER_TRANSACTION long."""
    run: list[dt.date] = []
    for day in days:
        if run and (day - run[-1] != dt.timedelta(days=1) or len(run) == DAYS_PER_TRANSACTION):
            yield run
            run = []
        run.append(day)
    if run:
        yield run


def _write_days(session: Session, site: Site, days: list[dt.date]) -> None:
    """Replace the roll-ups of the consecutive `days` with their replay."""
    first, last = days[0], days[-1]
    visits = replay(session, site, first, last)
    session.execute(delete(ReportStep).where(ReportStep.site_id == site.id,
                                             ReportStep.service_day.between(first, last)))
    session.execute(delete(ReportAppointment).where(
        ReportAppointment.site_id == site.id, ReportAppointment.service_day.between(first, last)))
    session.execute(delete(ReportDay).where(ReportDay.site_id == site.id,
                                            ReportDay.service_day.between(first, last)))
    booked = [{"site_id": site.id, "service_day": fact.day,
               **{name: getattr(fact, name) for name in APPOINTMENT_COLUMNS}}
              for fact in replay_appointments(session, site, first, last)]
    if booked:
        session.execute(insert(ReportAppointment), booked)
    rows = [{"site_id": site.id, "service_day": visit.day, "language": visit.language,
             "arrival_hour": visit.arrival_hour, "arrival_weekday": visit.arrival_weekday,
             **{name: getattr(step, name) for name in STEP_COLUMNS}}
            for visit in visits.values() for step in visit.steps]
    if rows:
        session.execute(insert(ReportStep), rows)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    session.execute(insert(ReportDay), [{"site_id": site.id, "service_day": day,
                                         "rolled_at": now} for day in days])


def load_visits(session: Session, site: Site, first: dt.date, last: dt.date,
                service_ids: set[int] | None = None,
                language: str | None = None) -> dict[int, VisitFact]:
    """Every visit of the service days `first`..`last`: rolled-up days from their
    roll-ups, the others replayed from the events.

    `service_ids` keeps only the steps of those services (and the visits with one);
    `language` keeps only the visits in that language.
    """
    rolled = _rolled_days(session, site.id, first, last)
    visits = _read_rolled(session, site.id, first, last, service_ids, language) if rolled else {}
    for run_first, run_last in _unrolled_runs(first, last, rolled):
        for ticket_id, visit in replay(session, site, run_first, run_last, language).items():
            if service_ids is not None:
                visit.steps = [step for step in visit.steps if step.service_id in service_ids]
            if visit.steps:
                visits[ticket_id] = visit
    return visits


# What a report counts of each step, in this order: one tuple per step.
COUNTED_COLUMNS = ("ticket_id", "service_day", "language", "arrival_hour", "service_id",
                   "waited_minutes", "handling_minutes", "ending", "in_language")


def load_steps(session: Session, site: Site, first: dt.date, last: dt.date,
               service_ids: set[int] | None = None,
               language: str | None = None) -> list[tuple]:
    """Every step of the service days `first`..`last` as a COUNTED_COLUMNS tuple, through
    the same filters as `load_visits`: what the figures need, and no more.

    A year of a busy centre is a hundred thousand steps: plain tuples, read at once, keep
    a report of it within its two seconds where a visit object each would not.
    """
    rolled = _rolled_days(session, site.id, first, last)
    steps: list[tuple] = []
    if rolled:
        query = _rolled_rows(ReportStep, COUNTED_COLUMNS, site.id, first, last, service_ids,
                             language)
        steps = session.connection().execute(query).all()
    for run_first, run_last in _unrolled_runs(first, last, rolled):
        for ticket_id, visit in replay(session, site, run_first, run_last, language).items():
            steps += [(ticket_id, visit.day, visit.language, visit.arrival_hour,
                       step.service_id, step.waited_minutes, step.handling_minutes,
                       step.ending, step.in_language)
                      for step in visit.steps
                      if service_ids is None or step.service_id in service_ids]
    return steps


def _raw(column):
    """`column` as the driver gives it: SQLite's dates stay ISO text and its booleans 0
    or 1, without a conversion per row (the figures take either; `day_of` reads a day)."""
    if isinstance(column.type, Date):
        return type_coerce(column, String).label(column.key)
    if isinstance(column.type, Boolean):
        return type_coerce(column, Integer).label(column.key)
    return column


def day_of(value, known: dict | None = None) -> dt.date:
    """A service day as `_raw` columns give it: a date, or its ISO text on SQLite; read
    once per day with `known`, a dict kept across the rows."""
    if not isinstance(value, str):
        return value
    if known is None:
        return dt.date.fromisoformat(value)
    day = known.get(value)
    return day if day is not None else known.setdefault(value, dt.date.fromisoformat(value))


def load_appointments(session: Session, site: Site, first: dt.date, last: dt.date,
                      service_ids: set[int] | None = None,
                      language: str | None = None) -> list[AppointmentFact]:
    """Every booked appointment of the local dates `first`..`last` (of those services, in
    that language, if given): rolled-up days from their roll-ups, the others replayed."""
    rolled = _rolled_days(session, site.id, first, last)
    facts = []
    if rolled:
        query = _rolled_rows(ReportAppointment, ("service_day", *APPOINTMENT_COLUMNS), site.id,
                             first, last, service_ids, language)
        days: dict = {}
        facts = [AppointmentFact(row[1], day_of(row[0], days), *row[2:])
                 for row in session.connection().execute(query).all()]
    for run_first, run_last in _unrolled_runs(first, last, rolled):
        facts += replay_appointments(session, site, run_first, run_last,
                                     service_ids=service_ids, language=language)
    return facts


def _rolled_days(session: Session, site_id: str, first: dt.date,
                 last: dt.date) -> set[dt.date]:
    """The days of `first`..`last` that are rolled up."""
    return set(session.scalars(select(ReportDay.service_day).where(
        ReportDay.site_id == site_id, ReportDay.service_day.between(first, last))))


def _unrolled_runs(first: dt.date, last: dt.date,
                   rolled: set[dt.date]) -> Iterator[tuple[dt.date, dt.date]]:
    """The runs of consecutive days of `first`..`last` that are not rolled up."""
    day, start = first, None
    while day <= last:
        if day in rolled:
            if start is not None:
                yield start, day - dt.timedelta(days=1)
            start = None
        elif start is None:
            start = day
        day += dt.timedelta(days=1)
    if start is not None:
        yield start, last


def _rolled_rows(model, columns, site_id: str, first: dt.date, last: dt.date,
                 service_ids: set[int] | None, language: str | None):
    """The query of `columns` of roll-up `model` (report_step or report_appointment) for
    the site's days `first`..`last`, of those services and in that language, if given."""
    query = (select(*(_raw(getattr(model, name)) for name in columns))
             .where(model.site_id == site_id, model.service_day.between(first, last)))
    if service_ids is not None:
        query = query.where(model.service_id.in_(service_ids))
    if language:
        query = query.where(model.language == language)
    return query


def _read_rolled(session: Session, site_id: str, first: dt.date, last: dt.date,
                 service_ids: set[int] | None, language: str | None) -> dict[int, VisitFact]:
    """The rolled-up visits of `first`..`last`, through the same filters."""
    query = _rolled_rows(ReportStep, ("service_day", "language", "arrival_hour",
                                      "arrival_weekday", *STEP_COLUMNS),
                         site_id, first, last, service_ids, language)
    # A day's rows are written visit by visit, each visit's steps in journey order, so
    # the order of their ids is that order: no sort in Python, and the index gives it.
    query = query.order_by(ReportStep.service_day, ReportStep.id)
    visits: dict[int, VisitFact] = {}
    days: dict = {}
    # Plain rows off the connection, fetched at once: the ORM's result machinery, and a
    # fetch per row, add nothing to a tuple.
    for row in session.connection().execute(query).all():
        visit = visits.get(row[4])
        if visit is None:
            visit = visits[row[4]] = VisitFact(row[1], day_of(row[0], days), row[2], row[3])
        visit.steps.append(StepFact(*row[4:]))
    return visits
