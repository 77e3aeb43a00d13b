"""Appointment figures per group, computed from the append-only event log (DESIGN invariant 3).

An appointment belongs to the site's local date of its slot start, and a moved one to its
latest start. It counts only if it was ever booked: a hold that expired or was let go never
took a visitor's place, so it is neither booked nor cancelled here. Whether it was booked,
its latest start, what became of it (checked in, missed, cancelled) and when the visitor
checked in all come from its events. The appointment row gives only its language (which
the events do not carry, and which is not personal) and narrows the read of the events.
`replay_appointments` gives each appointment's facts; the daily roll-ups
(tessera.reports.rollups) store exactly these facts for closed days, and
`tally_appointments` counts them, whichever source they came from.
"""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from tessera.clock import local_time
from tessera.models import Appointment, Event, Site
from tessera.reports.history import period_key

# The events an appointment's life is read from; held, expired and offered change no figure.
EVENTS = ("appointment_booked", "appointment_moved", "appointment_cancelled",
          "appointment_checked_in", "appointment_missed")
ENDINGS = {"appointment_cancelled": "cancelled", "appointment_checked_in": "checked_in",
           "appointment_missed": "missed"}
# A check-in no later than this many minutes after the slot start is on time.
ON_TIME_MINUTES = 5
# No time zone is more than a day from UTC: the rows are read a day wider on either side,
# and the local date of each start decides.
ZONE_SLACK = dt.timedelta(days=1)
# Missed appointments are marked by a worker sweep after the check-in window closes;
# this leaves room for a sweep that ran late (a worker that was down for days).
LATE_EVENTS = dt.timedelta(days=7)
FIGURES = ("appointments_booked", "appointments_checked_in", "appointments_missed",
           "appointments_cancelled", "mean_punctuality_minutes", "on_time", "check_in_rate")


@dataclass(slots=True)
class AppointmentFact:
    """One booked appointment as the figures count it.

    `day` is the local date of its latest slot and `slot_hour` that slot's local hour;
    `ending` is checked_in, missed, cancelled or None (still booked), and
    `punctuality_minutes` the check-in time minus the slot start (negative = early).
    """

    appointment_id: int
    day: dt.date
    slot_hour: int
    service_id: int
    language: str
    ending: str | None
    punctuality_minutes: float | None


@dataclass(slots=True)
class _Life:
    """One appointment while its events are replayed."""

    start: dt.datetime | None = None
    booked: bool = False
    ending: str | None = None
    checked_in_at: dt.datetime | None = None


class AppointmentTally:
    """The figures of one group, added to one appointment at a time."""

    def __init__(self):
        self.booked = self.checked_in = self.missed = self.cancelled = self.on_time = 0
        self.punctuality: list[float] = []

    def add(self, fact: AppointmentFact) -> None:
        """Count one booked appointment."""
        self.booked += 1
        if fact.ending == "checked_in":
            self.checked_in += 1
            self.punctuality.append(fact.punctuality_minutes)
            self.on_time += fact.punctuality_minutes <= ON_TIME_MINUTES
        elif fact.ending == "missed":
            self.missed += 1
        elif fact.ending == "cancelled":
            self.cancelled += 1

    def figures(self) -> dict:
        """The group's figures (minutes to one decimal, shares to three)."""
        came_or_not = self.checked_in + self.missed
        return {
            "appointments_booked": self.booked,
            "appointments_checked_in": self.checked_in,
            "appointments_missed": self.missed,
            "appointments_cancelled": self.cancelled,
            "mean_punctuality_minutes": (round(sum(self.punctuality) / len(self.punctuality), 1)
                                         if self.punctuality else None),
            "on_time": round(self.on_time / self.checked_in, 3) if self.checked_in else None,
            "check_in_rate": round(self.checked_in / came_or_not, 3) if came_or_not else None,
        }


def replay_appointments(session: Session, site: Site, first: dt.date, last: dt.date, *,
                        service_ids: set[int] | None = None,
                        language: str | None = None) -> list[AppointmentFact]:
    """Every booked appointment whose latest slot lies on a local date `first`..`last`
    (of those services, in that language, if given), replayed from its events."""
    rows, since = _appointments(session, site, first, last, service_ids, language)
    facts = []
    # Many appointments share a slot: each start's local date and hour is worked out once.
    slots: dict[dt.datetime, dt.datetime] = {}
    for appointment_id, life in _replay(session, site, last, rows, since).items():
        if not life.booked:
            continue  # a hold that never became a booking took nobody's place
        if life.start not in slots:
            slots[life.start] = local_time(life.start, site.timezone)
        local = slots[life.start]
        if not first <= local.date() <= last:
            continue  # moved out of the range, or a neighbouring day in UTC
        service_id, spoken = rows[appointment_id]
        punctuality = (None if life.checked_in_at is None else
                       (life.checked_in_at - life.start).total_seconds() / 60)
        facts.append(AppointmentFact(appointment_id, local.date(), local.hour, service_id,
                                     spoken, life.ending, punctuality))
    return facts


