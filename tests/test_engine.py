"""The queue engine on real Redis and real SQL: issuing, calling, and every transition."""

import datetime as dt
import json

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from tessera.errors import Conflict, InvalidInput, NotFound
from tessera.models import Event, Step, StepState, Ticket
from tessera.queue.calling import ACTIVE_STEP_INDEX_NAMES
from tessera.queue.live import queue_key


def counts(database) -> tuple[int, int, int]:
    """Tickets, steps and events in SQL: bad input must leave all three alone."""
    with database.session() as session:
        return tuple(session.scalar(select(func.count()).select_from(model))
                     for model in (Ticket, Step, Event))


def kinds(database, ticket_id: int) -> list[str]:
    """The event kinds of one ticket, in order."""
    with database.session() as session:
        return list(session.scalars(select(Event.kind).where(Event.ticket_id == ticket_id)
                                    .order_by(Event.id)))


def step_state(database, step_id: int) -> StepState:
    """A step's state as SQL has it."""
    with database.session() as session:
        return session.get(Step, step_id).state


def issue(engine, site, *services, language="en", **options):
    """Issue a ticket at the small site for services given by key."""
    return engine.issue_ticket(site.id, [site.services[key] for key in services], language,
                               **options)


def test_issue_commits_ticket_then_queues_it(engine, site, database, redis_client):
    ticket = issue(engine, site, "registration", "legal_advice", needs=["priority"])

    assert ticket.number == "A-001"
    assert [step.state for step in ticket.steps] == [StepState.WAITING, StepState.PLANNED]
    assert len(ticket.token) >= 22  # 128 random bits, URL-safe
    assert kinds(database, ticket.id) == ["issued", "queued"]
    members = redis_client.zrange(queue_key(site.id, site.services["registration"]), 0, -1)
    assert members == [f"{ticket.steps[0].id}|en|p|0".encode()]
    assert engine.position(ticket) == 0


def test_numbers_count_per_prefix(engine, site):
    numbers = [issue(engine, site, key).number
               for key in ("registration", "registration", "certificates", "registration")]
    assert numbers == ["A-001", "A-002", "B-001", "A-003"]


def test_numbering_restarts_at_local_midnight_keeping_history(engine, site, clock, database):
    # Athens is UTC+2 in November: local midnight is 22:00 UTC, not 00:00 UTC.
    clock.now = dt.datetime(2026, 11, 23, 21, 58)
    assert issue(engine, site, "registration").number == "A-001"
    assert issue(engine, site, "registration").number == "A-002"
    clock.advance(minutes=3)  # 00:01 on Tuesday in Athens, still Monday in UTC
    tuesday = issue(engine, site, "registration")
    assert tuesday.number == "A-001"
    assert tuesday.service_day == dt.date(2026, 11, 24)
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Ticket)) == 3


def test_numbering_survives_a_redis_flush(engine, site, redis_client):
    issue(engine, site, "registration")
    issue(engine, site, "registration")
    redis_client.flushdb()
    assert issue(engine, site, "registration").number == "A-003"


def test_idempotency_key_makes_a_double_tap_one_ticket(engine, site, database):
    first = issue(engine, site, "registration", idempotency_key="tap-1")
    again = issue(engine, site, "registration", idempotency_key="tap-1")
    assert again.id == first.id and again.number == first.number
    assert counts(database)[0] == 1
    with pytest.raises(InvalidInput) as refused:
        issue(engine, site, "certificates", idempotency_key="tap-1")
    assert refused.value.code == "idempotency_key_reused"
    assert counts(database)[0] == 1


@pytest.mark.parametrize(("services", "language", "needs", "code"), [
    ((), "en", (), "empty_journey"),
    ((999_999,), "en", (), "unknown_service"),
    (("registration",), "xx", (), "unknown_language"),
    (("registration", "registration"), "en", (), "duplicate_service"),
    (("registration",), "en", ("vip",), "unknown_need"),
])
def test_bad_issue_requests_are_refused_and_change_nothing(engine, site, database, services,
                                                           language, needs, code):
    before = counts(database)
    ids = [site.services.get(key, key) for key in services]
    with pytest.raises(InvalidInput) as refused:
        engine.issue_ticket(site.id, ids, language, needs)
    assert refused.value.code == code
    assert refused.value.message
    assert counts(database) == before


