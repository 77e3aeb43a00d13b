"""Call next under contention: every counter calling at once while tickets are issued.

    python -m bench.call_next [--database postgresql] [--json]

Side by side in one run, one thread per counter (issue 2, item 6): a bare
EVALSHA of `return 1`; the routing script alone, LiveState.call_next
(tessera/queue/call_next.lua), no SQL; and QueueEngine.call_next -> start ->
finish, while issuing threads issue. Each measurement is divided by the
baselines just before and after it, as the load of a small shared machine
drifts. The SQL event log must then show no step called twice and no counter
holding two steps, or the exit status is 1.

The database is the run's own (a SQLite file in a temporary directory, or a
PostgreSQL database created and dropped); Redis is db 13, flushed before and after.
It is one file of about 450 lines on purpose: a benchmark is read and run as a whole.
"""

import argparse
import contextlib
import itertools
import json
import platform
import random
import sys
import tempfile
import threading
import time
from collections import Counter as Tally
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import redis
from sqlalchemy import create_engine, func, select, text

from tessera.database import Database
from tessera.migrate import upgrade
from tessera.models import Counter, Event, Step, StepState, Ticket
from tessera.queue.base import counter_duty
from tessera.queue.engine import QueueEngine
from tessera.queue.live import Duty, LiveState, QueuedStep, ServiceQueue
from tessera.queue.routing import TESSERA
from tessera.sites.loader import load_site

SITE_ID = "bench"
# The script alone uses another site's keys, so it cannot touch the engine's queues.
SCRIPT_SITE_ID = "bench-script"
REDIS_URL = "redis://127.0.0.1:6379/13"
POSTGRES_SERVER = "postgresql+psycopg://root@127.0.0.1:5432"
POSTGRES_DATABASE = "tessera_bench_call_next"
SITE_LANGUAGE = "el"
LANGUAGES = ("el", "en", "ar", "uk", "fa")
# key, ticket prefix, target wait (minutes), mean handling (minutes)
SERVICES = [("registration", "A", 30, 12), ("certificates", "B", 20, 8),
            ("employment", "C", 30, 15), ("housing", "D", 45, 20),
            ("health", "E", 30, 10), ("legal_advice", "G", 60, 20)]
PRIORITY_SHARE = 0.1
# A counter that found nothing to call pauses before asking again: fifty threads
# spinning on empty queues would hold the GIL and starve the issuing threads.
EMPTY_PAUSE_SECONDS = 0.005
BASELINE_CALLS_PER_THREAD = 400
TIMEOUT_SECONDS = 600  # per measurement: a stuck run fails instead of hanging
ISSUERS = 2  # threads issuing all through each measurement
SEED = 7


@dataclass(frozen=True)
class TicketRequest:
    """One visitor at the kiosk: a single service, a language, needs."""

    service_id: int
    language: str
    needs: tuple[str, ...]


@dataclass(frozen=True)
class CounterLayout:
    """A counter on duty as the routing script sees it: its duty and its queues."""

    counter_id: int
    duty: Duty
    queues: list[ServiceQueue]


def site_document(counters: int) -> dict:
    """A centre with six services and `counters` desks serving two or three of them each.

    Every desk speaks the site language and one other in turn, so the script's
    language boost and its holds for a colleague who speaks the language take part.
    """
    keys = [service[0] for service in SERVICES]
    others = [language for language in LANGUAGES if language != SITE_LANGUAGE]
    services = {key: {"organisation": "municipality", "prefix": prefix, "target_wait": target,
                      "mean_handling": mean, "position": position,
                      "text": {SITE_LANGUAGE: {"name": key, "description": key}}}
                for position, (key, prefix, target, mean) in enumerate(SERVICES, start=1)}
    desks = {}
    for number in range(counters):
        served = [keys[number % len(keys)], keys[(number + 1) % len(keys)]]
        if number % 3 == 0:
            served.append(keys[(number + 3) % len(keys)])
        desks[f"desk-{number + 1}"] = {"name": {SITE_LANGUAGE: f"Desk {number + 1}"},
                                       "services": served,
                                       "languages": [SITE_LANGUAGE, others[number % len(others)]]}
    return {"id": SITE_ID, "name": {SITE_LANGUAGE: "Benchmark"}, "timezone": "Europe/Athens",
            "language": SITE_LANGUAGE, "languages": list(LANGUAGES),
            "organisations": {"municipality": {"name": {SITE_LANGUAGE: "Municipality"}}},
            "services": services, "counters": desks}


