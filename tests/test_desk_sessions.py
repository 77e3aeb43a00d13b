"""Desk sessions: one open desk per member of staff, absent desks paused, managers' controls."""

import re

import pytest
from sqlalchemy import select

from tessera.clock import epoch
from tessera.errors import Conflict
from tessera.models import Counter, CounterStatus, Event, Staff, Step, StepState
from tessera.planning.forecast import site_forecast
from tessera.queue.live import presence_key, site_prefix
from tessera.staff.accounts import create_staff
from tessera.staff.auth import issue_token

from .helpers import PASSWORD, sign_in

ABSENT = 60


@pytest.fixture
def nikos(database, site):
    """A municipality member of staff who speaks English and Greek."""
    with database.session() as session:
        account, _ = create_staff(session, site.id, "nikos", "Nikos", "staff", ["en", "el"],
                                  ["municipality"], PASSWORD)
    return account


def desk_row(database, counter_id) -> Counter:
    """The desk as SQL holds it."""
    with database.session() as session:
        return session.get(Counter, counter_id)


def step_state(database, step_id) -> StepState:
    """A step's state in SQL."""
    with database.session() as session:
        return session.get(Step, step_id).state


def events(database, kind) -> list[Event]:
    """The events of one kind, oldest first."""
    with database.session() as session:
        return list(session.scalars(select(Event).where(Event.kind == kind).order_by(Event.id)))


def waiting_ids(engine, site, service="registration") -> list[int]:
    """The step ids in a service's live queue."""
    return [int(member.split("|")[0])
            for member, _ in engine.live.waiting(site.id, site.services[service])]


def bearer(database, staff_id) -> dict:
    """Headers with a bearer token for a member of staff (no CSRF token needed)."""
    with database.session() as session:
        token = issue_token(session, session.get(Staff, staff_id), "tests")
    return {"Authorization": f"Bearer {token}"}


# One open desk per member of staff ---------------------------------------------------

def test_opening_another_desk_closes_the_first_and_gives_back_its_call(engine, site, staff,
                                                                        database):
    maria = staff["maria"].id
    desk_1, desk_2 = site.counters["desk-1"], site.counters["desk-2"]
    ticket = engine.issue_ticket(site.id, [site.services["registration"]], "el")
    engine.open_counter(desk_1, maria)
    called = engine.call_next(desk_1).step
    assert step_state(database, called.id) == StepState.CALLED

    engine.open_counter(desk_2, maria)

    first = desk_row(database, desk_1)
    assert first.status == CounterStatus.CLOSED and first.staff_id is None
    assert desk_row(database, desk_2).staff_id == maria
    assert step_state(database, called.id) == StepState.WAITING
    assert waiting_ids(engine, site) == [ticket.steps[0].id]  # back in its place
    assert engine.live.redis.hget(f"{site_prefix(site.id)}counters", str(desk_1)) is None
    [closed] = events(database, "counter_closed")
    assert (closed.counter_id, closed.data) == (desk_1, {"reason": "moved",
                                                         "to_counter_id": desk_2})
    assert [e.step_id for e in events(database, "returned")] == [called.id]
    # Desk 2 calls the visitor desk 1 gave back.
    assert engine.call_next(desk_2).step.id == called.id


def test_another_member_of_staff_keeps_their_desk(engine, site, staff, database):
    engine.open_counter(site.counters["desk-1"], staff["maria"].id)
    engine.open_counter(site.counters["desk-2"], staff["kostas"].id)
    assert desk_row(database, site.counters["desk-1"]).status == CounterStatus.OPEN


def test_a_visitor_being_served_elsewhere_refuses_the_opening(engine, site, staff, database):
    maria = staff["maria"].id
    desk_1, desk_2 = site.counters["desk-1"], site.counters["desk-2"]
    engine.issue_ticket(site.id, [site.services["registration"]], "el")
    engine.open_counter(desk_1, maria)
    engine.call_next(desk_1)
    engine.start(desk_1)

    with pytest.raises(Conflict) as refused:
        engine.open_counter(desk_2, maria)
    assert refused.value.code == "serving_elsewhere"
    assert "A-001" in refused.value.message and "Desk 1" in refused.value.message
    assert refused.value.details == {"counter": desk_1, "ticket": "A-001"}
    # Nothing changed.
    assert desk_row(database, desk_1).status == CounterStatus.OPEN
    assert desk_row(database, desk_2).status == CounterStatus.CLOSED
    assert events(database, "counter_closed") == []


