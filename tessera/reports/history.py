"""What the reports count of each visit, replayed from the append-only event log.

A visit belongs to the local service day of its ticket, so a range of dates is a range of
service days and a daylight-saving change needs no care here. The replay gives each step
the few facts every figure is made of (its wait, its handling, how it ended, whether the
desk spoke the visitor's language); the daily roll-ups (tessera.reports.rollups) store
exactly these facts, so a figure is the same whichever of the two it is read from.
"""

import bisect
import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from tessera.clock import local_time
from tessera.models import Event, Site, Step, Ticket

# How a report can group its figures: by what a visit used, or by when it came.
GROUPS = ("service", "organisation", "language", "hour", "day", "week", "month")
# The events a step's life is read from; the others (printing, desks) do not count here.
STEP_EVENTS = ("issued", "queued", "called", "started", "finished", "referred", "no_show",
               "cancelled", "expired", "undone")
ENDINGS = ("finished", "referred", "no_show", "cancelled", "expired")
SERVED = ("finished", "referred")


@dataclass(slots=True)
class StepFact:
    """One step of one visit, as the figures count it.

    `ending` is finished, referred, no_show, left (cancelled while queued or called: the
    visitor went away), cancelled (a planned step that ended with its visit, never
    queued), expired, or None while the step goes on.
    """

    ticket_id: int
    ordinal: int
    service_id: int | None
    queued: bool = False
    waited_minutes: float | None = None
    handling_minutes: float | None = None
    ending: str | None = None
    in_language: bool = False


@dataclass(slots=True)
class VisitFact:
    """One ticket: its language, service day, local arrival, and steps in journey order."""

    language: str
    day: dt.date
    arrival_hour: int
    arrival_weekday: int
    steps: list = field(default_factory=list)
    # The visitor's feedback score (1-5), when they gave one.
    score: int | None = None


@dataclass
class _StepLife:
    """A step while its events are replayed."""

    fact: StepFact
    started_at: dt.datetime | None = None
    # (kind, at, counter_id, was_queued) in order; an undo takes the last one back.
    endings: list = field(default_factory=list)


def period_key(day: dt.date, group: str) -> str | None:
    """The key of a local `day` in a grouping by day, week or month; None for the others.

    Weeks are ISO weeks ("2026-W05", Monday first, of the ISO year) and months "2026-01",
    so that keys sort in time order and read the same in every language.
    """
    if group == "day":
        return day.isoformat()
    if group == "week":
        return day.strftime("%G-W%V")
    if group == "month":
        return day.strftime("%Y-%m")
    return None


def event_window(site_id: str, first: dt.date, last: dt.date) -> tuple:
    """Conditions that bound the events of service days `first`..`last` by time.

    They let the database use the (site_id, at) index instead of reading every event;
    a day's own events lie between its local midnights, widened by a day either way
    for any time zone. The service day of the ticket is still what decides.
    """
    start = dt.datetime.combine(first, dt.time()) - dt.timedelta(days=1)
    end = dt.datetime.combine(last, dt.time()) + dt.timedelta(days=2)
    return Event.site_id == site_id, Event.at >= start, Event.at < end


class DutyLanguages:
    """The languages each desk was on duty in, as its `counter_opened` events record them.

    "Served in the visitor's language" means the desk that served was open in it: the
    duty at that moment, not the staff's account as it is today.
    """

    def __init__(self, session: Session, site_id: str, first: dt.date, last: dt.date):
        self.openings: dict[int, tuple[list, list]] = {}
        # Every desk closes with its service day, so the duties of `first`..`last` were
        # opened within their event window (a day wider already), or a day before it.
        _site, start, end = event_window(site_id, first - dt.timedelta(days=1), last)
        for counter_id, at, data in session.execute(
                select(Event.counter_id, Event.at, Event.data)
                .where(Event.site_id == site_id, start, end, Event.kind == "counter_opened")
                .order_by(Event.id)):
            moments, languages = self.openings.setdefault(counter_id, ([], []))
            moments.append(at)
            languages.append(set((data or {}).get("languages") or ()))

    def at(self, counter_id: int | None, moment: dt.datetime) -> set:
        """The languages desk `counter_id` was open in at `moment` (empty if unknown)."""
        moments, languages = self.openings.get(counter_id, ((), ()))
        index = bisect.bisect_right(moments, moment) - 1
        return languages[index] if index >= 0 else set()


def replay(session: Session, site: Site, first: dt.date, last: dt.date,
           language: str | None = None) -> dict[int, VisitFact]:
    """Every visit of the service days `first`..`last` (in `language` only, if given),
    replayed from its events, keyed by ticket id."""
    visits: dict[int, VisitFact] = {}
    lives: dict[int, _StepLife] = {}
    query = (select(Event.ticket_id, Event.step_id, Event.kind, Event.at, Event.counter_id,
                    Event.data, Step.service_id, Ticket.language, Ticket.service_day,
                    Ticket.arrived_at)
             .join(Ticket, Ticket.id == Event.ticket_id)
             .outerjoin(Step, Step.id == Event.step_id)
             .where(*event_window(site.id, first, last),
                    Ticket.service_day >= first, Ticket.service_day <= last,
                    Event.kind.in_(STEP_EVENTS))
             .order_by(Event.id))
    if language:
        query = query.where(Ticket.language == language)
    for (ticket_id, step_id, kind, at, counter_id, data, service_id, ticket_language, day,
         arrived_at) in session.execute(query):
        visit = visits.get(ticket_id)
        if visit is None:
            arrival = local_time(arrived_at, site.timezone)
            visit = visits[ticket_id] = VisitFact(ticket_language, day, arrival.hour,
                                                  arrival.weekday())
        if step_id is None:
            continue
        life = lives.get(step_id)
        if life is None:
            life = lives[step_id] = _StepLife(StepFact(ticket_id, len(visit.steps), service_id))
            visit.steps.append(life.fact)
        if kind == "queued":
            life.fact.queued = True
        elif kind == "called" and life.fact.waited_minutes is None:
            # The wait ends at the first call; a recall or a return does not restart it.
            life.fact.waited_minutes = (data or {}).get("waited_seconds", 0) / 60
        elif kind == "started":
            life.started_at = at
        elif kind in ENDINGS:
            life.endings.append((kind, at, counter_id, life.fact.queued))
        elif kind == "undone" and life.endings:
            life.endings.pop()
    speaks = DutyLanguages(session, site.id, first, last)
    for life in lives.values():
        _settle(life, visits[life.fact.ticket_id].language, speaks)
    return visits


def _settle(life: _StepLife, language: str, speaks: DutyLanguages) -> None:
    """Turn a replayed step's last ending into its fact's ending, handling and language."""
    fact = life.fact
    if not life.endings:
        return
    kind, at, counter_id, was_queued = life.endings[-1]
    if kind == "cancelled":
        # The visitor left while queued or called; a planned later step cancelled
        # with the visit was never queued, and is not a second departure.
        kind = "left" if was_queued else "cancelled"
    fact.ending = kind
    if kind in SERVED:
        # Served: the desk ended the step by finishing it or by referring the visitor on.
        fact.in_language = language in speaks.at(counter_id, at)
        if life.started_at is not None:
            fact.handling_minutes = (at - life.started_at).total_seconds() / 60
