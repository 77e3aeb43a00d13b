"""Redis behind Sentinel (issue 10, item 5): Tessera goes on through a failover.

A master, a replica and three sentinels from the installed redis-server on ports of
ours; the web app (API, rate limiter, Socket.IO message queue) and the engine reach
Redis only through the sentinels. Desks call and a kiosk issues in threads while the
master is killed; after the failover the system goes on, every ticket the API
answered is in SQL, and no step is ever called twice.
"""

import contextlib
import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter as Tally

import pytest
import redis
from rq import Queue
from sqlalchemy import select

from tessera import create_app
from tessera.database import Database
from tessera.errors import TesseraError
from tessera.migrate import upgrade
from tessera.models import Counter, Event, Service, Step, StepState
from tessera.redis_client import limiter_storage, parse_sentinel_url, redis_client, sentinel_url
from tessera.sites.loader import load_site

from .helpers import ROOT
from .redis_servers import RedisServer, need_redis_server, sentinel_config

MASTER_PORT, REPLICA_PORT = 6382, 6383
SENTINEL_PORTS = (26382, 26383, 26384)
SERVICE = "tessera-test"
COUNTERS = 3


def test_sentinel_urls_for_each_library():
    url = sentinel_url("10.0.0.1:26379, 10.0.0.2:26379", "mymaster", db=3)
    assert url == "redis+sentinel://10.0.0.1:26379,10.0.0.2:26379/3/mymaster"
    assert parse_sentinel_url(url) == ([("10.0.0.1", 26379), ("10.0.0.2", 26379)],
                                       "mymaster", {"db": 3})
    # The limits library reads the service from the path, with no database in it.
    assert limiter_storage(url) == "redis+sentinel://10.0.0.1:26379,10.0.0.2:26379/mymaster"
    assert limiter_storage("unix:///tmp/r.sock") == "redis+unix:///tmp/r.sock"
    assert limiter_storage("redis://h:1/0") == "redis://h:1/0"


def site_document() -> dict:
    """One service served by a few desks, always open."""
    text = {"el": {"name": "Εξυπηρέτηση"}}
    return {
        "id": "failover", "name": {"el": "Κέντρο"}, "timezone": "Europe/Athens",
        "language": "el", "languages": ["el", "en"],
        "organisations": {"city": {"name": {"el": "Δήμος"}}},
        "services": {"general": {"organisation": "city", "prefix": "A", "target_wait": 30,
                                 "mean_handling": 5, "text": text}},
        "counters": {f"desk-{n}": {"name": {"el": f"Γραφείο {n}"}, "services": ["general"],
                                   "languages": ["el"]} for n in range(1, COUNTERS + 1)},
    }


def serve_one(engine, counter_id: int, called: list[int]) -> bool:
    """Call, start and finish the desk's next visitor; whether there was one."""
    step = engine.call_next(counter_id).step
    if step is None:
        return False
    called.append(step.id)
    engine.start(counter_id)
    engine.finish(counter_id)
    return True