def test_the_api_and_the_page_close_the_old_desk(client, site, staff, engine, database):
    maria = staff["maria"].id
    desk_1, desk_2, desk_3 = (site.counters[k] for k in ("desk-1", "desk-2", "desk-3"))
    headers = bearer(database, maria)
    assert client.post(f"/api/v1/counters/{desk_1}/open", json={},
                       headers=headers).status_code == 200
    engine.issue_ticket(site.id, [site.services["registration"]], "el")
    client.post(f"/api/v1/counters/{desk_1}/call-next", headers=headers)
    client.post(f"/api/v1/counters/{desk_1}/start", headers=headers)

    refused = client.post(f"/api/v1/counters/{desk_2}/open", json={}, headers=headers)
    assert refused.status_code == 409
    error = refused.get_json()["error"]
    assert error["code"] == "serving_elsewhere" and "A-001" in error["message"]
    assert error["counter"] == desk_1 and error["ticket"] == "A-001"

    client.post(f"/api/v1/counters/{desk_1}/finish", headers=headers)
    assert client.post(f"/api/v1/counters/{desk_2}/open", json={},
                       headers=headers).status_code == 200
    assert desk_row(database, desk_1).status == CounterStatus.CLOSED

    # The choose page's form does the same ("Change desk").
    sign_in(client, "kostas")
    engine.open_counter(desk_3, staff["kostas"].id)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/counter").text)[1]
    answer = client.post("/counter/open", data={"counter": desk_2, "csrf_token": token})
    assert answer.status_code == 302
    assert desk_row(database, desk_3).status == CounterStatus.CLOSED
    assert desk_row(database, desk_2).staff_id == staff["kostas"].id


# Languages --------------------------------------------------------------------------

def test_a_desk_speaks_the_languages_of_who_opens_it(engine, site, nikos, database, client):
    desk_2 = site.counters["desk-2"]  # usually Greek and Arabic
    engine.open_counter(desk_2, nikos.id)
    assert desk_row(database, desk_2).duty_languages == ["en", "el"]
    # Nobody named: the desk's usual languages.
    engine.open_counter(site.counters["desk-1"])
    assert desk_row(database, site.counters["desk-1"]).duty_languages == ["el", "en"]

    sign_in(client, "nikos")
    page = client.get("/counter").text
    form = page[page.index(f'name="counter" value="{desk_2}"'):]
    form = form[:form.index("</form>")]
    ticked = re.findall(r'name="languages" value="(\w+)"\s+checked', form)
    assert ticked == ["el", "en"]  # the site's order; Arabic, the desk's usual, is not


# Absent desks -----------------------------------------------------------------------

def test_a_desk_whose_page_has_gone_is_paused(engine, site, staff, database, clock):
    desk = site.counters["desk-1"]
    engine.issue_ticket(site.id, [site.services["registration"]], "el")
    engine.open_counter(desk, staff["maria"].id)
    called = engine.call_next(desk).step

    clock.advance(seconds=ABSENT - 1)
    assert engine.pause_absent_desks(ABSENT) == []
    engine.counter_seen(desk)  # a heartbeat
    clock.advance(seconds=ABSENT - 1)
    assert engine.pause_absent_desks(ABSENT) == []
    clock.advance(seconds=1)

    assert engine.pause_absent_desks(ABSENT) == [desk]
    assert desk_row(database, desk).status == CounterStatus.PAUSED
    assert step_state(database, called.id) == StepState.WAITING
    assert waiting_ids(engine, site) == [called.id]
    [paused] = events(database, "counter_paused")
    assert paused.data == {"reason": "absent", "absent_seconds": ABSENT}
    assert paused.staff_id == staff["maria"].id
    assert engine.pause_absent_desks(ABSENT) == []  # once


def test_a_flush_pauses_nobody_and_serving_desks_stay(engine, site, staff, database, clock):
    desk_1, desk_2 = site.counters["desk-1"], site.counters["desk-2"]
    engine.open_counter(desk_1, staff["maria"].id)
    engine.issue_ticket(site.id, [site.services["registration"]], "el")
    engine.open_counter(desk_2, staff["kostas"].id)
    engine.call_next(desk_2)
    engine.start(desk_2)
    engine.live.redis.delete(presence_key(site.id))
    clock.advance(minutes=10)

    assert engine.pause_absent_desks(ABSENT) == []  # no record: as if seen just now
    clock.advance(seconds=ABSENT)
    assert engine.pause_absent_desks(ABSENT) == [desk_1]  # desk 2 serves a visitor
    assert desk_row(database, desk_2).status == CounterStatus.OPEN


def test_resuming_counts_as_seen(engine, site, staff, database, clock):
    desk = site.counters["desk-1"]
    engine.open_counter(desk, staff["maria"].id)
    clock.advance(seconds=ABSENT)
    assert engine.pause_absent_desks(ABSENT) == [desk]
    engine.resume_counter(desk)
    assert engine.pause_absent_desks(ABSENT) == []
    assert desk_row(database, desk).status == CounterStatus.OPEN


def staff_socket(live_server, username):
    """A Socket.IO client on /live with a signed-in member of staff's session, as a page has."""
    import socketio

    browser = live_server.app.test_client()
    sign_in(browser, username)
    client = socketio.Client(reconnection=False)
    client.connect(live_server.url, namespaces=["/live"], transports=["websocket"],
                   headers={"Cookie": f"session={browser.get_cookie('session').value}"},
                   wait_timeout=10)
    return client


