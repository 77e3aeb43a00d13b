"""Report figures per group, computed from the append-only event log (DESIGN invariant 3).

Plain functions on a SQLAlchemy session, testable without HTTP. A visit belongs to the
local service day of its ticket, so a range of dates is a range of service days and a
daylight-saving change needs no care here.
"""

import bisect
import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass, field

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from tessera.clock import local_time
from tessera.errors import InvalidInput
from tessera.models import Event, Organisation, Service, Step, Ticket
from tessera.sites.catalogue import get_site, translated

GROUPS = ("service", "organisation", "language", "hour", "day")
# A report over more than this many days is refused: the figures stay fast and exact.
MAX_DAYS = 366
# The events a step's life is read from; the others (printing, desks) do not count here.
STEP_EVENTS = ("issued", "queued", "called", "started", "finished", "referred", "no_show",
               "cancelled", "expired", "undone")
ENDINGS = ("finished", "referred", "no_show", "cancelled", "expired")
FIGURES = ("visits", "served", "no_shows", "left", "referrals", "mean_wait_minutes",
           "median_wait_minutes", "p90_wait_minutes", "within_target", "in_language",
           "mean_handling_minutes", "median_handling_minutes", "p90_handling_minutes",
           "no_show_rate")


def parse_day(value: str | None, name: str) -> dt.date:
    """A YYYY-MM-DD query parameter, or a 422 naming the parameter."""
    try:
        return dt.date.fromisoformat(value or "")
    except ValueError:
        raise InvalidInput(_("%(name)s must be a date written YYYY-MM-DD.", name=name),
                           "invalid_date", parameter=name) from None


def check_range(first: dt.date, last: dt.date) -> None:
    """422 unless `first`..`last` is an ordered range of at most MAX_DAYS days."""
    if last < first:
        raise InvalidInput(_("The range ends before it starts."), "invalid_range")
    if (last - first).days + 1 > MAX_DAYS:
        raise InvalidInput(_("A report covers at most %(days)d days.", days=MAX_DAYS),
                           "invalid_range")


def check_group(group: str | None) -> str:
    """The grouping asked for, or a 422 listing the accepted ones."""
    if group not in GROUPS:
        raise InvalidInput(_("group must be one of: %(groups)s.", groups=", ".join(GROUPS)),
                           "invalid_group", accepted=list(GROUPS))
    return group


@dataclass
class StepLife:
    """One step as its events tell it."""

    ticket_id: int
    service_id: int | None = None
    queued: bool = False
    waited_minutes: float | None = None
    started_at: dt.datetime | None = None
    # Endings in order; an undo takes the last one back.
    endings: list = field(default_factory=list)

    @property
    def ending(self) -> tuple | None:
        """The (kind, at, counter_id, was_queued) that ended the step, if it is ended."""
        return self.endings[-1] if self.endings else None


@dataclass
class Visit:
    """One ticket: its language, arrival and steps."""

    language: str
    day: dt.date
    arrived_at: dt.datetime
    steps: list = field(default_factory=list)


def percentile(values: list[float], share: float) -> float | None:
    """The nearest-rank percentile (share 0.5 = median, 0.9 = 90th), or None if empty.

    Nearest rank, because it is always one of the observed waits and easy to check by hand.
    """
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 1) if values else None


def _share(hits: int, total: int) -> float | None:
    return round(hits / total, 3) if total else None


def event_window(site_id: str, first: dt.date, last: dt.date) -> tuple:
    """Conditions that bound the events of service days `first`..`last` by time.

    They let the database use the (site_id, at) index instead of reading every event;
    a day's own events lie between its local midnights, widened by a day either way
    for any time zone. The service day of the ticket is still what decides.
    """
    start = dt.datetime.combine(first, dt.time()) - dt.timedelta(days=1)
    end = dt.datetime.combine(last, dt.time()) + dt.timedelta(days=2)
    return Event.site_id == site_id, Event.at >= start, Event.at < end


