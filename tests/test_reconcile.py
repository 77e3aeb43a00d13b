"""Redis can be flushed at any moment: reconcile rebuilds the same live state from SQL."""

import json

from tessera.events import record_event
from tessera.printing.jobs import print_job_id, print_queue
from tessera.queue.live import counters_key, queue_key
from tessera.queue.reconcile import reconcile


def live_snapshot(redis_client, site) -> dict:
    """Every queue (members with scores, in order) and every counter duty of a site."""
    snapshot = {key: redis_client.zrange(queue_key(site.id, service_id), 0, -1, withscores=True)
                for key, service_id in site.services.items()}
    snapshot["counters"] = {counter: json.loads(duty) for counter, duty in
                            redis_client.hgetall(counters_key(site.id)).items()}
    return snapshot


def busy_morning(engine, site, clock):
    """Tickets in every state: waiting in two queues, called, serving, paused, referred."""
    for index, service in enumerate(["registration", "certificates", "registration",
                                     "legal_advice", "registration", "certificates"]):
        engine.issue_ticket(site.id, [site.services[service]], ["en", "ar", "el"][index % 3],
                            needs=["priority"] if index == 4 else [])
        clock.advance(minutes=1)
    desk_1, desk_2, desk_3 = (site.counters[f"desk-{n}"] for n in (1, 2, 3))
    engine.open_counter(desk_1)
    engine.open_counter(desk_2, languages=["el", "ar"])
    engine.open_counter(desk_3)
    engine.call_next(desk_1)
    engine.start(desk_1)
    engine.refer(desk_1, site.services["legal_advice"], note="lease")
    engine.call_next(desk_1)
    engine.call_next(desk_3)
    clock.advance(minutes=3)  # a desk's expected free time counts from the start
    engine.start(desk_3)
    clock.advance(minutes=1)
    engine.recall(desk_1)
    engine.pause_counter(desk_2)


def test_reconcile_after_a_flush_rebuilds_identical_queues(engine, site, clock, redis_client,
                                                           database, live):
    busy_morning(engine, site, clock)
    before = live_snapshot(redis_client, site)
    assert sum(len(members) for key, members in before.items() if key != "counters") >= 4
    assert len(before["counters"]) == 3

    redis_client.flushdb()
    assert live_snapshot(redis_client, site)["registration"] == []
    summary = reconcile(database, live, now=clock())

    assert live_snapshot(redis_client, site) == before
    assert summary == {"small": {"waiting": sum(len(m) for k, m in before.items()
                                                if k != "counters"),
                                 "counters_on_duty": 3, "print_jobs": 0}}


def test_reconcile_drops_stale_live_entries(engine, site, clock, redis_client, database, live):
    busy_morning(engine, site, clock)
    before = live_snapshot(redis_client, site)
    redis_client.zadd(queue_key(site.id, site.services["registration"]), {"9999|en||0": 1.0})
    redis_client.hset(counters_key(site.id), "9999", '{"state": "open"}')
    reconcile(database, live, site.id, now=clock())
    assert live_snapshot(redis_client, site) == before


def test_the_engine_carries_on_after_a_flush(engine, site, clock, redis_client, database, live):
    busy_morning(engine, site, clock)
    redis_client.flushdb()
    reconcile(database, live, now=clock())
    desk_1 = site.counters["desk-1"]
    engine.start(desk_1)
    engine.finish(desk_1)
    assert engine.call_next(desk_1).step is not None


def test_printing_resumes_after_a_flush(engine, site, clock, redis_client, database, live):
    registration = [site.services["registration"]]
    engine.issue_ticket(site.id, registration, "en", kiosk="entrance")  # not printed, and gone
    printed = engine.issue_ticket(site.id, registration, "en", kiosk="entrance")
    with database.session() as session:
        record_event(session, site.id, "printed", clock(), ticket_id=printed.id,
                     kiosk="entrance", printer="dummy")
    clock.advance(minutes=10)
    unprinted = engine.issue_ticket(site.id, registration, "ar", kiosk="entrance")
    with database.session() as session:
        record_event(session, site.id, "print_failed", clock(), ticket_id=unprinted.id,
                     kiosk="entrance", status="paper_out", error="The printer is out of paper")
    engine.issue_ticket(site.id, registration, "el")  # through the API, not at a kiosk
    clock.advance(minutes=1)

    redis_client.flushdb()
    summary = reconcile(database, live, site.id, now=clock())

    # Only the recent ticket prints: whoever took the older one has left the kiosk.
    assert summary[site.id]["print_jobs"] == 1
    assert print_queue(redis_client).job_ids == [print_job_id(unprinted.id)]
    status = live.printer_statuses(site.id)["entrance"]
    assert status["status"] == "paper_out" and status["message"] == "The printer is out of paper"
    assert status["at"] == "2026-11-23T08:10:00Z"