def load_and_open(database: Database, engine: QueueEngine, counters: int) -> list[CounterLayout]:
    """Load the centre as `load-site` does, open every counter, and read back its layout."""
    with database.session() as session:
        counter_ids = sorted(counter.id for counter in
                             load_site(session, site_document(counters)).counters)
    layouts = []
    for counter_id in counter_ids:
        engine.open_counter(counter_id)
        with database.session() as session:
            counter = session.get(Counter, counter_id)
            queues = [ServiceQueue(service.id, service.target_wait_minutes * 60.0,
                                   service.mean_handling_minutes * 60.0)
                      for service in counter.services if service.id in counter.duty_service_ids]
            layouts.append(CounterLayout(counter_id, counter_duty(session, counter), queues))
    return layouts


def request_maker(layouts: list[CounterLayout], seed: int) -> Callable[[], TicketRequest]:
    """Seeded kiosk requests, each service asked for in proportion to the desks serving it.

    Demand that matches staffing keeps every counter's queues filled.
    """
    serving = Tally(service.service_id for layout in layouts for service in layout.queues)
    service_ids = sorted(serving)
    weights = [serving[service_id] for service_id in service_ids]
    chooser = random.Random(seed)

    def make() -> TicketRequest:
        return TicketRequest(chooser.choices(service_ids, weights)[0], chooser.choice(LANGUAGES),
                             ("priority",) if chooser.random() < PRIORITY_SHARE else ())
    return make


