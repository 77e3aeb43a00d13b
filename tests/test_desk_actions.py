"""Safeguards and actions at the desk: confirmed no-shows, undo, a chosen call, transfer.

Each through the engine and through the counter API, on SQLite and PostgreSQL.
"""

import re

import pytest
from sqlalchemy import select

from tessera.clock import epoch
from tessera.errors import Conflict, InvalidInput
from tessera.models import Event, Step, StepState
from tessera.queue.live import queue_key, reserved_key
from tessera.queue.reconcile import reconcile
from tessera.status.desk import counter_view

from .helpers import sign_in


def issue(engine, site, *services, language="en"):
    """A walk-in ticket for these services (by key)."""
    return engine.issue_ticket(site.id, [site.services[s] for s in services], language)


def states(database, ticket) -> list[StepState]:
    """The ticket's step states, in journey order."""
    with database.session() as session:
        return list(session.scalars(select(Step.state).where(Step.ticket_id == ticket.id)
                                    .order_by(Step.position)))


def events(database, ticket) -> list[Event]:
    """The ticket's events, oldest first."""
    with database.session() as session:
        return list(session.scalars(select(Event).where(Event.ticket_id == ticket.id)
                                    .order_by(Event.id)))


def queued(redis_client, key) -> list[int]:
    """The step ids in a Redis sorted set, oldest first."""
    return [int(member.split(b"|")[0]) for member in redis_client.zrange(key, 0, -1)]


def view(engine, desk) -> dict:
    """The desk view, as the API answers it."""
    return counter_view(engine, desk, "en")


@pytest.fixture
def desks(engine, site):
    """desk-1 and desk-2 open (registration, certificates); desk-3 (legal) closed."""
    engine.open_counter(site.counters["desk-1"])
    engine.open_counter(site.counters["desk-2"])
    return site.counters["desk-1"], site.counters["desk-2"]


# 1. A no-show is never one click too many ----------------------------------------------

def test_the_recall_past_the_limit_must_be_confirmed(engine, site, desks, database):
    desk, _ = desks
    ticket = issue(engine, site, "registration", "legal_advice")
    engine.call_next(desk)
    assert view(engine, desk)["current"]["step"]["recalls_left"] == 2
    engine.recall(desk)
    engine.recall(desk)
    assert view(engine, desk)["current"]["step"]["recalls_left"] == 0
    before = len(events(database, ticket))
    with pytest.raises(Conflict) as refused:
        engine.recall(desk)
    assert refused.value.code == "recall_limit" and refused.value.details["recalls_left"] == 0
    assert len(events(database, ticket)) == before  # nothing changed
    assert states(database, ticket) == [StepState.CALLED, StepState.PLANNED]
    engine.recall(desk, confirm_no_show=True, remaining="keep")
    assert states(database, ticket) == [StepState.NO_SHOW, StepState.WAITING]
    assert events(database, ticket)[-2].data["reason"] == "recall_limit"


# 3. After a no-show, the rest of the journey: cancelled or kept ------------------------

def test_a_no_show_cancels_the_rest_by_default_or_keeps_it_queued(engine, site, desks,
                                                                  database, redis_client,
                                                                  clock):
    desk, _ = desks
    kept = issue(engine, site, "registration", "legal_advice", "certificates")
    clock.advance(minutes=5)
    cancelled = issue(engine, site, "registration", "legal_advice")
    engine.call_next(desk)
    assert view(engine, desk)["current"]["step"]["later_services"] == 2
    engine.no_show(desk, remaining="keep")
    assert states(database, kept) == [StepState.NO_SHOW, StepState.WAITING, StepState.PLANNED]
    legal = redis_client.zrange(queue_key(site.id, site.services["legal_advice"]), 0, -1,
                                withscores=True)
    assert [score for _member, score in legal] == [epoch(kept.arrived_at)]  # its place
    engine.call_next(desk)
    engine.no_show(desk)
    assert states(database, cancelled) == [StepState.NO_SHOW, StepState.CANCELLED]
    engine.issue_ticket(site.id, [site.services["registration"]], "en")
    engine.call_next(desk)
    with pytest.raises(InvalidInput) as wrong:
        engine.no_show(desk, remaining="later")
    assert wrong.value.code == "invalid_remaining"


