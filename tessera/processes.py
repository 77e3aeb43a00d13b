"""Keeping the processes running: a worker and a scheduler that outlive their Redis, and
the supervisor `python -m tessera up` runs the Procfile's processes under.

RQ's worker quits for good on an error it did not expect ("found an unhandled
exception, quitting"), which is what a Redis that goes away during a job gives it, and
RQ's cron scheduler does the same. A Redis blip must not stop a centre, so both run
here in a loop that waits for Redis, with a growing delay, and starts a fresh one.
"""

import logging
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import redis
from rq import Queue, Worker
from rq.exceptions import StopRequested

logger = logging.getLogger(__name__)

# What a Redis that went away (or a failover in progress) raises in a client.
REDIS_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError,
                redis.exceptions.ReadOnlyError)


class Backoff:
    """Delays that double from `first` up to `most` seconds, back to `first` on reset."""

    def __init__(self, first: float = 1.0, most: float = 30.0, factor: float = 2.0):
        self.first, self.most, self.factor = first, most, factor
        self.delay = first

    def next(self) -> float:
        """The delay to wait now; the next one is longer."""
        delay = self.delay
        self.delay = min(self.delay * self.factor, self.most)
        return delay

    def reset(self) -> None:
        """Start again from the first delay (after a good run)."""
        self.delay = self.first


def wait_for_redis(connection: redis.Redis, backoff: Backoff, stopping: threading.Event) -> bool:
    """Wait until Redis answers (or a stop is asked for); whether it answers."""
    while not stopping.is_set():
        try:
            connection.ping()
            return True
        except REDIS_ERRORS as error:
            delay = backoff.next()
            logger.warning("Redis does not answer (%s); trying again in %.1f s", error, delay)
            stopping.wait(delay)
    return False


# The worker beats for its running job this often, and a job whose beat stopped this much
# longer ago is abandoned (its worker was killed): RQ's own margin is a minute, which left
# a visitor's ticket unprinted for ten (tessera.printing.jobs.recover_abandoned_prints).
JOB_MONITORING_SECONDS = 2
JOB_HEARTBEAT_GRACE_SECONDS = 5


class ReconnectingWorker(Worker):
    """An RQ worker that tells a stop asked for (SIGTERM, Ctrl-C) from one on an error,
    and whose running job's heartbeat says within seconds that the worker died."""

    stop_event: threading.Event

    def get_heartbeat_ttl(self, job, working_time: float = 0.0) -> int:
        """How long the running job's heartbeat lasts: the next beat, and a short grace."""
        beat = float(self.job_monitoring_interval)
        if job.timeout and job.timeout > 0:
            beat = min(beat, job.timeout - working_time)
        return int(beat) + JOB_HEARTBEAT_GRACE_SECONDS

    def request_stop(self, signum, frame):
        """Remember the stop, then let RQ stop warmly (after the job at hand)."""
        self.stop_event.set()
        super().request_stop(signum, frame)


def _stop_on_signals(stopping: threading.Event) -> None:
    """Between two workers' or schedulers' runs, SIGTERM and Ctrl-C just end the loop."""
    def stop(*_):
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)


# A run this long was a good one: the next wait after it starts short again.
HEALTHY_SECONDS = 60.0


def run_worker(connection: redis.Redis, queue_names: Sequence[str], *,
               with_scheduler: bool = True, backoff: Backoff | None = None,
               stopping: threading.Event | None = None) -> None:
    """Work the queues until stopped, through any number of Redis outages.

    RQ's `work()` returns only when asked to stop or after an error (Redis gone, in
    the middle of a job or between jobs). After an error this waits for Redis and
    starts a new worker: a new name, because the old one may still be registered
    (it could not record its death without Redis). A job cut short is the old
    worker's; RQ's cleanup of the started registry fails it as abandoned, and what
    Tessera's jobs did is in SQL, which the repair and the periodic jobs read.
    """
    backoff = backoff or Backoff()
    stopping = stopping or threading.Event()
    while not stopping.is_set():
        _stop_on_signals(stopping)
        if not wait_for_redis(connection, backoff, stopping):
            return
        started = time.monotonic()
        try:
            worker = ReconnectingWorker([Queue(name, connection=connection)
                                         for name in queue_names], connection=connection,
                                        job_monitoring_interval=JOB_MONITORING_SECONDS)
            worker.stop_event = stopping
            worker.work(with_scheduler=with_scheduler)
        except REDIS_ERRORS as error:  # its teardown could not reach Redis either
            logger.warning("The worker lost Redis: %s", error)
        if stopping.is_set():
            return
        if time.monotonic() - started > HEALTHY_SECONDS:
            backoff.reset()
        delay = backoff.next()
        logger.warning("The worker stopped on an error; starting a new one in %.1f s", delay)
        stopping.wait(delay)


