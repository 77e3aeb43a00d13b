"""A print job whose worker is killed in the middle is taken back within seconds.

A real `python -m tessera worker` runs the job against a printer that never answers
(a FIFO nobody reads: opening it blocks) and is killed with SIGKILL, with its work horse;
the job's lapsed heartbeat tells `recover_abandoned_prints` so: a recent ticket prints
on the next worker, an old one (its visitor has left) does not.
"""

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rq import SimpleWorker
from rq.job import Job
from sqlalchemy import select

from tessera.models import Event
from tessera.printing.jobs import (
    RESUME_PRINTING_WITHIN,
    enqueue_print,
    print_queue,
    recover_abandoned_prints,
)

from .helpers import ROOT, set_printer
from .redis_servers import RedisServer, need_redis_server

pytestmark = pytest.mark.slow
# The print queue gets a redis-server of its own, so that no other test's worker can
# take the job (nor keep its heartbeat going).
PRINT_REDIS_PORT = 6395


def wait_until(condition, seconds: float) -> float:
    """Seconds it took `condition` to hold; fails the test after `seconds`."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < seconds, "timed out"
        time.sleep(0.1)
    return time.monotonic() - started


def kinds(database, ticket_id: int) -> list[str]:
    """A ticket's event kinds, oldest first."""
    with database.session() as session:
        return list(session.scalars(select(Event.kind).where(Event.ticket_id == ticket_id)
                                    .order_by(Event.id)))


def work_horses(pid: int) -> list[int]:
    """The work horses worker `pid` forked: its children that lead a process group of
    their own (RQ's horse calls setpgrp), from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            _state, parent, group = stat.rsplit(")", 1)[1].split()[:3]
            if int(parent) == pid and int(group) == int(entry):
                found.append(int(entry))
    return found


def start_worker(database_url: str, redis_url: str, tmp_path) -> subprocess.Popen:
    """A real worker process in a process group of its own (it forks a work horse)."""
    environment = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url,
                   "TESSERA_INSTANCE": str(tmp_path)}
    return subprocess.Popen([sys.executable, "-m", "tessera", "worker"], cwd=ROOT,
                            env=environment, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


# A fault of the worker, not of SQL: one backend is enough.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("age", [dt.timedelta(minutes=1), RESUME_PRINTING_WITHIN * 2],
                         ids=["recent", "old"])
def test_a_job_of_a_killed_worker_is_taken_back_within_seconds(
        age, engine, site, database, database_url, clock, tmp_path, monkeypatch):
    need_redis_server()
    server = RedisServer(PRINT_REDIS_PORT, tmp_path / "redis").start()
    try:
        recovered_after_a_kill(age, engine, site, database, database_url, clock, tmp_path,
                               monkeypatch, server)
    finally:
        server.kill()


def recovered_after_a_kill(age, engine, site, database, database_url, clock, tmp_path,
                           monkeypatch, server):
    """Kill a worker in the middle of a print job and take the job back."""
    redis_url = f"redis://127.0.0.1:{server.port}/0"
    redis_client = server.client()
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("REDIS_URL", redis_url)
    hanging = tmp_path / "printer.fifo"
    os.mkfifo(hanging)
    set_printer(database, {"type": "file", "path": str(hanging)})
    ticket = engine.issue_ticket(site.id, [site.services["registration"]], "en")
    queue = print_queue(redis_client)
    job = enqueue_print(queue, ticket.id, "entrance")
    worker = start_worker(database_url, redis_url, tmp_path)
    horses = []
    try:
        wait_until(lambda: job.id in queue.started_job_registry.get_job_ids(cleanup=False), 30)
        # The job is registered before its horse is forked: wait for the horse too, or it
        # would outlive the worker (in a group of its own) and print once the FIFO is gone.
        wait_until(lambda: horses.extend(work_horses(worker.pid)) or horses, 30)
    finally:
        for pid in [worker.pid, *horses]:
            os.kill(pid, signal.SIGKILL)
        worker.wait()
    killed = time.monotonic()
    hanging.unlink()  # the printer is back: a plain file now

    now = clock.now + age
    # RQ's own registry cleanup would have waited a minute past the last heartbeat.
    outcome = {}

    def taken_back() -> bool:
        outcome.update(recover_abandoned_prints(redis_client, database, now=now))
        return bool(outcome["requeued"] or outcome["dropped"])

    wait_until(taken_back, 30)
    # Seconds after the kill (the heartbeat's grace), where RQ's default waited minutes.
    assert time.monotonic() - killed < 20
    if age < RESUME_PRINTING_WITHIN:
        assert outcome == {"requeued": [job.id], "dropped": []}
        assert queue.job_ids == [job.id]  # queued now, so a waiting worker wakes for it
        SimpleWorker([queue], connection=redis_client).work(burst=True)
        assert hanging.read_bytes()  # printed, on the next worker
        assert kinds(database, ticket.id).count("printed") == 1
    else:
        assert outcome == {"requeued": [], "dropped": [job.id]}
        assert queue.job_ids == [] and not hanging.exists()
        assert Job.fetch(job.id, connection=redis_client).get_status() == "canceled"
        assert "printed" not in kinds(database, ticket.id)
    # Taken back once: a second look finds nothing more.
    assert recover_abandoned_prints(redis_client, database, now=now) == \
        {"requeued": [], "dropped": []}
