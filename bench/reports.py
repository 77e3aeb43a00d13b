"""Reports over a year of a busy centre: how long each report takes, on SQLite and PostgreSQL.

    python -m bench.reports [--days 365] [--visits 300] [--database-url URL] [--json]

Writes a year of history for the small test centre (tests/sites/small.yaml) into a fresh
database (a temporary SQLite file unless --database-url names an empty one), then times
tessera.reports.figures.report() for every grouping and journeys() over the whole year,
a month and a day: first replayed from the events alone (by service only: the
grouping does not change the cost of a replay), then rolled up into daily roll-ups
(timed too) with the last day left open, as today is in a running centre.

The history is written straight into SQL, with the events the engine
writes for each step (issued, queued, called, started, finished / referred / no_show /
cancelled), in the same shapes, because driving the live engine for 100,000 visits would
take hours; the figures read only those events.
"""

import argparse
import datetime as dt
import json
import random
import secrets
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert, select

from tessera.database import Database
from tessera.migrate import upgrade
from tessera.models import (
    Appointment,
    Counter,
    Event,
    Feedback,
    Service,
    Site,
    Step,
    StepState,
    Ticket,
)
from tessera.reports.figures import GROUPS, journeys, report
from tessera.reports.rollups import roll_up
from tessera.sites.loader import load_site, read_site_file

ROOT = Path(__file__).resolve().parent.parent


def generate(database: Database, site_id: str, first: dt.date, days: int, visits: int,
             seed: int = 7) -> int:
    """Write `days` days of `visits` visits each; returns the number of events.

    Each day the desks open in their usual languages and close; each visit is issued,
    printed, queued, called, started and finished (or referred on, a no-show, or gone);
    one in five comes by appointment (booked days before, reminded, checked in, or missed
    or cancelled now and then) and three in ten leave feedback.
    """
    chance = random.Random(seed)
    with database.session() as session:
        services = list(session.scalars(select(Service).where(Service.site_id == site_id)))
        counters = list(session.scalars(select(Counter).where(Counter.site_id == site_id)))
        desks = {service.id: [c for c in counters if service in c.services] or counters
                 for service in services}
        desk_languages = {counter.id: list(counter.languages) for counter in counters}
    languages = ["el", "en", "ar", "ar", "uk", "fa"]
    events = 0
    ticket_id = step_id = appointment_id = 0
    with database.engine.begin() as connection:
        for day_number in range(days):
            day = first + dt.timedelta(days=day_number)
            opening = dt.datetime.combine(day, dt.time(6, 0))  # 08:00 Athens, in UTC
            tickets, steps, appointments, feedback = [], [], [], []
            rows = [{"site_id": site_id, "counter_id": counter_id, "kind": kind, "at": at,
                     "data": data}
                    for counter_id, spoken in desk_languages.items()
                    for kind, at, data in (
                        ("counter_opened", opening, {"languages": spoken}),
                        ("counter_closed", opening + dt.timedelta(hours=9),
                         {"reason": "day_closed"}))]
            seats: dict = {}
            for sequence in range(1, visits + 1):
                ticket_id += 1
                arrived = opening + dt.timedelta(minutes=chance.uniform(0, 480))
                service = chance.choice(services)
                language = chance.choice(languages)
                booking = chance.random()
                if booking < 0.2:
                    appointment_id += 1
                    start = arrived.replace(minute=arrived.minute // 30 * 30, second=0,
                                            microsecond=0)
                    seat = seats[(service.id, start)] = seats.get((service.id, start), -1) + 1
                    fate = ("missed" if booking < 0.02 else "cancelled" if booking < 0.03
                            else "checked_in")
                    appointments.append({
                        "id": appointment_id, "site_id": site_id, "service_id": service.id,
                        "start": start, "end": start + dt.timedelta(minutes=30), "seat": seat,
                        "language": language, "state": fate, "code": f"C{appointment_id}",
                        "token": secrets.token_urlsafe(16),
                        "created_at": start - dt.timedelta(days=chance.randint(1, 14))})
                    facts = {"appointment": appointment_id, "service": service.id,
                             "start": start.isoformat()}
                    made = appointments[-1]["created_at"]
                    rows += [{"site_id": site_id, "kind": "appointment_booked", "at": made,
                              "data": facts},
                             {"site_id": site_id, "kind": "message_sent",
                              "at": start - dt.timedelta(days=1), "data": {"kind": "reminder"}}]
                    if fate != "checked_in":
                        rows.append({"site_id": site_id, "kind": f"appointment_{fate}",
                                     "at": start + dt.timedelta(minutes=15)
                                     if fate == "missed" else made + dt.timedelta(hours=1),
                                     "data": facts})
                        continue
                    rows.append({"site_id": site_id, "kind": "appointment_checked_in",
                                 "at": arrived, "data": {**facts, "ticket": ticket_id}})
                tickets.append({"id": ticket_id, "site_id": site_id,
                                "number": f"{service.prefix}-{sequence:03d}",
                                "prefix": service.prefix, "sequence": sequence,
                                "service_day": day, "language": language, "needs": [],
                                "token": secrets.token_urlsafe(16), "issued_at": arrived,
                                "arrived_at": arrived})
                rows += [{"site_id": site_id, "ticket_id": ticket_id, "kind": kind,
                          "at": arrived, "data": data}
                         for kind, data in (("issued", {"language": language}),
                                            ("printed", {}))]
                now, position = arrived, 0
                while True:
                    step_id += 1
                    desk = chance.choice(desks[service.id]).id
                    rows.append({"site_id": site_id, "ticket_id": ticket_id,
                                 "step_id": step_id, "kind": "queued", "at": now,
                                 "data": {"service_id": service.id}})
                    fate = chance.random()
                    wait = chance.expovariate(1 / 15)
                    state = StepState.DONE
                    if fate < 0.04:
                        now += dt.timedelta(minutes=wait / 2)
                        rows.append({"site_id": site_id, "ticket_id": ticket_id,
                                     "step_id": step_id, "kind": "cancelled", "at": now,
                                     "data": {}})
                        state, referred = StepState.CANCELLED, None
                    else:
                        now += dt.timedelta(minutes=wait)
                        rows.append({"site_id": site_id, "ticket_id": ticket_id,
                                     "step_id": step_id, "kind": "called", "at": now,
                                     "counter_id": desk,
                                     "data": {"waited_seconds": wait * 60}})
                        if fate < 0.10:
                            kind, state, referred = "no_show", StepState.NO_SHOW, None
                        else:
                            rows.append({"site_id": site_id, "ticket_id": ticket_id,
                                         "step_id": step_id, "kind": "started", "at": now,
                                         "counter_id": desk, "data": {}})
                            now += dt.timedelta(minutes=chance.uniform(4, 20))
                            referred = (chance.choice([s for s in services if s != service])
                                        if fate > 0.85 and position == 0 else None)
                            kind = "referred" if referred else "finished"
                            state = StepState.REFERRED if referred else StepState.DONE
                        rows.append({"site_id": site_id, "ticket_id": ticket_id,
                                     "step_id": step_id, "kind": kind, "at": now,
                                     "counter_id": desk,
                                     "data": {"to_service_id": referred.id} if referred else {}})
                    steps.append({"id": step_id, "ticket_id": ticket_id,
                                  "service_id": service.id, "position": position,
                                  "state": state, "recall_count": 0, "ended_at": now})
                    if referred is None:
                        break
                    service, position = referred, position + 1
                if chance.random() < 0.3:
                    score = chance.choice((1, 2, 3, 4, 4, 5, 5, 5))
                    feedback.append({"site_id": site_id, "ticket_id": ticket_id,
                                     "score": score, "reasons": [], "given_at": now,
                                     "source": "ticket"})
                    rows.append({"site_id": site_id, "ticket_id": ticket_id,
                                 "kind": "feedback_given", "at": now,
                                 "data": {"score": score, "reasons": []}})
            # One INSERT of many rows needs the same columns in each.
            rows = [{"ticket_id": None, "step_id": None, "counter_id": None, **row}
                    for row in rows]
            for model, values in ((Ticket, tickets), (Step, steps), (Appointment, appointments),
                                  (Feedback, feedback), (Event, rows)):
                if values:
                    connection.execute(insert(model), values)
            events += len(rows)
    return events


