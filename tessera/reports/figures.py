"""Report figures per group, computed from the append-only event log (DESIGN invariant 3).

Plain functions on a SQLAlchemy session, testable without HTTP. The facts of each visit
come from tessera.reports.history (replayed from events) or from the daily roll-ups of
closed days (tessera.reports.rollups), which hold the very same facts.
"""

import datetime as dt
import math
from collections import defaultdict

from babel.core import UnknownLocaleError
from babel.dates import format_date
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from tessera.errors import InvalidInput
from tessera.models import Organisation, Service
from tessera.reports.appointments import FIGURES as APPOINTMENT_FIGURES
from tessera.reports.appointments import AppointmentTally, tally_appointments
from tessera.reports.feedback import scores_by_ticket
from tessera.reports.history import GROUPS, SERVED, period_key
from tessera.reports.rollups import day_of, load_appointments, load_steps, load_visits
from tessera.sites.catalogue import get_site, translated

# A report over more than this many days is refused: the figures stay fast and exact.
MAX_DAYS = 366
FIGURES = ("visits", "served", "no_shows", "left", "referrals", "mean_wait_minutes",
           "median_wait_minutes", "p90_wait_minutes", "within_target", "in_language",
           "mean_handling_minutes", "median_handling_minutes", "p90_handling_minutes",
           "no_show_rate", "feedback_count", "mean_feedback_score", *APPOINTMENT_FIGURES)


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


def percentile(values: list[float], share: float) -> float | None:
    """The nearest-rank percentile (share 0.5 = median, 0.9 = 90th), or None if empty.

    Nearest rank, because it is always one of the observed waits and easy to check by hand.
    """
    return _nearest_rank(sorted(values), share)


def _nearest_rank(ordered: list[float], share: float) -> float | None:
    """`percentile` of values already in order."""
    if not ordered:
        return None
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 1) if values else None


def _share(hits: int, total: int) -> float | None:
    return round(hits / total, 3) if total else None