def run_scheduler(make_scheduler: Callable[[], object], connection: redis.Redis, *,
                  backoff: Backoff | None = None,
                  stopping: threading.Event | None = None) -> None:
    """Run RQ's cron scheduler until stopped, starting a new one after Redis comes back.

    `make_scheduler` builds a loaded `CronScheduler`; its `start()` returns on a
    stop (SIGTERM, Ctrl-C) and raises when Redis goes away.
    """
    backoff = backoff or Backoff()
    stopping = stopping or threading.Event()
    while not stopping.is_set():
        _stop_on_signals(stopping)
        started = time.monotonic()
        try:
            if not wait_for_redis(connection, backoff, stopping):
                return
            started = time.monotonic()
            make_scheduler().start()
            return  # start() returns only when asked to stop
        except StopRequested:  # the scheduler's own signal handler, between two runs
            return
        except REDIS_ERRORS as error:
            if time.monotonic() - started > HEALTHY_SECONDS:
                backoff.reset()
            delay = backoff.next()
            logger.warning("The scheduler lost Redis (%s); starting a new one in %.1f s",
                           error, delay)
            stopping.wait(delay)


@dataclass
class Child:
    """One supervised process: its command, the running process, and its restarts."""

    name: str
    command: list[str]
    backoff: Backoff
    process: subprocess.Popen | None = None
    started: float = 0.0
    restart_at: float | None = None
    restarts: int = 0
    exits: list[int] = field(default_factory=list)


class Supervisor:
    """Runs processes and restarts each one that exits, with a growing delay.

    One process that dies (the worker on a Redis blip, the web on a bug) is started
    again on its own; the others go on. Only `stop()` (SIGTERM, Ctrl-C) stops them
    all: SIGTERM to each, then SIGKILL to any still there after `stop_timeout`.
    """

    def __init__(self, commands: Mapping[str, list[str]], *, cwd: str | None = None,
                 env: Mapping[str, str] | None = None, first_delay: float = 1.0,
                 most_delay: float = 30.0, healthy_seconds: float = HEALTHY_SECONDS,
                 stop_timeout: float = 10.0, echo: Callable[[str], None] = logger.warning):
        self.children = {name: Child(name, list(command), Backoff(first_delay, most_delay))
                         for name, command in commands.items()}
        self.cwd, self.env = cwd, dict(env) if env is not None else None
        self.healthy_seconds, self.stop_timeout, self.echo = healthy_seconds, stop_timeout, echo
        self.stopping = threading.Event()

    def start(self) -> None:
        """Start every process."""
        for child in self.children.values():
            self._spawn(child)

    def _spawn(self, child: Child) -> None:
        child.process = subprocess.Popen(child.command, cwd=self.cwd, env=self.env)
        child.started, child.restart_at = time.monotonic(), None

    def poll(self) -> None:
        """Notice processes that exited and restart those whose delay has passed."""
        now = time.monotonic()
        for child in self.children.values():
            if self.stopping.is_set():
                return
            if child.restart_at is not None:
                if now >= child.restart_at:
                    child.restarts += 1
                    self.echo(f"Restarting {child.name} (restart {child.restarts}).")
                    self._spawn(child)
                continue
            code = child.process.poll()
            if code is None:
                continue
            child.exits.append(code)
            if now - child.started > self.healthy_seconds:
                child.backoff.reset()  # it ran well for a while: a new failure, not a loop
            delay = child.backoff.next()
            child.restart_at = now + delay
            self.echo(f"{child.name} (pid {child.process.pid}) exited with {code}; "
                      f"restarting it in {delay:.1f} s.")

    def stop(self) -> None:
        """Stop every process: SIGTERM, then SIGKILL after the timeout."""
        self.stopping.set()
        running = [child.process for child in self.children.values()
                   if child.process is not None and child.process.poll() is None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        for process in running:
            try:
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def run(self, interval: float = 0.2) -> None:
        """Start everything, keep it running until SIGTERM or Ctrl-C, then stop everything."""
        def stop(*_):
            self.stopping.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self.start()
        try:
            while not self.stopping.wait(interval):
                self.poll()
        finally:
            self.stop()


def pids(supervisor: Supervisor) -> str:
    """The processes and their pids, for the start-up message."""
    return ", ".join(f"{child.name} (pid {child.process.pid})"
                     for child in supervisor.children.values() if child.process)