def test_too_many_services_and_unknown_site(engine, site):
    engine.max_services = 2
    with pytest.raises(InvalidInput, match="At most 2"):
        issue(engine, site, "registration", "certificates", "legal_advice")
    with pytest.raises(NotFound):
        engine.issue_ticket("nowhere", [site.services["registration"]], "en")


def test_call_start_finish(engine, site, database, clock):
    ticket = issue(engine, site, "registration")
    desk = site.counters["desk-1"]
    engine.open_counter(desk)
    clock.advance(minutes=4)

    called = engine.call_next(desk).step
    assert called.id == ticket.steps[0].id and called.state == StepState.CALLED
    assert engine.start(desk).state == StepState.SERVING
    assert engine.finish(desk).state == StepState.DONE
    assert kinds(database, ticket.id) == ["issued", "queued", "called", "started", "finished"]
    with database.session() as session:
        called_event = session.scalars(select(Event).where(Event.kind == "called")).one()
    assert called_event.data["waited_seconds"] == 240
    assert called_event.counter_id == desk


def test_call_next_on_an_empty_queue_returns_nothing(engine, site):
    engine.open_counter(site.counters["desk-1"])
    outcome = engine.call_next(site.counters["desk-1"])
    assert outcome.step is None and outcome.held == 0


def test_a_counter_holds_one_ticket_at_a_time(engine, site):
    issue(engine, site, "registration")
    issue(engine, site, "registration")
    desk = site.counters["desk-1"]
    engine.open_counter(desk)
    engine.call_next(desk)
    with pytest.raises(Conflict) as refused:
        engine.call_next(desk)
    assert refused.value.code == "counter_busy"


def test_a_closed_counter_cannot_call(engine, site):
    issue(engine, site, "registration")
    with pytest.raises(Conflict, match="not open"):
        engine.call_next(site.counters["desk-1"])


def test_illegal_transitions_are_refused_and_change_nothing(engine, site, database):
    ticket = issue(engine, site, "registration")
    desk = site.counters["desk-1"]
    engine.open_counter(desk)
    for action in (engine.start, engine.finish, engine.no_show, engine.recall):
        with pytest.raises(Conflict, match="no ticket"):
            action(desk)
    engine.call_next(desk)
    with pytest.raises(Conflict, match="is called, not serving"):
        engine.finish(desk)
    engine.start(desk)
    before = counts(database)
    for action in (engine.start, engine.no_show, engine.recall):
        with pytest.raises(Conflict, match="is serving, not called"):
            action(desk)
    with pytest.raises(Conflict, match="being served"):
        engine.cancel(ticket.token)
    assert counts(database) == before
    assert step_state(database, ticket.steps[0].id) == StepState.SERVING


def test_recall_until_the_limit_then_no_show(engine, site, database, redis_client):
    ticket = issue(engine, site, "registration", "legal_advice")
    desk = site.counters["desk-1"]
    engine.open_counter(desk)
    engine.call_next(desk)
    assert engine.recall(desk).recall_count == 1
    assert engine.recall(desk).recall_count == 2  # the small site allows two recalls
    with pytest.raises(Conflict, match="last recall"):  # never a no-show by one click too many
        engine.recall(desk)
    assert engine.recall(desk, confirm_no_show=True).state == StepState.NO_SHOW
    assert kinds(database, ticket.id)[-4:] == ["recalled", "recalled", "no_show", "cancelled"]
    with database.session() as session:
        states = [s.state for s in session.get(Ticket, ticket.id).steps]
    assert states == [StepState.NO_SHOW, StepState.CANCELLED]  # the visitor is gone
    # The desk is free again.
    issue(engine, site, "certificates")
    assert engine.call_next(desk).step is not None