class Tally:
    """The figures of one group, added to one step of one visit at a time."""

    def __init__(self):
        self.tickets = set()
        self.served = self.no_shows = self.left = self.referrals = 0
        self.waits, self.handling = [], []
        self.within = self.in_language = 0
        # A visit's feedback counts once in a group, however many of its steps are in it.
        self.scores: dict[int, int] = {}

    def add(self, ticket_id: int, score: int | None, waited: float | None,
            handling: float | None, ending: str | None, in_language: bool,
            target: float | None) -> None:
        """Count one step of visit `ticket_id` (whose feedback `score` is given or None):
        its wait, its handling, how it ended and whether it was in the visitor's
        language; `target` is its service's target wait."""
        self.tickets.add(ticket_id)
        if score is not None:
            self.scores[ticket_id] = score
        if waited is not None:
            self.waits.append(waited)
            if target is not None and waited <= target:
                self.within += 1
        if ending in SERVED:
            self.served += 1
            self.in_language += in_language
            if handling is not None:
                self.handling.append(handling)
            self.referrals += ending == "referred"
        elif ending == "no_show":
            self.no_shows += 1
        elif ending == "left":
            self.left += 1

    def merge(self, other: "Tally") -> None:
        """Count `other`'s steps too: a total is its groups merged, since each step is in
        exactly one group (a visit may be in several, and counts once)."""
        self.tickets |= other.tickets
        self.scores.update(other.scores)
        self.waits += other.waits
        self.handling += other.handling
        for name in ("served", "no_shows", "left", "referrals", "within", "in_language"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def figures(self) -> dict:
        """The group's figures (minutes to one decimal, shares to three)."""
        called = len(self.waits)
        scores = list(self.scores.values())
        # Sorted once each, for both percentiles.
        self.waits.sort()
        self.handling.sort()
        return {
            "visits": len(self.tickets), "served": self.served, "no_shows": self.no_shows,
            "left": self.left, "referrals": self.referrals,
            "mean_wait_minutes": _mean(self.waits),
            "median_wait_minutes": _round(_nearest_rank(self.waits, 0.5)),
            "p90_wait_minutes": _round(_nearest_rank(self.waits, 0.9)),
            "within_target": _share(self.within, called),
            "in_language": _share(self.in_language, self.served),
            "mean_handling_minutes": _mean(self.handling),
            "median_handling_minutes": _round(_nearest_rank(self.handling, 0.5)),
            "p90_handling_minutes": _round(_nearest_rank(self.handling, 0.9)),
            "no_show_rate": _share(self.no_shows, called),
            "feedback_count": len(scores),
            "mean_feedback_score": _mean(scores),
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
    group it has a step in, and once in the total. The appointment figures of each group
    (tessera.reports.appointments) come with the visits'; by hour, an appointment counts
    at the hour of its slot, a walk-in visit at the hour it arrived.
    """
    check_group(group)
    check_range(first, last)
    site = get_site(session, site_id)
    labels_in = label_language or site.language
    services = {s.id: s for s in session.scalars(
        select(Service).where(Service.site_id == site_id))}
    organisations = {o.id: o for o in session.scalars(
        select(Organisation).where(Organisation.site_id == site_id))}
    narrowed = _narrowed(services, service_ids, organisation_ids)
    # Feedback is read as given, not rolled up: one small row per visit that gave it.
    scores = scores_by_ticket(session, site_id, first, last)
    tallies: dict = defaultdict(Tally)
    # Plain dicts: an ORM attribute read per step costs more than the step's count.
    targets = {service_id: service.target_wait_minutes
               for service_id, service in services.items()}
    organisation_of = {service_id: service.organisation_id
                       for service_id, service in services.items()}
    periods: dict = {}
    for (ticket_id, day, spoken, hour, service_id, waited, handling, ending,
         in_language) in load_steps(session, site, first, last, narrowed, language):
        if group == "service":
            key = service_id
        elif group == "organisation":
            key = organisation_of.get(service_id)
        elif group == "language":
            key = spoken
        elif group == "hour":
            key = hour
        else:
            # Worked out once a day, not once a step.
            key = periods.get(day) or periods.setdefault(day, period_key(day_of(day), group))
        tallies[key].add(ticket_id, scores.get(ticket_id), waited, handling, ending,
                         in_language, targets.get(service_id))
    total = Tally()
    for tally in tallies.values():
        total.merge(tally)

    def label(key):
        if group == "service" and key in services:
            return services[key].text(labels_in).name
        if group == "organisation" and key in organisations:
            return translated(organisations[key].name, labels_in, site)
        if group == "hour":
            return f"{key:02d}:00"
        if group == "week":
            year, week = key.split("-W")
            return _("Week %(week)d, %(year)s", week=int(week), year=year)
        if group == "month":
            return _month_name(dt.date.fromisoformat(f"{key}-01"), labels_in)
        return str(key)

    appointments = tally_appointments(
        load_appointments(session, site, first, last, narrowed, language), group,
        organisation_of)
    none_booked = AppointmentTally().figures()
    keys = set(tallies) | set(appointments["groups"])
    rows = [{"key": key, "label": label(key), **tallies[key].figures(),
             **appointments["groups"].get(key, none_booked)}
            for key in sorted(keys, key=lambda k: (k is None, k))]
    return {"site": site_id, "from": first.isoformat(), "to": last.isoformat(),
            "group": group, "groups": rows,
            "total": {**total.figures(), **appointments["total"]}}


def appointment_figures(session: Session, site_id: str, first: dt.date, last: dt.date,
                        group: str, *, service_ids: set[int] | None = None,
                        language: str | None = None) -> dict:
    """The appointment figures alone of local dates `first`..`last`, grouped by `group`:
    {"groups": {key: figures}, "total": figures} (tessera.reports.appointments)."""
    check_group(group)
    check_range(first, last)
    site = get_site(session, site_id)
    organisation_of = dict(session.execute(select(Service.id, Service.organisation_id)
                                           .where(Service.site_id == site_id)).all())
    return tally_appointments(load_appointments(session, site, first, last, service_ids,
                                                language), group, organisation_of)


def _month_name(month: dt.date, language: str) -> str:
    """"January 2026" in `language`, or in English where Babel has no such locale."""
    try:
        return format_date(month, "LLLL y", locale=language)
    except (UnknownLocaleError, ValueError):
        return format_date(month, "LLLL y", locale="en")


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
    `flows` are {source, target, visits} by service label, `organisation_flows` the same
    between organisations (a visit going on from one organisation's service to another's);
    `unfinished` are the services a journey ended at without being finished, with how
    (no-show, left, ...).
    """
    check_range(first, last)
    site = get_site(session, site_id)
    labels_in = label_language or site.language
    services = {s.id: s for s in session.scalars(
        select(Service).where(Service.site_id == site_id))}
    organisations = {o.id: translated(o.name, labels_in, site) for o in session.scalars(
        select(Organisation).where(Organisation.site_id == site_id))}
    visits = load_visits(session, site, first, last,
                         _narrowed(services, service_ids, organisation_ids), language)
    arrivals = [[0] * 24 for _ in range(7)]
    flows: dict = defaultdict(int)
    handovers: dict = defaultdict(int)
    unfinished: dict = defaultdict(int)

    def organisation(service_id):
        service = services.get(service_id)
        return organisations.get(service.organisation_id) if service else None

    def name(service_id):
        service = services.get(service_id)
        return service.text(labels_in).name if service else str(service_id)

    for visit in visits.values():
        arrivals[visit.arrival_weekday][visit.arrival_hour] += 1
        # Steps in the order they were queued: a referral comes after the step it left.
        for before, after in zip(visit.steps, visit.steps[1:], strict=False):
            if after.queued:
                flows[(name(before.service_id), name(after.service_id))] += 1
                source, target = organisation(before.service_id), organisation(after.service_id)
                if source != target:
                    handovers[(source or "-", target or "-")] += 1
        queued = [step for step in visit.steps if step.queued]
        if queued and queued[-1].ending not in (None, "finished"):
            unfinished[(name(queued[-1].service_id), queued[-1].ending)] += 1
    return {
        "arrivals": arrivals,
        "flows": [{"source": s, "target": t, "visits": n}
                  for (s, t), n in sorted(flows.items())],
        "organisation_flows": [{"source": s, "target": t, "visits": n}
                               for (s, t), n in sorted(handovers.items())],
        "unfinished": [{"service": s, "ending": e, "visits": n}
                       for (s, e), n in sorted(unfinished.items())],
    }
