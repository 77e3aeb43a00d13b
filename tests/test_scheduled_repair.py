"""The scheduler repairs the live state every few seconds, with nobody calling (issue 10,
item 1): the periodic job is registered, and it heals a flushed Redis on its own, print
jobs included."""

from rq.cron import CronScheduler

from tessera.printing.jobs import print_job_id, print_queue
from tessera.queue.live import queue_key
from worker.live import repair_live_state


def test_the_scheduler_runs_the_repair_every_ten_seconds(engine):
    scheduler = CronScheduler(connection=engine.live.redis)
    scheduler.load_config_from_file("worker.schedule")
    jobs = {job.func_name: job for job in scheduler.get_jobs()}
    job = jobs["worker.live.repair_live_state"]
    assert job.interval <= 10 and job.queue_name == "default"


def test_the_periodic_job_heals_a_flushed_redis_without_a_desk_calling(
        engine, site, clock, redis_client, redis_url, database_url, monkeypatch):
    registration = [site.services["registration"]]
    waiting = engine.issue_ticket(site.id, registration, "en")
    at_kiosk = engine.issue_ticket(site.id, registration, "ar", kiosk="entrance")
    key = queue_key(site.id, site.services["registration"])
    members = redis_client.zrange(key, 0, -1, withscores=True)
    assert len(members) == 2
    redis_client.flushdb()
    assert not engine.live.generation_current(site.id)
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("DATABASE_URL", database_url)
    # The job's own clock is the real one: the tickets are from the test's fixed morning,
    # so pin the job's "now" to the test clock for the 5-minute print rule.
    monkeypatch.setattr("tessera.queue.reconcile.utc_now", clock)

    outcome = repair_live_state()

    assert outcome["sites"][site.id]["waiting"] == 2
    assert outcome["sites"][site.id]["print_jobs"] == 1
    # Both visitors back in their queue, in their place (same scores), and marked current.
    assert redis_client.zrange(key, 0, -1, withscores=True) == members
    assert members[0][0].decode().startswith(f"{waiting.steps[0].id}|")
    assert engine.live.generation_current(site.id)
    assert print_queue(redis_client).job_ids == [print_job_id(at_kiosk.id)]
