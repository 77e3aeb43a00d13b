"""A day in the life of a centre: opening hours at the kiosk and when issuing."""

import datetime as dt

import pytest
from sqlalchemy import select

from tessera.errors import Conflict
from tessera.models import Counter, CounterStatus, Event, Site, Ticket
from tessera.queue.live import queue_key
from tessera.queue.reconcile import reconcile

from .helpers import pair_client

WEEKDAYS_NINE_TO_FIVE = {day: ["09:00-17:00"] for day in ("mon", "tue", "wed", "thu", "fri")}


@pytest.fixture
def office_hours(database, site):
    """The small centre open 09:00-17:00 on weekdays, with walk-in tickets until 16:45."""
    with database.session() as session:
        row = session.get(Site, site.id)
        row.opening_hours, row.walk_in_stop_minutes = WEEKDAYS_NINE_TO_FIVE, 15
    return site


def test_walk_in_tickets_only_while_open(engine, office_hours, clock):
    registration = [office_hours.services["registration"]]
    assert engine.issue_ticket(office_hours.id, registration, "el").number == "A-001"
    clock.now = clock.now.replace(hour=14, minute=50)  # 16:50 in Athens, 10 minutes to close
    with pytest.raises(Conflict) as refused:
        engine.issue_ticket(office_hours.id, registration, "el")
    assert refused.value.code == "closed"
    assert refused.value.details == {"opens_at": "2026-11-24T09:00:00+02:00"}
    assert "Tue, November 24" in refused.value.message and "9:00" in refused.value.message


def test_issuing_outside_hours_answers_409_with_the_next_opening(client, office_hours, clock):
    clock.now = clock.now.replace(day=28)  # Saturday
    response = client.post(f"/api/v1/sites/{office_hours.id}/tickets",
                           json={"services": [office_hours.services["registration"]],
                                 "language": "el"}, headers={"Accept-Language": "fr"})
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["code"] == "closed" and error["opens_at"] == "2026-11-30T09:00:00+02:00"
    assert error["message"].startswith("Le centre est fermé") and "30 novembre" in error["message"]


def test_a_replayed_issue_after_closing_returns_the_ticket(engine, office_hours, clock):
    registration = [office_hours.services["registration"]]
    first = engine.issue_ticket(office_hours.id, registration, "el", idempotency_key="tap-1")
    clock.now = clock.now.replace(hour=20)
    again = engine.issue_ticket(office_hours.id, registration, "el", idempotency_key="tap-1")
    assert again.id == first.id


def test_the_kiosk_says_it_is_closed_in_every_language(client, office_hours, clock):
    open_page = pair_client(client, office_hours.id).get(f"/kiosk/{office_hours.id}/entrance")
    assert "closed-notice" not in open_page.text and "language-grid" in open_page.text
    clock.now = clock.now.replace(hour=18)  # 20:00 in Athens
    page = client.get(f"/kiosk/{office_hours.id}/entrance").text
    assert "closed-notice" in page and "language-grid" not in page
    assert 'http-equiv="refresh"' in page
    assert "It opens again on Tue, November 24 at 9:00" in page      # English
    assert 'lang="ar" dir="rtl"' in page                              # Arabic, right to left


def step_states(database) -> dict[str, list[str]]:
    """Each ticket's step states, by number."""
    with database.session() as session:
        return {ticket.number: [step.state.value for step in ticket.steps]
                for ticket in session.scalars(select(Ticket).order_by(Ticket.id))}


def ticket_token(database, number: str) -> str:
    """The token of the ticket with this number."""
    with database.session() as session:
        return session.scalar(select(Ticket.token).where(Ticket.number == number))


def at_athens(clock, day: int, hour: int, minute: int = 0) -> None:
    """Set the clock to a local time in Athens in November 2026 (UTC+2)."""
    clock.now = dt.datetime(2026, 11, day, hour - 2, minute)