# 2. Undo a finish or a no-show, for two minutes ----------------------------------------

def test_undo_a_finish_brings_the_step_back_and_unqueues_the_next(engine, site, desks,
                                                                  database, redis_client):
    desk, _ = desks
    ticket = issue(engine, site, "registration", "legal_advice")
    engine.call_next(desk)
    engine.start(desk)
    engine.finish(desk)
    legal = queue_key(site.id, site.services["legal_advice"])
    assert len(queued(redis_client, legal)) == 1
    assert view(engine, desk)["undo"]["action"] == "finished"
    back = engine.undo(desk)
    assert back.state == StepState.SERVING and back.ended_at is None
    assert states(database, ticket) == [StepState.SERVING, StepState.PLANNED]
    assert queued(redis_client, legal) == []
    assert [e.kind for e in events(database, ticket)][-2:] == ["undone", "undone"]
    assert view(engine, desk)["current"]["step"]["state"] == "serving"
    assert view(engine, desk)["undo"] is None
    with pytest.raises(Conflict) as twice:
        engine.undo(desk)
    assert twice.value.code == "nothing_to_undo"
    engine.finish(desk)  # and the journey moves on again
    assert states(database, ticket) == [StepState.DONE, StepState.WAITING]


def test_undo_a_no_show_brings_back_what_it_cancelled(engine, site, desks, database,
                                                     redis_client):
    desk, _ = desks
    ticket = issue(engine, site, "registration", "legal_advice", "certificates")
    engine.call_next(desk)
    engine.no_show(desk)
    assert engine.undo(desk).state == StepState.CALLED
    assert states(database, ticket) == [StepState.CALLED, StepState.PLANNED, StepState.PLANNED]
    duty = redis_client.hget(f"tessera:{{{site.id}}}:counters", str(desk))
    assert f'"step": "{ticket.steps[0].id}"'.encode() in duty  # the desk holds it again


def test_undo_is_refused_after_two_minutes_or_once_something_happened(engine, site, desks,
                                                                      database, clock):
    desk, other = desks
    first = issue(engine, site, "registration")
    issue(engine, site, "registration")
    engine.call_next(desk)
    engine.no_show(desk)
    clock.advance(seconds=121)
    with pytest.raises(Conflict) as late:
        engine.undo(desk)
    assert late.value.code == "undo_expired"
    assert view(engine, desk)["undo"] is None
    assert states(database, first) == [StepState.NO_SHOW]

    # In a language both desks speak, so that nobody holds it for a colleague.
    journey = issue(engine, site, "registration", "certificates", language="el")
    engine.call_next(desk)  # the second ticket
    engine.no_show(desk)
    engine.call_next(desk)  # the desk has called someone else since
    with pytest.raises(Conflict) as since:
        engine.undo(desk)
    assert since.value.code == "nothing_to_undo"

    engine.start(desk)
    engine.finish(desk)  # journey's certificates step now waits...
    engine.call_next(other)  # ... and another desk has called it
    before = [e.id for e in events(database, journey)]
    with pytest.raises(Conflict) as called:
        engine.undo(desk)
    assert called.value.code == "next_step_called"
    assert [e.id for e in events(database, journey)] == before  # nothing changed
    assert states(database, journey) == [StepState.DONE, StepState.CALLED]


# 4. Call a chosen ticket, with a reason -------------------------------------------------

def test_a_desk_calls_a_chosen_ticket_with_a_reason(engine, site, desks, database,
                                                   redis_client, clock):
    desk, other = desks
    issue(engine, site, "registration")
    clock.advance(minutes=1)
    chosen = issue(engine, site, "registration")
    step_id = chosen.steps[0].id
    assert step_id in [row["step_id"] for row in view(engine, desk)["waiting"]]
    with pytest.raises(InvalidInput) as silent:
        engine.call_step(desk, step_id, "  ")
    assert silent.value.code == "reason_required"
    step = engine.call_step(desk, step_id, "back from the photocopier")
    assert step.state == StepState.CALLED and step.counter_id == desk
    called = events(database, chosen)[-1]
    assert called.kind == "called" and called.data["reason"] == "back from the photocopier"
    assert step_id not in queued(redis_client, queue_key(site.id, site.services["registration"]))
    engine.start(desk)
    with pytest.raises(Conflict) as again:
        engine.call_step(other, step_id, "twice")
    assert again.value.code == "not_waiting"