def tally_appointments(facts: list[AppointmentFact], group: str,
                       organisation_of: dict[int, int | None]) -> dict:
    """The figures of `facts` grouped by `group` (one of GROUPS): {"groups": {key:
    figures}, "total": figures}, keys as the visits' (the slot's hour for "hour").

    Each group's figures, and the total's: appointments_booked (ever booked), and of
    those appointments_checked_in, appointments_missed, appointments_cancelled;
    mean_punctuality_minutes (check-in time minus slot start, negative = early, one
    decimal), on_time (share of check-ins at most 5 minutes after the start, three
    decimals) and check_in_rate (checked in / (checked in + missed), three decimals),
    each None when there is nothing to divide by. `organisation_of` maps service ids
    to their organisation's.
    """
    tallies: dict = defaultdict(AppointmentTally)
    total = AppointmentTally()
    for fact in facts:
        if group == "service":
            key = fact.service_id
        elif group == "organisation":
            key = organisation_of.get(fact.service_id)
        elif group == "language":
            key = fact.language
        elif group == "hour":
            key = fact.slot_hour
        else:
            key = period_key(fact.day, group)
        tallies[key].add(fact)
        total.add(fact)
    return {"groups": {key: tallies[key].figures()
                       for key in sorted(tallies, key=lambda k: (k is None, k))},
            "total": total.figures()}


def _appointments(session: Session, site: Site, first: dt.date, last: dt.date,
                  service_ids: set[int] | None,
                  language: str | None) -> tuple[dict, dt.datetime | None]:
    """{appointment id: (service id, language)} of the range, and when the earliest of
    them was made (None if there are none).

    The rows whose start lies near the range, after the filters; the events decide
    which of them count, and where.
    """
    query = (select(Appointment.id, Appointment.service_id, Appointment.language,
                    Appointment.created_at)
             .where(Appointment.site_id == site.id,
                    Appointment.start >= dt.datetime.combine(first, dt.time()) - ZONE_SLACK,
                    Appointment.start < dt.datetime.combine(last, dt.time()) + 2 * ZONE_SLACK))
    if service_ids is not None:
        query = query.where(Appointment.service_id.in_(list(service_ids)))
    if language is not None:
        query = query.where(Appointment.language == language)
    rows, since = {}, None
    # Plain rows off the connection: the ORM's result machinery adds nothing to a tuple
    # and costs a noticeable share of a year's report.
    for appointment_id, service_id, spoken, created_at in \
            session.connection().execute(query).all():
        rows[appointment_id] = (service_id, spoken)
        if since is None or created_at < since:
            since = created_at
    return rows, since


def _replay(session: Session, site: Site, last: dt.date, rows: dict,
            since: dt.datetime | None) -> dict[int, _Life]:
    """The life of each appointment of `rows`, replayed from its events in order.

    `since` is when the earliest of them was made: every event of an appointment comes at
    or after its row was made (the hold or the booking), so it bounds the read from below,
    and the (site_id, at) index reads only the months that matter, however far ahead
    people book.
    """
    if not rows:
        return {}
    until = dt.datetime.combine(last, dt.time()) + 2 * ZONE_SLACK + LATE_EVENTS
    lives: dict[int, _Life] = {}
    # The database takes the two facts out of the JSON: decoding every event's whole
    # data in Python would cost more than the rest of the report.
    for at, kind, appointment_id, start in session.connection().execute(
            select(Event.at, Event.kind, Event.data["appointment"].as_integer(),
                   Event.data["start"].as_string())
            .where(Event.site_id == site.id, Event.at >= since, Event.at < until,
                   Event.kind.in_(EVENTS))
            .order_by(Event.at, Event.id)).all():
        if appointment_id not in rows:
            continue  # another range's appointment, or one the filters leave out
        life = lives.setdefault(appointment_id, _Life())
        # Each event names the start as it was then: the last one is the latest start.
        life.start = dt.datetime.fromisoformat(start)
        if kind == "appointment_booked":
            life.booked = True
        elif kind in ENDINGS:
            life.ending = ENDINGS[kind]
            if kind == "appointment_checked_in":
                life.checked_in_at = at
    return lives