def test_the_workstation_connection_reports_presence(live_server, site, staff):
    engine, desk = live_server.engine, site.counters["desk-1"]
    engine.open_counter(desk, staff["maria"].id)
    engine.live.redis.delete(presence_key(site.id))
    client = staff_socket(live_server, "maria")
    try:
        before = epoch(engine.clock())
        assert client.call("join", {"room": f"counter:{desk}"}, namespace="/live",
                           timeout=10) == {"ok": True}
        assert engine.live.last_seen(site.id)[desk] >= before
        engine.live.mark_present(site.id, desk, before - ABSENT)  # a minute ago
        assert client.call("heartbeat", {}, namespace="/live", timeout=10) == {"ok": True}
        assert engine.live.last_seen(site.id)[desk] >= before
        assert engine.pause_absent_desks(ABSENT) == []  # the heartbeat kept it
    finally:
        client.disconnect()


def test_a_heartbeat_counts_only_for_joined_desks(live_server, site, staff):
    engine, desk = live_server.engine, site.counters["desk-1"]
    engine.open_counter(desk, staff["maria"].id)
    client = staff_socket(live_server, "leila")  # legal aid: not desk 1's room
    try:
        assert client.call("join", {"room": f"counter:{desk}"}, namespace="/live",
                           timeout=10)["ok"] is False
        engine.live.mark_present(site.id, desk, epoch(engine.clock()) - ABSENT)
        client.call("heartbeat", {}, namespace="/live", timeout=10)
        assert engine.pause_absent_desks(ABSENT) == [desk]
    finally:
        client.disconnect()


def test_the_scheduler_runs_the_job(engine, site, staff, database, redis_url, database_url,
                                    monkeypatch):
    from rq.cron import CronScheduler

    from worker.desks import pause_absent_desks

    scheduler = CronScheduler(connection=engine.live.redis)
    scheduler.load_config_from_file("worker.schedule")
    jobs = {job.func_name: job for job in scheduler.get_jobs()}
    job = jobs["worker.desks.pause_absent_desks"]
    assert (job.interval, job.queue_name) == (15, "default")
    engine.open_counter(site.counters["desk-1"], staff["maria"].id)
    engine.live.mark_present(site.id, site.counters["desk-1"], 0.0)  # long gone
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert pause_absent_desks() == [site.counters["desk-1"]]


# Managers ---------------------------------------------------------------------------

def test_a_manager_pauses_and_closes_any_desk_from_the_dashboard(client, site, staff, engine,
                                                                 database):
    desk_1, desk_2 = site.counters["desk-1"], site.counters["desk-2"]
    engine.open_counter(desk_1, staff["maria"].id)
    engine.open_counter(desk_2, staff["leila"].id)
    engine.issue_ticket(site.id, [site.services["registration"]], "el")
    engine.call_next(desk_2)
    engine.start(desk_2)
    sign_in(client, "kostas")
    page = client.get("/manager").text
    token = re.search(r'data-csrf-token="([^"]+)"', page)[1]
    base = re.search(r'data-counters-url="([^"]+)"', page)[1]
    headers = {"X-CSRFToken": token}

    assert client.post(f"{base}{desk_1}/pause", headers=headers).status_code == 200
    assert desk_row(database, desk_1).status == CounterStatus.PAUSED
    assert client.post(f"{base}{desk_1}/close", headers=headers).status_code == 200
    assert desk_row(database, desk_1).status == CounterStatus.CLOSED
    busy = client.post(f"{base}{desk_2}/close", headers=headers)
    assert busy.status_code == 409 and busy.get_json()["error"]["code"] == "counter_busy"
    assert client.post(f"{base}{desk_2}/pause").status_code == 400  # no CSRF token


# Routing and estimates count attended desks only --------------------------------------

def test_nobody_is_held_for_a_paused_desk(engine, site, staff, clock):
    desk_1, desk_2 = site.counters["desk-1"], site.counters["desk-2"]
    ticket = engine.issue_ticket(site.id, [site.services["registration"]], "ar")
    engine.open_counter(desk_1, languages=["el", "en"])
    engine.open_counter(desk_2, staff["maria"].id, languages=["el", "ar"])
    held = engine.call_next(desk_1)
    assert held.step is None and held.held == 1  # desk 2 speaks Arabic and is free

    clock.advance(seconds=ABSENT)
    engine.counter_seen(desk_1)
    assert engine.pause_absent_desks(ABSENT) == [desk_2]  # its page has gone
    outcome = engine.call_next(desk_1)
    assert outcome.step.id == ticket.steps[0].id and outcome.held == 0


def test_the_estimate_ignores_a_paused_desk(engine, site, staff):
    desk_1, desk_2 = site.counters["desk-1"], site.counters["desk-2"]
    registration = site.services["registration"]
    for _ in range(4):
        engine.issue_ticket(site.id, [registration], "el")
    engine.open_counter(desk_1)
    engine.open_counter(desk_2)

    def newcomer_minutes():
        engine.live.redis.delete(f"{site_prefix(site.id)}forecast")  # not the shared copy
        return site_forecast(engine, site.id).newcomer_minutes(registration)

    both = newcomer_minutes()
    engine.pause_counter(desk_2)
    paused = newcomer_minutes()
    engine.close_counter(desk_2)
    assert paused == newcomer_minutes() > both