def test_a_chosen_call_is_one_atomic_claim(engine, site, desks, database):
    desk, other = desks
    ticket = issue(engine, site, "registration")
    step = ticket.steps[0]
    waiting = engine.live.waiting(site.id, step.service_id)
    # Another desk's claim took the step in Redis first (its SQL update still to come).
    member = waiting[0][0]
    assert engine.live.redis.zrem(queue_key(site.id, step.service_id), member) == 1
    with pytest.raises(Conflict) as taken:
        engine.call_step(desk, step.id, "urgent")
    assert taken.value.code == "taken"
    assert states(database, ticket) == [StepState.WAITING]
    assert view(engine, desk)["current"] is None
    assert engine.live.claim(site.id, other, 0.0).status == "empty"


def test_a_chosen_call_must_be_a_service_the_desk_serves(engine, site, desks, database):
    desk, _ = desks
    ticket = issue(engine, site, "legal_advice")
    with pytest.raises(InvalidInput) as refused:
        engine.call_step(desk, ticket.steps[0].id, "please")
    assert refused.value.code == "not_served_here"
    assert states(database, ticket) == [StepState.WAITING]


# 5. Transfer to a named desk, keeping the place -----------------------------------------

def test_a_transfer_reserves_the_step_for_the_named_desk(engine, site, desks, database,
                                                         redis_client, clock):
    desk, other = desks
    transferred = issue(engine, site, "registration")
    clock.advance(minutes=3)
    younger = issue(engine, site, "registration")
    engine.call_next(desk)
    engine.start(desk)
    step = engine.transfer(desk, other)
    assert step.state == StepState.WAITING and step.reserved_counter_id == other
    assert view(engine, desk)["current"] is None
    registration = queue_key(site.id, site.services["registration"])
    assert queued(redis_client, registration) == [younger.steps[0].id]
    assert queued(redis_client, reserved_key(site.id, other)) == [step.id]
    rows = view(engine, other)["waiting"]
    assert [(row["number"], row["reserved"]) for row in rows] == [
        (transferred.number, True), (younger.number, False)]
    assert transferred.number not in [row["number"] for row in view(engine, desk)["waiting"]]
    with pytest.raises(Conflict) as reserved:
        engine.call_step(desk, step.id, "mine")
    assert reserved.value.code == "reserved"

    # Redis may be flushed: the reservation is in SQL and comes back.
    redis_client.flushdb()
    reconcile(engine.database, engine.live, now=clock())
    assert queued(redis_client, reserved_key(site.id, other)) == [step.id]
    assert queued(redis_client, registration) == [younger.steps[0].id]

    # The first desk is offered the younger ticket; the named desk gets its transfer first.
    assert engine.call_next(desk).step.ticket_id == younger.id
    called = engine.call_next(other).step
    assert called.id == step.id and called.reserved_counter_id is None
    assert [e.kind for e in events(database, transferred)][-2:] == ["transferred", "called"]


def test_bad_transfers_are_refused_and_change_nothing(engine, site, desks, database):
    desk, _ = desks
    ticket = issue(engine, site, "registration")
    engine.call_next(desk)
    refusals = {}
    for target in (desk, site.counters["desk-3"], 999_999):
        with pytest.raises((Conflict, InvalidInput)) as refused:
            engine.transfer(desk, target)
        refusals[target] = refused.value.code
    assert refusals == {desk: "same_counter", site.counters["desk-3"]: "counter_closed",
                        999_999: "unknown_counter"}
    engine.open_counter(site.counters["desk-3"])
    with pytest.raises(InvalidInput) as unserved:
        engine.transfer(desk, site.counters["desk-3"])
    assert unserved.value.code == "not_served_there"
    assert states(database, ticket) == [StepState.CALLED]


def test_closing_the_named_desk_gives_the_step_back_to_everyone(engine, site, desks,
                                                               database, redis_client):
    desk, other = desks
    issue(engine, site, "registration")
    step = engine.call_next(desk).step
    engine.transfer(desk, other)
    engine.close_counter(other)
    assert queued(redis_client, reserved_key(site.id, other)) == []
    assert engine.call_next(desk).step.id == step.id


