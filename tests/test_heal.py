"""The live state heals itself from SQL while the system runs (invariant 4), no operator."""

import threading

import pytest

from tessera.errors import Conflict
from tessera.queue.engine import QueueEngine
from tessera.queue.live import LiveState, queue_key
from tessera.queue.reconcile import reconcile, repair
from tests.redis_servers import RedisServer


def test_a_desk_calls_the_right_ticket_after_a_flush_without_reconcile(engine, site, clock,
                                                                        redis_client):
    first = engine.issue_ticket(site.id, [site.services["registration"]], "en")
    clock.advance(minutes=1)
    engine.issue_ticket(site.id, [site.services["registration"]], "en")
    desk = site.counters["desk-1"]
    engine.open_counter(desk)
    redis_client.flushdb()  # FLUSHALL would also empty the other xdist worker's database

    called = engine.call_next(desk)

    assert called.step is not None and called.step.ticket_id == first.id


def test_repair_keeps_what_redis_holds_and_drops_what_sql_ended(engine, site, clock,
                                                                redis_client, database, live):
    kept = engine.issue_ticket(site.id, [site.services["registration"]], "en")
    clock.advance(minutes=1)
    gone = engine.issue_ticket(site.id, [site.services["registration"]], "ar")
    key = queue_key(site.id, site.services["registration"])
    member = redis_client.zrange(key, 0, 0)[0]
    redis_client.zadd(key, {member: 1.0})  # a score repair must not touch
    with database.session() as session:
        from tessera.models import Step, StepState
        session.get(Step, gone.steps[0].id).state = StepState.CANCELLED

    repair(database, live, now=clock())

    assert redis_client.zrange(key, 0, -1, withscores=True) == [(member, 1.0)]
    assert member.decode().startswith(f"{kept.steps[0].id}|")



def test_repair_leaves_each_waiting_step_in_one_place(engine, site, clock, redis_client,
                                                      database, live):
    ticket = engine.issue_ticket(site.id, [site.services["registration"]], "en")
    key = queue_key(site.id, site.services["registration"])
    member = redis_client.zrange(key, 0, 0)[0]
    # Redis missed a move: the step still sits in another service's queue, not in its own.
    elsewhere = queue_key(site.id, site.services["certificates"])
    redis_client.zrem(key, member)
    redis_client.zadd(elsewhere, {member: 5.0})

    repair(database, live, now=clock())

    assert redis_client.zrange(elsewhere, 0, -1) == []
    assert redis_client.zrange(key, 0, -1) == [member]
    assert member.decode().startswith(f"{ticket.steps[0].id}|")

# A fault of Redis, not of SQL: one backend is enough (and the suite's time is short).
@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_failed_live_write_after_commit_then_an_empty_restart_heal(site, database, clock,
                                                                     tmp_path):
    server = RedisServer(6391, tmp_path / "redis").start()
    try:
        engine = QueueEngine(database, LiveState(server.client()), clock=clock)
        ticket = engine.issue_ticket(site.id, [site.services["registration"],
                                               site.services["certificates"]], "el")
        desk_1, desk_2 = site.counters["desk-1"], site.counters["desk-2"]
        engine.open_counter(desk_1)
        engine.open_counter(desk_2)
        assert engine.call_next(desk_1).step.ticket_id == ticket.id
        engine.start(desk_1)
        # The SQL commit of finish succeeds; queueing the next step in Redis fails.
        server.kill()
        engine.finish(desk_1)
        server.start()  # empty, with a new run id

        called = engine.call_next(desk_2)

        assert called.step is not None and called.step.ticket_id == ticket.id
        assert called.step.service_id == site.services["certificates"]
    finally:
        server.kill()


def test_reconcile_while_desks_call_in_threads(engine, site, clock, database, live):
    for index in range(12):
        engine.issue_ticket(site.id, [site.services["registration"]], ["en", "ar"][index % 2])
    desks = [site.counters[f"desk-{n}"] for n in (1, 2)]
    for desk in desks:
        engine.open_counter(desk)
    errors, called = [], []

    def serve(desk):
        try:
            for _ in range(6):
                outcome = engine.call_next(desk)
                if outcome.step is None:
                    return
                called.append(outcome.step.id)
                engine.finish(desk)
        except Conflict:
            pass  # a desk may be told to look again; never two desks one step
        except Exception as error:  # the test reports any crash
            errors.append(error)

    threads = [threading.Thread(target=serve, args=(desk,)) for desk in desks]
    for thread in threads:
        thread.start()
    for _ in range(5):
        reconcile(database, live, now=clock())
    for thread in threads:
        thread.join(30)

    assert errors == []
    assert len(called) == len(set(called))
    reconcile(database, live, now=clock())
    remaining = live.waiting_count(site.id, site.services["registration"])
    assert remaining + len(called) == 12


def test_healthz_is_degraded_until_the_live_state_is_repaired(client, site, database, live,
                                                              redis_client, clock):
    redis_client.flushdb()  # FLUSHALL would also empty the other xdist worker's database
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json()["status"] == "degraded"
    assert response.get_json()["stale_sites"] == [site.id]

    repair(database, live, now=clock())

    assert client.get("/healthz").get_json()["status"] == "ok"