def test_no_show(engine, site, database):
    ticket = issue(engine, site, "registration")
    desk = site.counters["desk-1"]
    engine.open_counter(desk)
    engine.call_next(desk)
    assert engine.no_show(desk).state == StepState.NO_SHOW
    with database.session() as session:
        assert session.get(Ticket, ticket.id).state == "no_show"


def test_journey_moves_on_to_the_next_service_keeping_its_place(engine, site, clock, database):
    first = issue(engine, site, "registration", "legal_advice")
    clock.advance(minutes=1)
    later = issue(engine, site, "legal_advice")
    desk, legal_desk = site.counters["desk-1"], site.counters["desk-3"]
    engine.open_counter(desk)
    engine.call_next(desk)
    engine.start(desk)
    clock.advance(minutes=10)
    engine.finish(desk)

    engine.open_counter(legal_desk)
    # The journey's second step queues by the visit's arrival, ahead of `later`.
    assert engine.call_next(legal_desk).step.ticket_id == first.id
    assert "queued" in kinds(database, first.id)[4:]
    engine.start(legal_desk)
    engine.finish(legal_desk)
    assert engine.call_next(legal_desk).step.ticket_id == later.id


def test_referral_keeps_arrival_order_and_note(engine, site, clock):
    referred = issue(engine, site, "registration")
    clock.advance(minutes=2)
    newcomer = issue(engine, site, "legal_advice")
    desk, legal_desk = site.counters["desk-1"], site.counters["desk-3"]
    engine.open_counter(desk)
    engine.call_next(desk)
    engine.start(desk)
    clock.advance(minutes=15)
    referral = engine.refer(desk, site.services["legal_advice"], note="  needs a lease check ")
    assert referral.state == StepState.WAITING and referral.note == "needs a lease check"
    assert [s.state for s in referral.ticket.steps] == [StepState.REFERRED, StepState.WAITING]

    engine.open_counter(legal_desk)
    first_called = engine.call_next(legal_desk).step
    assert first_called.ticket_id == referred.id
    assert first_called.ticket.number == referred.number  # same ticket, same number
    engine.start(legal_desk)
    engine.finish(legal_desk)
    assert engine.call_next(legal_desk).step.ticket_id == newcomer.id


def test_bad_referrals_are_refused(engine, site):
    issue(engine, site, "registration")
    desk = site.counters["desk-1"]
    engine.open_counter(desk)
    engine.call_next(desk)
    with pytest.raises(InvalidInput, match="different service"):
        engine.refer(desk, site.services["registration"])
    with pytest.raises(InvalidInput, match="no service"):
        engine.refer(desk, 999_999)
    with pytest.raises(InvalidInput, match="500 characters"):
        engine.refer(desk, site.services["legal_advice"], note="x" * 501)


def test_cancel_takes_the_ticket_out_of_the_queue(engine, site, database, redis_client):
    ticket = issue(engine, site, "registration", "legal_advice")
    engine.cancel(ticket.token)
    assert redis_client.zcard(queue_key(site.id, site.services["registration"])) == 0
    with database.session() as session:
        assert session.get(Ticket, ticket.id).state == "cancelled"
    with pytest.raises(Conflict, match="already finished"):
        engine.cancel(ticket.token)
    with pytest.raises(NotFound):
        engine.cancel("not-a-token")


def test_cancel_of_a_called_ticket_frees_the_desk(engine, site):
    ticket = issue(engine, site, "registration")
    issue(engine, site, "registration")
    desk = site.counters["desk-1"]
    engine.open_counter(desk)
    engine.call_next(desk)
    engine.cancel(ticket.token)
    assert engine.call_next(desk).step is not None