def load_visits(session: Session, site_id: str, first: dt.date, last: dt.date,
                service_ids: set[int] | None = None,
                language: str | None = None) -> dict[int, Visit]:
    """Every visit of the service days `first`..`last`, rebuilt from its events.

    `service_ids` keeps only the steps of those services (and the visits with one);
    `language` keeps only the visits in that language.
    """
    visits: dict[int, Visit] = {}
    steps: dict[int, StepLife] = {}
    query = (select(Event.ticket_id, Event.step_id, Event.kind, Event.at, Event.counter_id,
                    Event.data, Step.service_id, Ticket.language, Ticket.service_day,
                    Ticket.arrived_at)
             .join(Ticket, Ticket.id == Event.ticket_id)
             .outerjoin(Step, Step.id == Event.step_id)
             .where(*event_window(site_id, first, last),
                    Ticket.service_day >= first, Ticket.service_day <= last,
                    Event.kind.in_(STEP_EVENTS))
             .order_by(Event.id))
    if language:
        query = query.where(Ticket.language == language)
    for (ticket_id, step_id, kind, at, counter_id, data, service_id, ticket_language, day,
         arrived_at) in session.execute(query):
        visit = visits.get(ticket_id)
        if visit is None:
            visit = visits[ticket_id] = Visit(ticket_language, day, arrived_at)
        if step_id is None:
            continue
        life = steps.get(step_id)
        if life is None:
            life = steps[step_id] = StepLife(ticket_id, service_id)
            visit.steps.append(life)
        data = data or {}
        if kind == "queued":
            life.queued = True
        elif kind == "called" and life.waited_minutes is None:
            # The wait ends at the first call; a recall or a return does not restart it.
            life.waited_minutes = data.get("waited_seconds", 0) / 60
        elif kind == "started":
            life.started_at = at
        elif kind in ENDINGS:
            life.endings.append((kind, at, counter_id, life.queued))
        elif kind == "undone" and life.endings:
            life.endings.pop()
    if service_ids is not None:
        for visit in visits.values():
            visit.steps = [s for s in visit.steps if s.service_id in service_ids]
        visits = {key: visit for key, visit in visits.items() if visit.steps}
    return visits


class DutyLanguages:
    """The languages each desk was on duty in, as its `counter_opened` events record them.

    "Served in the visitor's language" means the desk that served was open in it: the
    duty at that moment, not the staff's account as it is today.
    """

    def __init__(self, session: Session, site_id: str):
        self.openings: dict[int, tuple[list, list]] = {}
        for counter_id, at, data in session.execute(
                select(Event.counter_id, Event.at, Event.data)
                .where(Event.site_id == site_id, Event.kind == "counter_opened")
                .order_by(Event.id)):
            moments, languages = self.openings.setdefault(counter_id, ([], []))
            moments.append(at)
            languages.append(set((data or {}).get("languages") or ()))

    def at(self, counter_id: int | None, moment: dt.datetime) -> set:
        """The languages desk `counter_id` was open in at `moment` (empty if unknown)."""
        moments, languages = self.openings.get(counter_id, ((), ()))
        index = bisect.bisect_right(moments, moment) - 1
        return languages[index] if index >= 0 else set()


