"""Daily roll-ups give exactly the figures the event log gives, and follow late events."""

import dataclasses
import datetime as dt
import os
import subprocess
import sys

from sqlalchemy import delete, func, select

from tessera.appointments.checkin import CheckInWindow, mark_missed
from tessera.models import ReportDay, ReportStep, Site
from tessera.reports.figures import GROUPS, appointment_figures, journeys, report
from tessera.reports.history import replay
from tessera.reports.rollups import load_visits, rebuild, roll_up

from .helpers import ROOT
from .test_reports import DAY, book_demo_appointment, book_demo_appointments, make_history


def every_figure(engine, site, events_only=False):
    """Every grouping with and without filters, and the journeys, over DAY's week.

    `events_only` reads them with the roll-ups out of sight, in a transaction that is
    rolled back: the figures the event log alone gives.
    """
    first, last = DAY - dt.timedelta(days=3), DAY + dt.timedelta(days=3)
    filters = [{}, {"language": "el"}, {"service_ids": {site.services["registration"]}}]
    with engine.database.session() as session:
        if events_only:
            session.execute(delete(ReportDay))
        figures = {(group, index): report(session, site.id, first, last, group, **keywords)
                   for group in GROUPS for index, keywords in enumerate(filters)}
        figures["journeys"] = journeys(session, site.id, first, last)
        session.rollback()
    return figures


def close_through(engine, site, day):
    with engine.database.session() as session:
        session.get(Site, site.id).closed_through = day


def rolled_days(engine, site):
    with engine.database.session() as session:
        return set(session.scalars(select(ReportDay.service_day)
                                   .where(ReportDay.site_id == site.id)))


def test_figures_from_roll_ups_equal_figures_from_events(engine, site, clock):
    make_history(engine, site, clock)
    from_events = every_figure(engine, site)
    assert roll_up(engine.database, site.id) == []  # nothing is closed yet
    clock.now = dt.datetime(2026, 11, 24, 8, 0)
    assert engine.close_day(site.id, DAY, final=True)["closed"]
    assert roll_up(engine.database, site.id) == [DAY]
    assert rolled_days(engine, site) == {DAY}
    with engine.database.session() as session:
        assert session.scalar(select(func.count()).select_from(ReportStep)) == 5
    assert every_figure(engine, site) == from_events
    assert every_figure(engine, site, events_only=True) == from_events
    # A second run finds nothing due, and a rebuild gives the same roll-ups.
    assert roll_up(engine.database, site.id) == []
    assert rebuild(engine.database, site.id) == [DAY]
    assert every_figure(engine, site) == from_events


def test_a_rolled_up_day_whose_events_grow_is_rolled_up_again(engine, site, clock):
    """A step of a closed day swept up late (closing.py's rare case) changes the figures
    of a day already rolled up: the next run rolls that day up again."""
    make_history(engine, site, clock)
    waiting = engine.issue_ticket(site.id, [site.services["registration"]], "en")
    close_through(engine, site, DAY)  # closed while a step still waits, as after a fault
    assert roll_up(engine.database, site.id) == [DAY]
    clock.now = dt.datetime(2026, 11, 24, 8, 0)
    engine.close_day(site.id, DAY, final=True)  # the waiting step expires now
    from_events = every_figure(engine, site, events_only=True)
    assert every_figure(engine, site) != from_events  # the roll-up is behind
    assert roll_up(engine.database, site.id) == [DAY]
    assert every_figure(engine, site) == from_events
    with engine.database.session() as session:
        ending = session.scalar(select(ReportStep.ending)
                                .where(ReportStep.ticket_id == waiting.id))
    assert ending == "expired"