def test_pausing_gives_a_called_ticket_back_its_place(engine, site, clock):
    first = issue(engine, site, "registration")
    clock.advance(minutes=1)
    issue(engine, site, "registration")
    desk, other = site.counters["desk-1"], site.counters["desk-2"]
    engine.open_counter(desk)
    engine.call_next(desk)
    engine.pause_counter(desk)
    with pytest.raises(Conflict, match="not open"):
        engine.call_next(desk)
    engine.open_counter(other)
    assert engine.call_next(other).step.ticket_id == first.id
    engine.resume_counter(desk)
    assert engine.call_next(desk).step.ticket_id != first.id


def test_open_counter_validates_its_duty(engine, site):
    desk = site.counters["desk-1"]
    with pytest.raises(InvalidInput, match="services this counter offers"):
        engine.open_counter(desk, service_ids=[site.services["legal_advice"]])
    with pytest.raises(InvalidInput, match="not offered"):
        engine.open_counter(desk, languages=["xx"])
    with pytest.raises(NotFound):
        engine.open_counter(999_999)
    with pytest.raises(Conflict, match="closed"):
        engine.resume_counter(desk)


def test_queue_overview(engine, site, clock):
    issue(engine, site, "registration")
    clock.advance(minutes=5)
    second = issue(engine, site, "registration")
    overview = {row["service"]: row for row in engine.queue_overview(site.id)}
    assert overview["registration"]["waiting"] == 2
    assert overview["registration"]["oldest_arrival"] == clock.now - dt.timedelta(minutes=5)
    assert overview["legal_advice"]["waiting"] == 0
    assert engine.position(second) == 1


def test_a_retry_after_a_lost_queue_write_queues_the_ticket(engine, site, redis_client):
    first = issue(engine, site, "registration", idempotency_key="tap")
    key = queue_key(site.id, site.services["registration"])
    redis_client.delete(key)  # the first attempt committed, then failed to queue
    again = issue(engine, site, "registration", idempotency_key="tap")
    assert again.id == first.id
    assert redis_client.zcard(key) == 1


def test_sql_refuses_a_second_ticket_for_a_busy_desk_even_if_redis_forgot(engine, site,
                                                                          redis_client, database):
    for _ in range(2):
        issue(engine, site, "registration")
    desk = site.counters["desk-1"]
    engine.open_counter(desk)
    engine.call_next(desk)
    redis_client.hdel(f"tessera:{{{site.id}}}:counters", str(desk))  # Redis loses the duty
    with pytest.raises(Conflict, match="already has a ticket"):
        engine.call_next(desk)
    with database.session() as session:
        called = session.scalars(select(Step).where(Step.counter_id == desk,
                                                    Step.state == StepState.CALLED)).all()
    assert len(called) == 1
    assert redis_client.zcard(queue_key(site.id, site.services["registration"])) == 1


def test_a_paused_desk_never_calls_even_if_redis_thinks_it_is_open(engine, site, redis_client):
    issue(engine, site, "registration")
    desk = site.counters["desk-1"]
    engine.open_counter(desk)
    engine.pause_counter(desk)
    open_duty = {"state": "open", "services": [str(site.services["registration"])],
                 "languages": ["el"]}
    redis_client.hset(f"tessera:{{{site.id}}}:counters", str(desk), json.dumps(open_duty))
    with pytest.raises(Conflict, match="not open"):
        engine.call_next(desk)
    assert redis_client.zcard(queue_key(site.id, site.services["registration"])) == 1


def test_sql_itself_refuses_two_active_steps_at_one_desk(engine, site, database):
    # The last line of defence behind the engine's checks, and the error it turns into
    # "this desk already has a ticket" on each database.
    for _ in range(2):
        engine.issue_ticket(site.id, [site.services["registration"]], "el")
    with pytest.raises(IntegrityError) as refused, database.session() as session:
        for step in session.scalars(select(Step)):
            step.state, step.counter_id = StepState.CALLED, site.counters["desk-1"]
    assert any(name in str(refused.value.orig) for name in ACTIVE_STEP_INDEX_NAMES)
