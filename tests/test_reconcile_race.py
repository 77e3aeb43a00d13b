"""Reconcile is safe while the web runs (issue 10, item 2), deterministically.

On PostgreSQL (READ COMMITTED) the repair's session sees a desk's call committed after
it read the waiting steps. It used to load that step again as an object, and got the
stale one of its first read (waiting, no `called_at`): `epoch(None)` in
`counter_duty`. Here the desk's call lands exactly in that gap.
"""

import json

import pytest
from sqlalchemy import update

import tessera.queue.reconcile as reconcile_module
from tessera.models import Step, StepState
from tessera.queue.live import counters_key, queue_key
from tessera.queue.reconcile import reconcile


# PostgreSQL only: SQLite's repair session holds the write lock (BEGIN IMMEDIATE), so no
# desk can commit in the gap, and the stale read could not happen there.
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_reconcile_survives_a_call_between_its_reads(engine, site, clock, database, live,
                                                     redis_client, monkeypatch):
    ticket = engine.issue_ticket(site.id, [site.services["registration"]], "en")
    desk = site.counters["desk-1"]
    engine.open_counter(desk)
    # The desk's duty is missing from Redis, so the repair derives it from SQL.
    redis_client.hdel(counters_key(site.id), str(desk))
    step_id = ticket.steps[0].id
    original = reconcile_module.queued_step
    called = []

    def queued_then_called(step):
        if not called:
            # A desk calls the step (another process: the call script takes it out of
            # Redis, then SQL commits) after the repair read both.
            redis_client.zrem(queue_key(site.id, site.services["registration"]),
                              original(step).member)
            with database.session() as session:
                session.execute(update(Step).where(Step.id == step_id).values(
                    state=StepState.CALLED, counter_id=desk, called_at=clock()))
            called.append(step_id)
        return original(step)

    monkeypatch.setattr(reconcile_module, "queued_step", queued_then_called)

    summary = reconcile(database, live, site.id, now=clock())

    assert called == [step_id]
    assert summary[site.id]["counters_on_duty"] >= 1
    duty = json.loads(redis_client.hget(counters_key(site.id), str(desk)))
    # The duty as SQL has it now: busy with the called step; and the step is not queued.
    assert duty["state"] == "busy" and duty["step"] == str(step_id)
    assert duty["free_at"] > 0
    assert redis_client.zrange(queue_key(site.id, site.services["registration"]), 0, -1) == []