def test_days_without_visits_are_rolled_up_and_today_is_replayed(engine, site, clock):
    make_history(engine, site, clock)
    close_through(engine, site, DAY + dt.timedelta(days=2))
    assert roll_up(engine.database, site.id) == [DAY + dt.timedelta(days=n) for n in range(3)]
    # Today (the 26th) is not rolled up: its visits come from the events as they happen.
    clock.now = dt.datetime(2026, 11, 26, 8, 0)
    engine.issue_ticket(site.id, [site.services["certificates"]], "ar")
    with engine.database.session() as session:
        today = report(session, site.id, DAY, DAY + dt.timedelta(days=3), "day")
    assert {row["key"]: row["visits"] for row in today["groups"]} == {"2026-11-23": 4,
                                                                      "2026-11-26": 1}


def test_visit_facts_survive_the_round_trip(engine, site, clock):
    """Each fact a step holds is stored and read back unchanged (floats included)."""
    make_history(engine, site, clock)
    with engine.database.session() as session:
        replayed = replay(session, session.get(Site, site.id), DAY, DAY)
    close_through(engine, site, DAY)
    roll_up(engine.database, site.id)
    with engine.database.session() as session:
        stored = load_visits(session, session.get(Site, site.id), DAY, DAY)
    assert {key: dataclasses.asdict(visit) for key, visit in stored.items()} == \
        {key: dataclasses.asdict(visit) for key, visit in replayed.items()}


def test_the_scheduled_job_and_the_command_roll_up(engine, site, clock, redis_url,
                                                    database_url, monkeypatch):
    from rq.cron import CronScheduler

    from worker.reports import roll_up_reports

    make_history(engine, site, clock)
    scheduler = CronScheduler(connection=engine.live.redis)
    scheduler.load_config_from_file("worker.schedule")
    [job] = [job for job in scheduler.get_jobs() if job.func_name.startswith("worker.reports.")]
    assert (job.func_name, job.interval) == ("worker.reports.roll_up_reports", 600)
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert roll_up_reports() == {site.id: 0}  # nothing closed yet
    close_through(engine, site, DAY)
    assert roll_up_reports() == {site.id: 1}
    assert rolled_days(engine, site) == {DAY}

    def command(*arguments):
        return subprocess.run([sys.executable, "-m", "tessera", "roll-up", *arguments],
                              cwd=ROOT, capture_output=True, text=True, timeout=120,
                              env={**os.environ, "DATABASE_URL": database_url})

    rebuilt = command("--site", site.id, "--rebuild")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert rebuilt.stdout.strip() == f"{site.id}: 1 days rolled up (2026-11-23 to 2026-11-23)"
    assert command().stdout.strip() == f"{site.id}: 0 days rolled up"
    unknown = command("--site", "nowhere")
    assert unknown.returncode == 1 and "There is no site 'nowhere'" in unknown.stderr
    assert rolled_days(engine, site) == {DAY}


def appointment_figures_of(engine, events_only=False):
    """The demo centre's appointment figures of DAY in every grouping."""
    with engine.database.session() as session:
        if events_only:
            session.execute(delete(ReportDay))
        figures = {group: appointment_figures(session, "demo", DAY, DAY, group)
                   for group in GROUPS}
        session.rollback()
    return figures


def test_appointment_roll_ups_equal_their_events_and_follow_late_ones(database, engine,
                                                                       clock):
    book_demo_appointments(database, engine, clock)
    late = book_demo_appointment(database, clock, dt.datetime(2026, 11, 23, 14, 0))
    with database.session() as session:
        session.get(Site, "demo").closed_through = DAY
    assert DAY in roll_up(database, "demo")
    from_events = appointment_figures_of(engine, events_only=True)
    assert appointment_figures_of(engine) == from_events
    assert from_events["service"]["total"]["appointments_missed"] == 1
    # The missed-appointment sweep runs after the roll-up: the day is rolled up again.
    clock.now = late + dt.timedelta(hours=1)
    mark_missed(database, clock(), CheckInWindow())
    assert roll_up(database, "demo") == [DAY]
    rolled = appointment_figures_of(engine)
    assert rolled == appointment_figures_of(engine, events_only=True)
    assert rolled["service"]["total"]["appointments_missed"] == 2
