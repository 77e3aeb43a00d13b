"""Processes that outlive Redis, and `up` restarting a process that dies (issue 10, item 3).

Real things only: a redis-server on a port of ours stopped and started again under a
real `python -m tessera worker`, and a supervisor over small real child processes.
"""

import itertools
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest
import redis
from rq import Queue

from tessera.processes import Backoff, Supervisor, run_scheduler

from .helpers import ROOT
from .redis_servers import RedisServer, need_redis_server

WORKER_REDIS_PORT = 6381


def wait_until(condition, seconds: float, interval: float = 0.1) -> bool:
    """Poll `condition` until it holds or `seconds` pass; whether it held."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


def lines(path) -> list[str]:
    """The lines written to `path` so far."""
    return path.read_text().split() if path.exists() else []


def process_environment(tmp_path) -> dict:
    """A child's environment: the test's own redis-server, a SQLite file, its instance."""
    environment = {**os.environ, "REDIS_URL": f"redis://127.0.0.1:{WORKER_REDIS_PORT}/0",
                   "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
                   "TESSERA_INSTANCE": str(tmp_path / "instance")}
    environment.pop("REDIS_SENTINELS", None)
    return environment


def test_worker_survives_redis_going_away_mid_job_and_resumes(tmp_path):
    need_redis_server()
    server = RedisServer(WORKER_REDIS_PORT, tmp_path / "redis").start()
    environment = process_environment(tmp_path)
    worker_log = open(tmp_path / "worker.log", "w")  # noqa: SIM115 (handed to the child)
    worker = subprocess.Popen([sys.executable, "-m", "tessera", "worker"], cwd=ROOT,
                              env=environment, stdout=subprocess.DEVNULL,
                              stderr=worker_log,
                              start_new_session=True)
    log = tmp_path / "jobs.log"
    worker_log.close()  # the worker holds its own copy
    try:
        queue = Queue("default", connection=server.client())
        queue.enqueue("tests.redis_servers.slow_job", str(log), 2.0)
        assert wait_until(lambda: "start" in lines(log), 20), "the worker never took the job"
        server.kill()  # mid-job: the job finishes with no Redis to report to
        assert wait_until(lambda: "done" in lines(log), 10)
        time.sleep(2)
        assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]

        server.start()  # an empty Redis, as after a restart without persistence
        Queue("default", connection=server.client()).enqueue(
            "tests.redis_servers.quick_job", str(log), "after")
        assert wait_until(lambda: "after" in lines(log), 40), (
            (tmp_path / "worker.log").read_text()[-3000:])
        assert worker.poll() is None
    finally:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            try:
                assert worker.wait(timeout=20) == 0  # a stop asked for still stops it
            finally:
                if worker.poll() is None:
                    os.killpg(worker.pid, signal.SIGKILL)
                    worker.wait()
        server.kill()


@pytest.mark.slow
def test_scheduler_survives_redis_going_away_and_enqueues_again(tmp_path):
    need_redis_server()
    server = RedisServer(WORKER_REDIS_PORT, tmp_path / "redis").start()
    environment = process_environment(tmp_path)
    scheduler_log = open(tmp_path / "scheduler.log", "w")  # noqa: SIM115 (handed to the child)
    scheduler = subprocess.Popen([sys.executable, "-m", "tessera", "scheduler"], cwd=ROOT,
                                 env=environment, stdout=scheduler_log,
                                 stderr=subprocess.STDOUT, start_new_session=True)
    scheduler_log.close()

    def enqueued() -> bool:
        return Queue("default", connection=server.client()).count > 0

    try:
        # Each periodic job is enqueued at once when a scheduler starts.
        assert wait_until(enqueued, 20), (tmp_path / "scheduler.log").read_text()[-3000:]
        server.kill()
        # It sleeps until its next job is due (15 s at most), then finds no Redis.
        log = tmp_path / "scheduler.log"
        assert wait_until(lambda: scheduler.poll() is not None
                          or "lost Redis" in log.read_text(), 30)
        assert scheduler.poll() is None, log.read_text()[-3000:]
        server.start()  # empty again: nothing is enqueued until a scheduler runs anew
        assert wait_until(enqueued, 40), (tmp_path / "scheduler.log").read_text()[-3000:]
        assert scheduler.poll() is None
    finally:
        if scheduler.poll() is None:
            scheduler.send_signal(signal.SIGTERM)
            try:
                assert scheduler.wait(timeout=20) == 0
            finally:
                if scheduler.poll() is None:
                    os.killpg(scheduler.pid, signal.SIGKILL)
                    scheduler.wait()
        server.kill()


def test_scheduler_loop_starts_a_new_scheduler_after_redis_errors():
    connection = redis.Redis(port=WORKER_REDIS_PORT)  # never asked: ping is replaced
    connection.ping = lambda: True
    stopping = threading.Event()
    started = []

    class Scheduler:
        def start(self):
            started.append(time.monotonic())
            if len(started) < 3:
                raise redis.exceptions.ConnectionError("Redis went away")
            stopping.set()  # the third run is stopped, as by SIGTERM

    run_scheduler(Scheduler, connection, backoff=Backoff(0.05, 0.2), stopping=stopping)
    assert len(started) == 3
    assert started[2] - started[1] >= started[1] - started[0] >= 0.04


SUPERVISED = textwrap.dedent("""
    import sys
    from tessera.processes import Supervisor

    flaky = ("import sys, time; open(sys.argv[1], 'a').write(f'{time.monotonic()}\\\\n'); "
             "sys.exit(3)")
    steady = ("import os, sys, time; open(sys.argv[1], 'a').write(f'{os.getpid()}\\\\n'); "
              "time.sleep(120)")
    Supervisor({"flaky": [sys.executable, "-c", flaky, sys.argv[1]],
                "steady": [sys.executable, "-c", steady, sys.argv[2]]},
               first_delay=0.3, most_delay=1.2, echo=print).run(interval=0.05)