@contextlib.contextmanager
def fresh_database(kind: str, directory: Path) -> Iterator[str]:
    """The URL of a migrated, empty database of the run's own, dropped afterwards."""
    if kind == "sqlite":
        url = f"sqlite:///{directory / 'bench.sqlite3'}"
        upgrade(url)
        yield url
        return
    server = create_engine(f"{POSTGRES_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    drop = text(f"DROP DATABASE IF EXISTS {POSTGRES_DATABASE} WITH (FORCE)")
    try:
        with server.connect() as connection:
            connection.execute(drop)
            connection.execute(text(f"CREATE DATABASE {POSTGRES_DATABASE}"))
        upgrade(f"{POSTGRES_SERVER}/{POSTGRES_DATABASE}")
        yield f"{POSTGRES_SERVER}/{POSTGRES_DATABASE}"
    finally:
        with server.connect() as connection:
            connection.execute(drop)
        server.dispose()


def run_threads(bodies: list[Callable[[], None]], stop: threading.Event) -> tuple[float, list]:
    """Run each body in a thread, all released at once; return the release time and errors.

    The first error sets `stop`, so that the other threads do not wait forever.
    """
    barrier = threading.Barrier(len(bodies) + 1)
    errors: list[str] = []

    def guarded(body: Callable[[], None]) -> None:
        barrier.wait()
        try:
            body()
        except Exception as error:  # reported by the run, not lost in a thread
            errors.append(f"{type(error).__name__}: {error}")
            stop.set()

    threads = [threading.Thread(target=guarded, args=(body,), daemon=True) for body in bodies]
    for thread in threads:
        thread.start()
    barrier.wait()
    released = time.perf_counter()
    for thread in threads:
        thread.join()
    return released, errors


def bare_evalsha(client: redis.Redis, threads: int) -> float:
    """The baseline: EVALSHAs of `return 1` per second, from `threads` threads."""
    script = client.register_script("return 1")
    script()  # loaded once now, so that every timed call is a plain EVALSHA

    def body() -> None:
        for _ in range(BASELINE_CALLS_PER_THREAD):
            script()

    released, errors = run_threads([body] * threads, threading.Event())
    seconds = time.perf_counter() - released
    if errors:
        raise RuntimeError(errors[0])
    return threads * BASELINE_CALLS_PER_THREAD / seconds


def contend(issue: Callable[[TicketRequest], None], call: Callable[[int], bool],
            layouts: list[CounterLayout], calls: int) -> dict:
    """Every counter calls in a loop while issuing threads issue, until `calls` calls.

    `call(counter_id)` is one counter's turn and says whether it called. A
    quarter more than `calls` is issued first, so no queue runs dry: issuing
    is contention, not the supply the counters wait for.
    """
    make = request_maker(layouts, SEED)
    backlog = calls * 5 // 4
    for _ in range(backlog):
        issue(make())
    called_at: list[float] = []  # list.append is atomic under the GIL: no lock needed
    issued: list[TicketRequest] = []
    stop = threading.Event()
    deadline = time.perf_counter() + TIMEOUT_SECONDS

    def issuing(make: Callable[[], TicketRequest]) -> None:
        while not stop.is_set():
            request = make()
            issue(request)
            issued.append(request)

    def calling(counter_id: int) -> None:
        while not stop.is_set():
            if time.perf_counter() > deadline:
                raise TimeoutError(f"{len(called_at)} of {calls} calls in time")
            if not call(counter_id):
                time.sleep(EMPTY_PAUSE_SECONDS)
                continue
            called_at.append(time.perf_counter())
            if len(called_at) >= calls:
                stop.set()

    # One seeded stream of requests per issuing thread.
    released, errors = run_threads(
        [partial(issuing, request_maker(layouts, SEED + 1 + index)) for index in range(ISSUERS)]
        + [partial(calling, layout.counter_id) for layout in layouts], stop)
    # Counters already calling when the last call was counted finish theirs: all count.
    seconds = max(called_at) - released if called_at else float("inf")
    return {"calls": len(called_at), "seconds": seconds, "per_second": len(called_at) / seconds,
            "tickets_issued": backlog + len(issued), "issued_while_calling": len(issued),
            "errors": errors}


def script_alone(client: redis.Redis, layouts: list[CounterLayout], calls: int) -> dict:
    """LiveState.call_next at every counter, no SQL, for five times the engine's `calls`.

    After each call the counter is freed with one HSET, as `finish` does.
    """
    live = LiveState(client)
    live.flush_site(SCRIPT_SITE_ID)
    by_counter = {layout.counter_id: layout for layout in layouts}
    for layout in layouts:
        live.set_duty(SCRIPT_SITE_ID, layout.counter_id, layout.duty)
    step_ids = itertools.count(1)  # next() on a count is atomic under the GIL
    handed_out: list[int] = []

    def issue(request: TicketRequest) -> None:
        live.enqueue(SCRIPT_SITE_ID, QueuedStep(next(step_ids), request.service_id, time.time(),
                                                request.language, "priority" in request.needs))

    def call(counter_id: int) -> bool:
        layout = by_counter[counter_id]
        result = live.call_next(SCRIPT_SITE_ID, counter_id, layout.queues, TESSERA, time.time())
        if result.status == "empty":
            return False
        if result.status != "called":
            raise RuntimeError(f"counter {counter_id}: the script answered {result.status}")
        handed_out.append(result.step_id)
        live.set_duty(SCRIPT_SITE_ID, counter_id, layout.duty)
        return True

    # Redis's own time per script run, to tell it from that of the Python threads
    # (server-wide figures: another client's EVALSHAs at the same time would blur it).
    before = client.info("commandstats")["cmdstat_evalsha"]
    phase = contend(issue, call, layouts, 5 * calls)
    after = client.info("commandstats")["cmdstat_evalsha"]
    live.flush_site(SCRIPT_SITE_ID)
    phase["redis_microseconds_per_run"] = ((after["usec"] - before["usec"])
                                           / max(1, after["calls"] - before["calls"]))
    phase["handed_out_twice"] = sum(1 for count in Tally(handed_out).values() if count > 1)
    return phase


def engine_contended(engine: QueueEngine, layouts: list[CounterLayout], calls: int) -> dict:
    """QueueEngine.call_next -> start -> finish at every counter while tickets are issued."""
    def issue(request: TicketRequest) -> None:
        engine.issue_ticket(SITE_ID, [request.service_id], request.language, request.needs)

    def call(counter_id: int) -> bool:
        if engine.call_next(counter_id).step is None:
            return False
        engine.start(counter_id)
        engine.finish(counter_id)
        return True

    return contend(issue, call, layouts, calls)


def prove_no_duplicates(database: Database, tickets_issued: int,
                        calls: int) -> tuple[dict, list[str]]:
    """The figures of SQL's record of the engine run, and the problems found in it.

    Each step must be called at most once, each call recorded, nothing lost,
    and no counter may ever hold two steps.
    """
    # The database is the run's own, so every row in it is the benchmark's.
    with database.session() as session:
        tickets = session.scalar(select(func.count()).select_from(Ticket))
        states = dict(session.execute(select(Step.state, func.count())
                                      .group_by(Step.state)).all())
        calls_per_step = dict(session.execute(select(Event.step_id, func.count())
                                              .where(Event.kind == "called")
                                              .group_by(Event.step_id)).all())
        # Ordered by id: a counter is one thread whose transactions commit one
        # after the other, so its own events come in the order they happened.
        counter_events = session.execute(
            select(Event.counter_id, Event.kind, Event.step_id)
            .where(Event.kind.in_(("called", "started", "finished"))).order_by(Event.id)).all()
    # Each counter loops call -> start -> finish, so its events must be exactly
    # that cycle, one step at a time: anything else is a counter holding two.
    cycle = ("called", "started", "finished")
    events_by_counter = defaultdict(list)
    for counter_id, kind, step_id in counter_events:
        events_by_counter[counter_id].append((kind, step_id))
    counters_holding_two = [
        counter_id for counter_id, events in events_by_counter.items()
        if any(kind != cycle[index % 3] or step_id != events[index - index % 3][1]
               for index, (kind, step_id) in enumerate(events))]
    called_twice = sum(1 for count in calls_per_step.values() if count > 1)
    done, waiting = states.get(StepState.DONE, 0), states.get(StepState.WAITING, 0)
    checks = [
        (tickets == tickets_issued, f"{tickets} tickets in SQL, {tickets_issued} issued"),
        (len(calls_per_step) == calls,
         f"{len(calls_per_step)} steps have a 'called' event, {calls} calls returned one"),
        (not called_twice, f"{called_twice} steps have more than one 'called' event"),
        # Every called step was finished, and every other step still waits.
        (done == calls and waiting == tickets - calls == sum(states.values()) - done,
         f"steps by state {states} for {tickets} tickets and {calls} calls"),
        (not counters_holding_two, f"{len(counters_holding_two)} counters held two steps"),
    ]
    figures = {"tickets_issued": tickets, "steps_called": len(calls_per_step),
               "steps_called_more_than_once": called_twice, "steps_done": done,
               "steps_waiting": waiting, "counters": len(events_by_counter),
               "counters_holding_two_steps": len(counters_holding_two)}
    return figures, [message for passed, message in checks if not passed]


def markdown(result: dict) -> str:
    """The figures as a Markdown table, with the duplicate proof underneath."""
    setup, proof = result["setup"], result["proof"]
    script, engine = result["script_alone"], result["engine"]

    def row(label: str, phase: dict) -> str:
        return (f"| {label} | {phase['per_second']:,.1f} | {phase['baseline_per_second']:,.0f} "
                f"| {phase['ratio_to_baseline']:.4f} |")

    return "\n".join([
        f"{setup['counters']} counter threads, {setup['issuers']} issuing threads; "
        f"{setup['database']}, Redis {setup['redis']}, Python {setup['python']}.",
        "",
        "| Measured | calls/s | bare EVALSHA/s around it | ratio |",
        "|---|---:|---:|---:|",
        "| Bare EVALSHA of `return 1` (before, between, after) | "
        + " / ".join(f"{rate:,.0f}" for rate in result["bare_evalsha_per_second"]) + " | | |",
        row(f"Script alone: call_next.lua + HSET freeing the desk ({script['calls']:,} calls, "
            f"{script['issued_while_calling']:,} steps queued meanwhile)", script),
        row(f"Engine: call_next → start → finish ({engine['calls']:,} calls, "
            f"{engine['issued_while_calling']:,} tickets issued meanwhile)", engine),
        "",
        f"Engine ÷ script alone: {engine['per_second'] / script['per_second']:.4f}. Inside "
        f"Redis, one run of call_next.lua took {script['redis_microseconds_per_run']:,.0f} µs "
        f"(INFO commandstats, runs that found nothing included).",
        "",
        f"Duplicate proof from the SQL event log: {'PASSED' if result['ok'] else 'FAILED'}. "
        f"{proof['tickets_issued']:,} tickets issued, {proof['steps_called']:,} steps called, "
        f"{proof['steps_called_more_than_once']} of them more than once; "
        f"{proof['steps_done']:,} done, {proof['steps_waiting']:,} still waiting; "
        f"{proof['counters_holding_two_steps']} of {proof['counters']} counters ever held two "
        f"steps. The script alone handed out {script['handed_out_twice']} steps twice.",
        *(f"- problem: {problem}" for problem in result["problems"]),
    ])


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.call_next", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--counters", type=int, default=50,
                        help="counters on duty, one calling thread each (default 50)")
    parser.add_argument("--calls", type=int, default=1000,
                        help="calls through the engine, five times as many through the "
                             "script alone (default 1000)")
    parser.add_argument("--redis-url", default=REDIS_URL,
                        help=f"a Redis database the run may flush (default {REDIS_URL})")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Measure, prove, print; the exit status is 1 when the proof or a measurement failed."""
    options = parse_arguments(argv)
    client = redis.Redis.from_url(options.redis_url)
    client.flushdb()
    with tempfile.TemporaryDirectory() as directory, \
            fresh_database(options.database, Path(directory)) as url:
        database = Database(url)
        engine = QueueEngine(database, LiveState(client))
        layouts = load_and_open(database, engine, options.counters)
        baselines = [bare_evalsha(client, len(layouts))]
        script = script_alone(client, layouts, options.calls)
        baselines.append(bare_evalsha(client, len(layouts)))
        contended = engine_contended(engine, layouts, options.calls)
        baselines.append(bare_evalsha(client, len(layouts)))
        proof, problems = prove_no_duplicates(database, contended["tickets_issued"],
                                              contended["calls"])
        version = ".".join(map(str, database.engine.dialect.server_version_info))
        database.engine.dispose()
    redis_version = client.info("server")["redis_version"]
    client.flushdb()
    client.close()

    if script["handed_out_twice"]:
        problems.append(f"the script alone handed out {script['handed_out_twice']} steps twice")
    for name, phase, around in (("script alone", script, baselines[0:2]),
                                ("engine", contended, baselines[1:3])):
        problems += [f"{name}: {error}" for error in phase["errors"]]
        # Divided by the baselines just before and after: the machine's load drifts.
        phase["baseline_per_second"] = sum(around) / 2
        phase["ratio_to_baseline"] = phase["per_second"] / phase["baseline_per_second"]
    result = {
        "setup": {"database": f"{options.database} {version}", "redis": redis_version,
                  "python": platform.python_version(), "counters": len(layouts),
                  "issuers": ISSUERS, "seed": SEED},
        "bare_evalsha_per_second": baselines, "script_alone": script, "engine": contended,
        "proof": proof, "problems": problems, "ok": not problems,
    }
    print(json.dumps(result, indent=2) if options.json else markdown(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