class Tally:
    """The figures of one group, added to one visit or step at a time."""

    def __init__(self):
        self.tickets = set()
        self.served = self.no_shows = self.left = self.referrals = 0
        self.waits, self.handling = [], []
        self.within = self.in_language = 0

    def add(self, visit_id: int, visit: Visit, life: StepLife, target: float | None,
            speaks: "DutyLanguages") -> None:
        """Count one step of one visit."""
        self.tickets.add(visit_id)
        if life.waited_minutes is not None:
            self.waits.append(life.waited_minutes)
            if target is not None and life.waited_minutes <= target:
                self.within += 1
        ending = life.ending
        if ending is None:
            return
        kind, at, counter_id, was_queued = ending
        if kind in ("finished", "referred"):
            # Served: the desk ended the step by finishing it or by referring the visitor on.
            self.served += 1
            if visit.language in speaks.at(counter_id, at):
                self.in_language += 1
            if life.started_at is not None:
                self.handling.append((at - life.started_at).total_seconds() / 60)
            if kind == "referred":
                self.referrals += 1
        elif kind == "no_show":
            self.no_shows += 1
        elif kind == "cancelled" and was_queued:
            # The visitor left while queued or called; a planned later step cancelled
            # with the visit was never queued, and is not a second departure.
            self.left += 1

    def figures(self) -> dict:
        """The group's figures (minutes to one decimal, shares to three)."""
        called = len(self.waits)
        return {
            "visits": len(self.tickets), "served": self.served, "no_shows": self.no_shows,
            "left": self.left, "referrals": self.referrals,
            "mean_wait_minutes": _mean(self.waits),
            "median_wait_minutes": _round(percentile(self.waits, 0.5)),
            "p90_wait_minutes": _round(percentile(self.waits, 0.9)),
            "within_target": _share(self.within, called),
            "in_language": _share(self.in_language, self.served),
            "mean_handling_minutes": _mean(self.handling),
            "median_handling_minutes": _round(percentile(self.handling, 0.5)),
            "p90_handling_minutes": _round(percentile(self.handling, 0.9)),
            "no_show_rate": _share(self.no_shows, called),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def report(session: Session, site_id: str, first: dt.date, last: dt.date, group: str, *,
           service_ids: set[int] | None = None, organisation_ids: set[int] | None = None,
           language: str | None = None, label_language: str | None = None) -> dict:
    """The report of `first`..`last` (service days, inclusive) grouped by `group`.

    Filters: `service_ids`, `organisation_ids` (both narrow the steps counted: an
    organisation's staff see their organisation's services only) and the visit `language`.
    Labels are in `label_language`, else the site language. A visit counts once in every
    group it has a step in, and once in the total.
    """
    check_group(group)
    check_range(first, last)
    site = get_site(session, site_id)
    labels_in = label_language or site.language
    services = {s.id: s for s in session.scalars(
        select(Service).where(Service.site_id == site_id))}
    organisations = {o.id: o for o in session.scalars(
        select(Organisation).where(Organisation.site_id == site_id))}
    visits = load_visits(session, site_id, first, last,
                         _narrowed(services, service_ids, organisation_ids), language)
    speaks = DutyLanguages(session, site_id)
    tallies: dict = defaultdict(Tally)
    total = Tally()
    for visit_id, visit in visits.items():
        local = local_time(visit.arrived_at, site.timezone)
        for life in visit.steps:
            service = services.get(life.service_id)
            target = service.target_wait_minutes if service else None
            key = {"service": life.service_id,
                   "organisation": service.organisation_id if service else None,
                   "language": visit.language, "hour": local.hour,
                   "day": visit.day.isoformat()}[group]
            tallies[key].add(visit_id, visit, life, target, speaks)
            total.add(visit_id, visit, life, target, speaks)

    def label(key):
        if group == "service" and key in services:
            return services[key].text(labels_in).name
        if group == "organisation" and key in organisations:
            return translated(organisations[key].name, labels_in, site)
        if group == "hour":
            return f"{key:02d}:00"
        return str(key)

    rows = [{"key": key, "label": label(key), **tallies[key].figures()}
            for key in sorted(tallies, key=lambda k: (k is None, k))]
    return {"site": site_id, "from": first.isoformat(), "to": last.isoformat(),
            "group": group, "groups": rows, "total": total.figures()}


def _narrowed(services: dict, service_ids: set[int] | None,
              organisation_ids: set[int] | None) -> set[int] | None:
    """The services a report's filters keep, or None when nothing narrows it."""
    if service_ids is None and organisation_ids is None:
        return None
    allowed = set(services)
    if service_ids is not None:
        allowed &= set(service_ids)
    if organisation_ids is not None:
        allowed &= {sid for sid, s in services.items() if s.organisation_id in organisation_ids}
    return allowed


def journeys(session: Session, site_id: str, first: dt.date, last: dt.date, *,
             service_ids: set[int] | None = None, organisation_ids: set[int] | None = None,
             language: str | None = None, label_language: str | None = None) -> dict:
    """Arrivals by weekday and local hour (a heat map), the flows between services along
    visits' journeys (the chain of intervention), and where unfinished journeys end.

    Same filters as `report`. `arrivals[weekday][hour]` counts visits, Monday = 0.
    `flows` are {source, target, visits} by service label; `unfinished` are the
    services a journey ended at without being finished, with how (no-show, left, ...).
    """
    check_range(first, last)
    site = get_site(session, site_id)
    labels_in = label_language or site.language
    services = {s.id: s for s in session.scalars(
        select(Service).where(Service.site_id == site_id))}
    visits = load_visits(session, site_id, first, last,
                         _narrowed(services, service_ids, organisation_ids), language)
    arrivals = [[0] * 24 for _ in range(7)]
    flows: dict = defaultdict(int)
    unfinished: dict = defaultdict(int)

    def name(service_id):
        service = services.get(service_id)
        return service.text(labels_in).name if service else str(service_id)

    for visit in visits.values():
        local = local_time(visit.arrived_at, site.timezone)
        arrivals[local.weekday()][local.hour] += 1
        # Steps in the order they were queued: a referral comes after the step it left.
        for before, after in zip(visit.steps, visit.steps[1:], strict=False):
            if after.queued:
                flows[(name(before.service_id), name(after.service_id))] += 1
        queued = [life for life in visit.steps if life.queued]
        if queued and queued[-1].ending and queued[-1].ending[0] != "finished":
            kind = queued[-1].ending[0]
            unfinished[(name(queued[-1].service_id),
                        "left" if kind == "cancelled" else kind)] += 1
    return {
        "arrivals": arrivals,
        "flows": [{"source": s, "target": t, "visits": n}
                  for (s, t), n in sorted(flows.items())],
        "unfinished": [{"service": s, "ending": e, "visits": n}
                       for (s, e), n in sorted(unfinished.items())],
    }