""")


def test_supervisor_restarts_a_child_that_exits_with_backoff_and_stops_all_on_sigterm(
        tmp_path):
    flaky_log, steady_log = tmp_path / "flaky.log", tmp_path / "steady.log"
    supervisor = subprocess.Popen([sys.executable, "-c", SUPERVISED, str(flaky_log),
                                   str(steady_log)], cwd=ROOT, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)
    try:
        assert wait_until(lambda: len(lines(flaky_log)) >= 4, 15), "no restarts"
        starts = [float(line) for line in lines(flaky_log)]
        gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
        # 0.3 s, 0.6 s, 1.2 s: each wait longer than the one before, up to the most.
        assert gaps[0] >= 0.25 and gaps[1] > gaps[0] * 1.5 and gaps[2] > gaps[1] * 1.5, gaps
        steady_pids = lines(steady_log)
        assert len(steady_pids) == 1  # the others went on, untouched
        steady_pid = int(steady_pids[0])
        os.kill(steady_pid, 0)

        supervisor.send_signal(signal.SIGTERM)
        output, _ = supervisor.communicate(timeout=15)
        assert supervisor.returncode == 0, output
        assert "flaky" in output and "exited with 3" in output and "restarting" in output
        with pytest.raises(ProcessLookupError):
            os.kill(steady_pid, 0)
    finally:
        if supervisor.poll() is None:
            supervisor.kill()


def test_supervisor_restarts_only_the_child_that_exited(tmp_path):
    marker = tmp_path / "once"
    # Exits at once the first time, stays up the second: restarted exactly once.
    once = (f"import os, sys, time\nif not os.path.exists({str(marker)!r}):\n"
            f"    open({str(marker)!r}, 'w').close(); sys.exit(1)\ntime.sleep(60)")
    supervisor = Supervisor({"once": [sys.executable, "-c", once],
                             "steady": [sys.executable, "-c", "import time; time.sleep(60)"]},
                            first_delay=0.1, echo=lambda line: None)
    supervisor.start()
    try:
        steady = supervisor.children["steady"].process
        assert wait_until(lambda: (supervisor.poll() or True)
                          and supervisor.children["once"].restarts == 1, 10)
        time.sleep(0.5)
        supervisor.poll()
        assert supervisor.children["once"].exits == [1]
        assert supervisor.children["once"].process.poll() is None
        assert supervisor.children["steady"].process is steady and steady.poll() is None
    finally:
        supervisor.stop()
    assert all(child.process.poll() is not None for child in supervisor.children.values())
