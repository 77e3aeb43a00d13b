"""Many counters at once: every step is called exactly once, every number is unique."""

import threading
from collections import Counter as Tally

import pytest
from sqlalchemy import select

from tessera.models import Counter, Event, Service, Step, StepState, Ticket
from tessera.sites.loader import load_site

COUNTERS = 50
TICKETS = 150


def crowded_site(counters: int) -> dict:
    """A site document with one service served by many counters."""
    text = {"el": {"name": "Εξυπηρέτηση"}}
    return {
        "id": "crowded", "name": {"el": "Κέντρο"}, "timezone": "Europe/Athens",
        "language": "el", "languages": ["el", "en"],
        "organisations": {"city": {"name": {"el": "Δήμος"}}},
        "services": {"general": {"organisation": "city", "prefix": "A", "target_wait": 30,
                                 "mean_handling": 5, "text": text}},
        "counters": {f"desk-{n}": {"name": {"el": f"Γραφείο {n}"}, "services": ["general"],
                                   "languages": ["el"]} for n in range(1, counters + 1)},
    }


@pytest.fixture
def crowded(database, engine):
    """The crowded site loaded, every counter open; returns (service id, counter ids)."""
    with database.session() as session:
        load_site(session, crowded_site(COUNTERS))
        service_id = session.scalars(select(Service.id).where(Service.key == "general")).one()
        counter_ids = list(session.scalars(select(Counter.id).order_by(Counter.id)))
    for counter_id in counter_ids:
        engine.open_counter(counter_id)
    return service_id, counter_ids


def run_threads(target, arguments) -> list[BaseException]:
    """Run `target(argument)` in one thread per argument, released at the same moment."""
    start = threading.Barrier(len(arguments))
    errors: list[BaseException] = []

    def body(argument):
        start.wait()
        try:
            target(argument)
        except BaseException as error:  # reported by the test, not lost in a thread
            errors.append(error)

    threads = [threading.Thread(target=body, args=(a,)) for a in arguments]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    # A thread still running would make the counts below wrong for the wrong reason.
    errors.extend(TimeoutError(f"{thread.name} still runs after 120 s")
                  for thread in threads if thread.is_alive())
    return errors


@pytest.mark.slow
def test_fifty_counters_call_every_step_exactly_once(engine, database, crowded):
    service_id, counter_ids = crowded
    for _ in range(TICKETS):
        engine.issue_ticket("crowded", [service_id], "el")
    served_by: dict[int, list[int]] = {counter_id: [] for counter_id in counter_ids}

    def serve(counter_id):
        while True:
            step = engine.call_next(counter_id).step
            if step is None:
                return
            served_by[counter_id].append(step.id)
            engine.start(counter_id)
            engine.finish(counter_id)

    assert run_threads(serve, counter_ids) == []

    served = [step_id for steps in served_by.values() for step_id in steps]
    assert len(served) == TICKETS and len(set(served)) == TICKETS
    assert sum(1 for steps in served_by.values() if steps) > 1  # really concurrent
    with database.session() as session:
        calls = Tally(session.scalars(select(Event.step_id).where(Event.kind == "called")))
        states = set(session.scalars(select(Step.state)))
    assert set(calls.values()) == {1} and len(calls) == TICKETS
    assert states == {StepState.DONE}


@pytest.mark.slow
def test_concurrent_issuing_gives_unique_numbers(engine, database, crowded):
    service_id, _ = crowded
    per_thread = 5

    def issue(_index):
        for _ in range(per_thread):
            engine.issue_ticket("crowded", [service_id], "el")

    assert run_threads(issue, list(range(20))) == []
    with database.session() as session:
        numbers = list(session.scalars(select(Ticket.number)))
    assert len(numbers) == 20 * per_thread
    assert sorted(numbers) == [f"A-{n:03d}" for n in range(1, 20 * per_thread + 1)]


@pytest.mark.slow
def test_double_tap_from_many_threads_is_one_ticket(engine, database, crowded):
    service_id, _ = crowded
    tickets = []
    errors = run_threads(lambda _: tickets.append(
        engine.issue_ticket("crowded", [service_id], "el", idempotency_key="tap")), range(10))
    assert errors == []
    assert len({ticket.id for ticket in tickets}) == 1
    with database.session() as session:
        assert len(session.scalars(select(Ticket.id)).all()) == 1


@pytest.mark.slow
def test_a_double_click_at_one_desk_calls_one_ticket(engine, database, crowded):
    service_id, counter_ids = crowded
    desk = counter_ids[0]
    for _ in range(2 * 20):
        engine.issue_ticket("crowded", [service_id], "el")
    for _round in range(20):
        called = []
        errors = run_threads(lambda _, called=called: called.append(engine.call_next(desk).step),
                             range(2))
        # One request calls; the other is told the desk already has a ticket.
        assert [error.code for error in errors] == ["counter_busy"]
        assert len(called) == 1
        with database.session() as session:
            active = session.scalars(select(Step.id).where(
                Step.counter_id == desk,
                Step.state.in_((StepState.CALLED, StepState.SERVING)))).all()
        assert active == [called[0].id]
        engine.start(desk)
        engine.finish(desk)
    assert engine.live.waiting_count("crowded", service_id) == 20


@pytest.mark.slow
def test_closing_a_desk_while_it_calls_gives_the_ticket_back(engine, database, crowded):
    # A claim in flight holds the desk's row; closing must wait for it and then see the
    # called ticket, or the visitor would be sent to a closed desk and never called again.
    service_id, counter_ids = crowded
    desk = counter_ids[0]
    ticket = engine.issue_ticket("crowded", [service_id], "el")
    closing = threading.Thread(target=engine.close_counter, args=(desk,))
    with database.session() as session:
        session.get(Counter, desk, with_for_update=True)
        step = session.scalars(select(Step).where(Step.ticket_id == ticket.id)).one()
        step.state, step.counter_id = StepState.CALLED, desk
        session.flush()
        closing.start()
        closing.join(timeout=1)
        assert closing.is_alive()  # waiting for the claim to commit
    closing.join(timeout=30)
    assert not closing.is_alive()
    with database.session() as session:
        assert session.get(Step, step.id).state == StepState.WAITING
        assert session.get(Counter, desk).status.value == "closed"
    assert engine.live.waiting_count("crowded", service_id) == 1