def wait_until(condition, seconds: float) -> bool:
    """Poll `condition` until it holds or `seconds` pass; whether it held."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if condition():
                return True
        except redis.RedisError:
            pass
        time.sleep(0.1)
    return False


@pytest.fixture
def sentinel_servers(tmp_path):
    """Master, replica, three sentinels; yields (master, replica, sentinel URL)."""
    need_redis_server()
    started = []
    try:
        master = RedisServer(MASTER_PORT, tmp_path / "master").start()
        started.append(master)
        replica = RedisServer(REPLICA_PORT, tmp_path / "replica", "--replicaof", "127.0.0.1",
                              str(MASTER_PORT)).start()
        started.append(replica)
        for port in SENTINEL_PORTS:
            started.append(RedisServer(port, tmp_path / f"sentinel-{port}",
                                       sentinel=sentinel_config(MASTER_PORT, SERVICE)).start())
        assert wait_until(lambda: replica.client().info("replication")["master_link_status"]
                          == "up", 15)
        # Every sentinel has found the replica (and the others) before anything fails.
        assert wait_until(lambda: all(
            redis.Redis(port=port).sentinel_master(SERVICE)["num-slaves"] >= 1
            and redis.Redis(port=port).sentinel_master(SERVICE)["num-other-sentinels"] >= 2
            for port in SENTINEL_PORTS), 20)
        yield master, replica, sentinel_url(",".join(f"127.0.0.1:{p}" for p in SENTINEL_PORTS),
                                            SERVICE)
    finally:
        for server in reversed(started):
            server.kill()


@pytest.mark.slow
def test_tessera_goes_on_through_a_sentinel_failover(sentinel_servers, tmp_path):
    master, replica, url = sentinel_servers
    database_url = f"sqlite:///{tmp_path / 'tessera.sqlite3'}"
    upgrade(database_url)
    database = Database(database_url)
    with database.session() as session:
        load_site(session, site_document())
        service_id = session.scalars(select(Service.id)).one()
        counter_ids = list(session.scalars(select(Counter.id).order_by(Counter.id)))
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "REDIS_URL": url,
                      "SOCKETIO_CHANNEL": "tessera-sentinel-test", "BOOKING_CHALLENGE": "off",
                      "ISSUE_LIMIT_PER_ADDRESS": "100000/minute",
                      "ISSUE_LIMIT_PER_KIOSK": "100000/minute"})
    engine = app.extensions["tessera"].engine
    started_at = dt.datetime.now()
    # A Monday morning in Athens, moving with real time: the centre is open throughout.
    engine.clock = lambda: dt.datetime(2026, 11, 23, 8, 0) + (dt.datetime.now() - started_at)
    for counter_id in counter_ids:
        engine.open_counter(counter_id)

    issued, refused, called, failures = [], [], [], Tally()
    stop = threading.Event()

    def kiosk():
        client = app.test_client()
        while not stop.is_set():
            try:
                response = client.post("/api/v1/sites/failover/tickets",
                                       json={"services": [service_id], "language": "el"})
            except redis.RedisError as error:  # TESTING: raised rather than a 5xx answer
                failures[type(error).__name__] += 1
                time.sleep(0.2)
                continue
            (issued if response.status_code == 201 else refused).append(response)
            time.sleep(0.05)

    def desk(counter_id):
        while not stop.is_set():
            try:
                step = engine.call_next(counter_id).step
                if step is None:
                    time.sleep(0.05)
                    continue
                called.append(step.id)
                engine.start(counter_id)
                engine.finish(counter_id)
            except redis.RedisError as error:  # the failover: the desk clicks again
                failures[type(error).__name__] += 1
                time.sleep(0.2)
            except TesseraError:  # its start or finish failed in the failover: done now
                for action in (engine.start, engine.finish):
                    with contextlib.suppress(TesseraError, redis.RedisError):
                        action(counter_id)

    # The worker too reaches Redis only through the sentinels (the environment's names).
    environment = {**os.environ, "REDIS_SENTINELS": ",".join(f"127.0.0.1:{port}"
                                                             for port in SENTINEL_PORTS),
                   "REDIS_SENTINEL_SERVICE": SERVICE, "DATABASE_URL": database_url,
                   "TESSERA_INSTANCE": str(tmp_path / "instance")}
    environment.pop("REDIS_URL", None)
    worker_log = open(tmp_path / "worker.log", "w")  # noqa: SIM115 (handed to the child)
    worker = subprocess.Popen([sys.executable, "-m", "tessera", "worker"], cwd=ROOT,
                              env=environment, stdout=worker_log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    worker_log.close()
    jobs = tmp_path / "jobs.log"
    queue = Queue("default", connection=redis_client(url))

    def job_done(word):
        return jobs.exists() and word in jobs.read_text().split()

    threads = [threading.Thread(target=kiosk)] + [
        threading.Thread(target=desk, args=(counter_id,)) for counter_id in counter_ids]
    for thread in threads:
        thread.start()
    try:
        queue.enqueue("tests.redis_servers.quick_job", str(jobs), "before")
        assert wait_until(lambda: len(issued) >= 20 and len(called) >= 10, 20)
        assert wait_until(lambda: job_done("before"), 20), (tmp_path / "worker.log").read_text()
        master.kill()  # a crash: sentinels must notice and promote the replica
        assert wait_until(lambda: replica.client().info("replication")["role"] == "master", 20)
        before = (len(issued), len(called))
        # After the failover both go on, through the sentinels, to the new master.
        assert wait_until(lambda: len(issued) >= before[0] + 20
                          and len(called) >= before[1] + 10, 20), (len(issued), len(called))
        wait_until(lambda: queue.enqueue("tests.redis_servers.quick_job", str(jobs), "after"), 10)
        assert wait_until(lambda: job_done("after"), 30), (tmp_path / "worker.log").read_text()
        assert worker.poll() is None
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=20)
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()
    assert redis_client(url).info("server")["tcp_port"] == REPLICA_PORT
    assert app.test_client().get("/healthz").status_code == 200

    # Nothing lost: every ticket the API answered is in SQL.
    tokens = {response.get_json()["token"] for response in issued}
    with database.session() as session:
        steps = session.scalars(select(Step)).all()
        assert len(steps) >= len(tokens)
        calls = Tally(session.scalars(select(Event.step_id).where(Event.kind == "called")))
    # No step called twice, ever, across the failover.
    assert max(Tally(called).values()) == 1
    assert max(calls.values()) == 1
    # A write lost in the failover may leave a waiting step out of Redis (the tickets are
    # safe in SQL); nobody reconciles: the engine sees the new master's live state as stale
    # and repairs it on its own, and the rest is served, each step exactly once.
    for counter_id in counter_ids:
        # A desk whose start or finish failed in the failover finishes its visitor now.
        for action in (engine.start, engine.finish):
            with contextlib.suppress(TesseraError):
                action(counter_id)
    while any(serve_one(engine, counter_id, called) for counter_id in counter_ids):
        pass
    with database.session() as session:
        states = Tally(session.scalars(select(Step.state)))
        calls = Tally(session.scalars(select(Event.step_id).where(Event.kind == "called")))
    assert states == {StepState.DONE: len(steps)}, states
    assert max(calls.values()) == 1 and len(calls) == len(steps)
    database.engine.dispose()