def test_closing_time_ends_the_day(engine, office_hours, clock, database, live, redis_client):
    services = office_hours.services
    engine.issue_ticket(office_hours.id, [services["registration"]], "el")
    engine.issue_ticket(office_hours.id, [services["registration"],
                                          services["legal_advice"]], "el")
    engine.issue_ticket(office_hours.id, [services["registration"]], "el")
    desk, other = office_hours.counters["desk-1"], office_hours.counters["desk-2"]
    engine.open_counter(desk)
    engine.open_counter(other)
    engine.call_next(desk)
    engine.start(desk)              # A-001 is at desk-1 when the centre closes
    engine.call_next(other)         # A-002 is called at desk-2

    assert engine.close_ended_days() == []  # 10:00: nothing is due
    at_athens(clock, 23, 17, 0)
    [result] = engine.close_ended_days()
    assert result == {"site": "small", "day": "2026-11-23", "expired": 3, "desks_closed": 1,
                      "closed": False}
    assert step_states(database) == {"A-001": ["serving"], "A-002": ["expired", "expired"],
                                     "A-003": ["expired"]}
    assert redis_client.zcard(queue_key(office_hours.id, services["registration"])) == 0
    with database.session() as session:
        closed = session.get(Counter, other)
        assert closed.status == CounterStatus.CLOSED and closed.staff_id is None
        expired = session.scalars(select(Event).where(Event.kind == "expired")).all()
        assert len(expired) == 3 and {e.data["day"] for e in expired} == {"2026-11-23"}
    assert engine.ticket_by_token(ticket_token(database, "A-003")).state == "expired"

    # The visitor at desk-1 is served to the end; the next run closes that desk too.
    engine.finish(desk)
    clock.advance(minutes=1)
    [result] = engine.close_ended_days()
    assert result["desks_closed"] == 1 and result["closed"] is True
    with database.session() as session:
        assert session.get(Site, office_hours.id).closed_through == dt.date(2026, 11, 23)
    # Staff who reopen a desk after the day closed are left alone.
    engine.open_counter(desk)
    clock.advance(minutes=1)
    assert engine.close_ended_days() == []


def test_nothing_carries_over_to_the_next_day(engine, office_hours, clock, database, live):
    registration = [office_hours.services["registration"]]
    engine.issue_ticket(office_hours.id, registration, "el")           # Monday's A-001
    at_athens(clock, 24, 9, 30)  # Tuesday: no job ran overnight
    tuesday = engine.issue_ticket(office_hours.id, registration, "el")
    assert tuesday.number == "A-001"
    [result] = engine.close_ended_days()  # the safety run at the start of the next day
    assert result["day"] == "2026-11-23" and result["expired"] == 1
    desk = office_hours.counters["desk-1"]
    engine.open_counter(desk)
    assert engine.call_next(desk).step.ticket_id == tuesday.id


def test_reconcile_queues_only_the_current_days_steps(engine, office_hours, clock, database,
                                                      live, redis_client):
    registration = office_hours.services["registration"]
    engine.issue_ticket(office_hours.id, [registration], "el")
    at_athens(clock, 24, 9, 30)
    tuesday = engine.issue_ticket(office_hours.id, [registration], "el")
    redis_client.flushdb()
    summary = reconcile(database, live, now=clock.now)
    assert summary["small"]["waiting"] == 1
    [(member, _score)] = live.waiting(office_hours.id, registration)
    assert member.startswith(f"{tuesday.steps[0].id}|")


def test_close_day_by_hand_and_through_the_scheduled_job(engine, office_hours, database,
                                                         redis_url, database_url, monkeypatch):
    from rq.cron import CronScheduler

    from worker.days import close_ended_days

    engine.issue_ticket(office_hours.id, [office_hours.services["registration"]], "el")
    assert engine.close_day(office_hours.id)["expired"] == 1
    assert step_states(database) == {"A-001": ["expired"]}

    # The scheduler's configuration runs the job every minute; the job needs only the
    # environment, as in the worker (nothing is due at this real hour or it closes).
    scheduler = CronScheduler(connection=engine.live.redis)
    scheduler.load_config_from_file("worker.schedule")
    [job] = [job for job in scheduler.get_jobs() if job.func_name.startswith("worker.days.")]
    assert (job.func_name, job.interval, job.queue_name) == (
        "worker.days.close_ended_days", 60, "default")
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert isinstance(close_ended_days(), list)


def test_the_mobile_ticket_says_the_day_ended(client, engine, office_hours, database):
    ticket = engine.issue_ticket(office_hours.id, [office_hours.services["registration"]], "en")
    engine.close_day(office_hours.id)
    page = client.get(f"/t/{ticket.token}").text
    assert "The day has ended. Please come back on another day." in page
    assert client.get(f"/api/v1/tickets/{ticket.token}").get_json()["state"] == "expired"