# 6. A referral to a service already in the journey --------------------------------------

def test_a_referral_to_a_service_already_in_the_journey_is_refused(engine, site, desks,
                                                                   database):
    desk, _ = desks
    ticket = issue(engine, site, "registration", "legal_advice")
    engine.call_next(desk)
    with pytest.raises(Conflict) as refused:
        engine.refer(desk, site.services["legal_advice"])
    assert refused.value.code == "already_in_journey"
    assert states(database, ticket) == [StepState.CALLED, StepState.PLANNED]


# Through the API ------------------------------------------------------------------------

def page_csrf(client, counter_id) -> str:
    """The CSRF token of the workstation page (what counter.js sends)."""
    page = client.get(f"/counter/{counter_id}").text
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)


@pytest.fixture
def api(client, site, staff, desks):
    """POST /api/v1/counters/<desk>/<action> with a JSON body, signed in as maria."""
    sign_in(client, "maria")
    token = page_csrf(client, desks[0])

    def post(desk, action, **body):
        return client.post(f"/api/v1/counters/{desk}/{action}", json=body,
                           headers={"X-CSRFToken": token})

    return post


def error_code(answer) -> tuple[int, str]:
    """An error answer's status and code."""
    return answer.status_code, answer.get_json()["error"]["code"]


def test_the_api_confirms_no_shows_and_undoes(api, engine, site, desks, database):
    desk, _ = desks
    ticket = issue(engine, site, "registration", "legal_advice")
    api(desk, "call-next")
    for _ in range(2):
        api(desk, "recall")
    assert error_code(api(desk, "recall")) == (409, "recall_limit")
    assert error_code(api(desk, "no-show", remaining="maybe")) == (422, "invalid_remaining")
    answer = api(desk, "no-show", remaining="keep")
    assert answer.status_code == 200 and answer.get_json()["undo"]["action"] == "no_show"
    assert states(database, ticket) == [StepState.NO_SHOW, StepState.WAITING]
    undone = api(desk, "undo")
    assert undone.status_code == 200
    assert undone.get_json()["current"]["ticket"]["number"] == ticket.number
    assert states(database, ticket) == [StepState.CALLED, StepState.PLANNED]
    assert error_code(api(desk, "undo")) == (409, "nothing_to_undo")
    confirmed = api(desk, "recall", confirm_no_show=True)
    assert confirmed.status_code == 200 and confirmed.get_json()["current"] is None
    assert states(database, ticket) == [StepState.NO_SHOW, StepState.CANCELLED]


def test_the_api_calls_a_chosen_ticket_and_transfers_it(api, engine, site, desks, database):
    desk, other = desks
    issue(engine, site, "registration")
    chosen = issue(engine, site, "certificates")
    legal = issue(engine, site, "legal_advice")
    assert error_code(api(desk, "call", step=chosen.steps[0].id)) == (422, "invalid_reason")
    assert error_code(api(desk, "call", step=legal.steps[0].id, reason="x")) == (
        422, "not_served_here")
    answer = api(desk, "call", step=chosen.steps[0].id, reason="appointment overran")
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["current"]["ticket"]["number"] == chosen.number
    assert [target["id"] for target in body["transfer_targets"]] == [other]
    assert error_code(api(other, "call", step=chosen.steps[0].id, reason="x")) == (
        409, "not_waiting")
    assert error_code(api(desk, "transfer", counter=desk)) == (422, "same_counter")
    assert error_code(api(desk, "transfer", counter="desk-2")) == (422, "invalid_counter")
    moved = api(desk, "transfer", counter=other)
    assert moved.status_code == 200 and moved.get_json()["current"] is None
    mine = api(other, "call-next").get_json()
    assert mine["ticket"]["number"] == chosen.number


def test_the_api_refuses_a_referral_already_in_the_journey(api, engine, site, desks):
    desk, _ = desks
    issue(engine, site, "registration", "legal_advice")
    api(desk, "call-next")
    answer = api(desk, "refer", service=site.services["legal_advice"])
    assert error_code(answer) == (409, "already_in_journey")
    assert answer.get_json()["error"]["message"]