def timed(function, *arguments, **keywords) -> float:
    """Seconds one call takes."""
    start = time.perf_counter()
    function(*arguments, **keywords)
    return time.perf_counter() - start


def time_reports(database: Database, site_id: str, ranges: dict, source: str,
                 rows: list, groups=GROUPS) -> None:
    """Time the reports of `groups` and the journeys over every range, appending one row
    each to `rows`."""
    with database.session() as session:
        for name, (start, end) in ranges.items():
            for group in groups:
                seconds = timed(report, session, site_id, start, end, group)
                rows.append({"source": source, "range": name, "what": f"report by {group}",
                             "seconds": round(seconds, 2)})
            seconds = timed(journeys, session, site_id, start, end)
            rows.append({"source": source, "range": name, "what": "journeys and heat map",
                         "seconds": round(seconds, 2)})


def main(argv=None) -> int:
    """Generate the history, time the reports, print the table (or JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--visits", type=int, default=300)
    parser.add_argument("--database-url")
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args(argv)
    folder = tempfile.mkdtemp(prefix="tessera-bench-reports-")
    url = options.database_url or f"sqlite:///{folder}/reports.sqlite3"
    upgrade(url)
    database = Database(url)
    with database.session() as session:
        site_id = load_site(session, read_site_file(ROOT / "tests" / "sites" / "small.yaml")).id
    first = dt.date(2025, 12, 1)
    started = time.perf_counter()
    events = generate(database, site_id, first, options.days, options.visits)
    generated = time.perf_counter() - started
    last = first + dt.timedelta(days=options.days - 1)
    results = {"events": events, "generate_seconds": round(generated, 1), "reports": []}
    ranges = {"year": (first, last), "month": (last - dt.timedelta(days=29), last),
              "day": (last, last)}
    # Replaying the events costs the same whatever the grouping: one grouping shows it.
    time_reports(database, site_id, ranges, "events", results["reports"], groups=("service",))
    with database.session() as session:
        # Every day but the last is closed, as in a centre that is open today.
        session.get(Site, site_id).closed_through = last - dt.timedelta(days=1)
    results["roll_up_seconds"] = round(timed(roll_up, database, site_id), 1)
    time_reports(database, site_id, ranges, "roll-ups", results["reports"])
    with database.session() as session:
        total = report(session, site_id, first, last, "service")["total"]
    results["year"] = {name: total[name] for name in (
        "visits", "served", "in_language", "appointments_booked", "appointments_checked_in",
        "feedback_count", "mean_feedback_score")}
    if options.json:
        json.dump(results, sys.stdout, indent=2)
    else:
        print(f"{events} events in {generated:.0f} s ({url.split(':')[0]}); "
              f"roll-up of the closed days {results['roll_up_seconds']:.0f} s")
        print("whole range:", ", ".join(f"{k} {v}" for k, v in results["year"].items()))
        for row in results["reports"]:
            print(f"{row['source']:8} {row['range']:6} {row['what']:28} {row['seconds']:6.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
