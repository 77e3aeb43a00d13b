"""Issuing, measured: tickets per second over HTTP, beside a bare route of the same server,
with the desks closed and nobody waiting, then with desks open and a queue.

    python -m bench.issue [--concurrency 8] [--rounds 10] [--tickets 20] [--bare-requests 200]
                          [--desks 10] [--waiting 200]

A fresh world: a migrated SQLite file in a temporary directory, Redis db 8 (`--redis-url`)
flushed before and after, a hall with two services, `--desks` desks that serve
both (closed), and a kiosk with a printer, paired as staff pair it (a one-time
code exchanged for its secret: tests/helpers.py pair_kiosk). One web process,
started with the Procfile's `web:` command (gunicorn, its worker class, threads
and settings) with `bench.issue:app_with_bare_route()` as the app: the app
itself (`tessera.create_app()`) plus one route only this benchmark's server has,
POST /bench/bare, which answers 201 with a small JSON body and touches neither
SQL nor Redis. So the bare route runs through the same server, process and
request hooks (input guard, security headers, session, CSRF exemption) as
issuing, and the ratio is what issuing itself costs. The issuing rate limits
stay on (the limiter's Redis hit is part of issuing) but are raised out of
reach through the app's configuration: ISSUE_LIMIT_PER_KIOSK and
ISSUE_LIMIT_PER_ADDRESS = `--limit` (default 1000000/minute).

The client is one asyncio loop (aiohttp, keep-alive) in this process with
`--concurrency` requests in flight. Both routes get the same request: POST
/api/v1/sites/<site>/tickets as the paired kiosk sends it (X-Kiosk, its secret
in X-Kiosk-Secret, a fresh Idempotency-Key, {services: [one of the two, in
turn], language, needs: []}), and the same to /bench/bare. Two phases, each
`--rounds` rounds of one bare burst (`--bare-requests` requests) and one
issuing burst (`--tickets` tickets), in alternating order: first with the desks
closed and no ticket waiting, then with `--desks` desks opened (in this process,
through the engine, named by nobody) and `--waiting` tickets issued to wait,
half to each service. After each issuing burst the tickets it issued are
cancelled over HTTP, untimed, so that each burst meets the queue its phase
names (the table gives the steps waiting as each burst began). A rate is
requests answered ÷ the summed wall time of the bursts; a latency is one
request's, sent to answered. A phase starts with a few untimed requests of
each kind. Each phase's issuing is divided by its own bare route, and the
second phase by the first, raw and with the bare route's drift taken out.

The printed table is Markdown. Any answer other than 201 (200 for a cancel)
ends the run with an error.
"""

import argparse
import asyncio
import signal
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from sqlalchemy import func, select

from bench.realtime import (
    WebProcess,
    flush_redis,
    p50_p99,
    progress,
    raise_open_files_limit,
    run_channel,
    start_web_process,
)
from bench.realtime import site_document as hall_document
from tessera.clock import utc_now
from tessera.devices.pairing import pair, start_pairing
from tessera.migrate import upgrade
from tessera.models import Counter, Service, Step, StepState, Ticket
from tessera.sites.loader import load_site
from tessera.stores import Stores

# Others use db 0-5, 7 and 9-15 (bench.realtime 6); this benchmark flushes db 8 only.
REDIS_URL = "redis://127.0.0.1:6379/8"
SITE_ID = "hall"
KIOSK = "entrance"
BARE_ROUTE = "/bench/bare"
APP = "bench.issue:app_with_bare_route()"
WARMUP = 5
REQUEST_TIMEOUT = 120.0


# The server: the app and a bare route ---------------------------------------------------

def app_with_bare_route():
    """The app as the Procfile builds it, plus POST /bench/bare: the same server's floor.

    Added here only, in the benchmark's own server process; the route does nothing a
    request needs beyond what every request of the app already goes through.
    """
    from flask import jsonify

    from tessera import create_app
    from tessera.web.csrf import public

    app = create_app()

    @app.post(BARE_ROUTE)
    @public
    def bare():
        return jsonify({"ok": True}), 201

    return app


# The world: SQL, Redis, a site, a paired kiosk ------------------------------------------

def site_document(desks: int) -> dict:
    """The real-time benchmark's hall with `desks` desks, and a kiosk with a printer."""
    return {**hall_document(desks),
            "kiosks": {KIOSK: {"printer": {"type": "dummy", "profile": "TM-T88III"}}}}


@dataclass(frozen=True)
class World:
    """What a run needs to know of the world it built."""

    database_url: str
    redis_url: str
    kiosk_secret: str
    service_ids: tuple[int, ...]
    counter_ids: tuple[int, ...]


def build_world(directory: Path, desks: int, redis_url: str = REDIS_URL) -> World:
    """Migrate a fresh SQLite file, flush the Redis db, load the site, pair the kiosk."""
    database_url = f"sqlite:///{directory / 'tessera.sqlite3'}"
    upgrade(database_url)
    flush_redis(redis_url)
    stores = Stores.connect(database_url, redis_url)
    try:
        with stores.database.session() as session:
            load_site(session, site_document(desks))
            service_ids = tuple(session.scalars(
                select(Service.id).where(Service.site_id == SITE_ID).order_by(Service.id)))
            counter_ids = tuple(session.scalars(
                select(Counter.id).where(Counter.site_id == SITE_ID).order_by(Counter.id)))
        now = utc_now()
        with stores.database.session() as session:
            code, _expires = start_pairing(session, SITE_ID, KIOSK, now)
        with stores.database.session() as session:
            secret = pair(session, SITE_ID, KIOSK, code, now)
    finally:
        close(stores)
    return World(database_url, redis_url, secret, service_ids, counter_ids)


def close(stores: Stores) -> None:
    """Let go of a Stores' SQL pool and Redis connections."""
    stores.database.engine.dispose()
    stores.redis.close()


def fill_the_hall(world: World, waiting: int) -> None:
    """Open every desk and issue `waiting` tickets, half to each service, through the engine."""
    stores = Stores.connect(world.database_url, world.redis_url)
    try:
        # Named by nobody: one member of staff holds one desk, and this opens them all.
        for counter_id in world.counter_ids:
            stores.engine.open_counter(counter_id)
        for index in range(waiting):
            stores.engine.issue_ticket(SITE_ID, [world.service_ids[index % 2]], "el")
    finally:
        close(stores)


def steps_waiting(world: World, stores: Stores) -> int:
    """How many steps wait at the site now, from SQL."""
    with stores.database.session() as session:
        return session.scalar(select(func.count(Step.id)).join(Ticket).where(
            Ticket.site_id == SITE_ID, Step.state == StepState.WAITING))


# Measuring ----------------------------------------------------------------------------

@dataclass
class Route:
    """One route's bursts in a phase: requests answered, their wall time, each latency."""

    requests: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)

    def add(self, requests: int, seconds: float, latencies: list[float]) -> None:
        """Count one burst."""
        self.requests += requests
        self.seconds += seconds
        self.latencies += latencies

    @property
    def rate(self) -> float:
        """Requests answered per second of burst."""
        return self.requests / self.seconds if self.seconds else 0.0


class Client:
    """The kiosk's requests, sent by one aiohttp session with a number in flight."""

    def __init__(self, web: WebProcess, world: World, concurrency: int):
        self.web, self.world, self.concurrency = web, world, concurrency
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=concurrency),
            timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT))
        self.sent = 0  # services alternate across every request sent

    def request(self) -> tuple[dict, dict]:
        """Headers and body of the next issuing request, as a paired kiosk sends it."""
        self.sent += 1
        headers = {"X-Kiosk": KIOSK, "X-Kiosk-Secret": self.world.kiosk_secret,
                   "Idempotency-Key": str(uuid.uuid4())}
        body = {"services": [self.world.service_ids[self.sent % 2]], "language": "el",
                "needs": []}
        return headers, body

    async def burst(self, path: str, count: int) -> tuple[float, list[float], list[dict]]:
        """`count` requests to `path`, `concurrency` at a time: wall time, latencies, answers."""
        latencies: list[float] = []
        answers: list[dict] = []
        left = iter(range(count))

        async def sender() -> None:
            for _ in left:  # one iterator shared by the senders: `count` requests in all
                headers, body = self.request()
                started = time.perf_counter()
                async with self.session.post(f"{self.web.url}{path}", json=body,
                                             headers=headers) as response:
                    answer = await response.json(content_type=None)
                    if response.status != 201:
                        raise RuntimeError(f"POST {path} answered {response.status}: {answer}")
                latencies.append(time.perf_counter() - started)
                answers.append(answer)

        started = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(self.concurrency)))
        return time.perf_counter() - started, latencies, answers

    async def cancel(self, tokens: list[str]) -> None:
        """The visitors of `tokens` leave (untimed: it only puts the queue back)."""
        left = iter(tokens)

        async def canceller() -> None:
            for token in left:
                async with self.session.post(
                        f"{self.web.url}/api/v1/tickets/{token}/cancel") as response:
                    if response.status != 200:
                        raise RuntimeError(f"cancel answered {response.status}: "
                                           f"{await response.text()}")

        await asyncio.gather(*(canceller() for _ in range(self.concurrency)))

    async def close(self) -> None:
        """Close the session and its connections."""
        await self.session.close()


ISSUE_PATH = f"/api/v1/sites/{SITE_ID}/tickets"


async def phase(client: Client, options: argparse.Namespace, stores: Stores) -> dict:
    """One phase: warm-up, then rounds of a bare burst and an issuing burst in alternating
    order, each issuing burst's tickets cancelled after it."""
    _seconds, _latencies, answers = await client.burst(ISSUE_PATH, WARMUP)
    await client.cancel([answer["token"] for answer in answers])
    await client.burst(BARE_ROUTE, WARMUP)
    bare, issuing = Route(), Route()
    waiting: list[int] = []
    for number in range(options.rounds):
        for route in ((BARE_ROUTE, ISSUE_PATH) if number % 2 == 0
                      else (ISSUE_PATH, BARE_ROUTE)):
            if route == BARE_ROUTE:
                bare.add(options.bare_requests,
                         *(await client.burst(BARE_ROUTE, options.bare_requests))[:2])
                continue
            waiting.append(steps_waiting(client.world, stores))
            seconds, latencies, answers = await client.burst(ISSUE_PATH, options.tickets)
            issuing.add(options.tickets, seconds, latencies)
            await client.cancel([answer["token"] for answer in answers])
    return {"bare": bare, "issuing": issuing, "waiting": (min(waiting), max(waiting))}


async def measure_phases(web: WebProcess, world: World, options: argparse.Namespace) -> dict:
    """Both phases against one web process: quiet (desks closed, none waiting), then busy."""
    client = Client(web, world, options.concurrency)
    stores = Stores.connect(world.database_url, world.redis_url)  # only to count waiting steps
    try:
        progress(f"desks closed, none waiting: {options.rounds} rounds")
        quiet = await phase(client, options, stores)
        progress(f"opening {len(world.counter_ids)} desks, issuing {options.waiting} tickets")
        fill_the_hall(world, options.waiting)
        progress(f"{len(world.counter_ids)} desks open, {options.waiting} waiting: "
                 f"{options.rounds} rounds")
        busy = await phase(client, options, stores)
    finally:
        await client.close()
        close(stores)
    return {"quiet": quiet, "busy": busy}


def measure(options: argparse.Namespace, directory: Path) -> dict:
    """The whole run: world, web process, both phases; the two phases' figures."""
    progress("building the world")
    world = build_world(directory, options.desks, options.redis_url)
    environment = {"DATABASE_URL": world.database_url, "REDIS_URL": world.redis_url,
                   "SOCKETIO_CHANNEL": run_channel("tessera-bench-issue"),
                   "ISSUE_LIMIT_PER_KIOSK": options.limit,
                   "ISSUE_LIMIT_PER_ADDRESS": options.limit}
    web = start_web_process(directory, environment, APP)
    try:
        return asyncio.run(measure_phases(web, world, options))
    finally:
        web.stop()
        flush_redis(world.redis_url)


def ratio(numerator: float, denominator: float) -> str:
    """numerator ÷ denominator to two decimals, or a dash."""
    return f"{numerator / denominator:.2f}" if denominator else "-"


def latency_ratio(numerator: list[float], denominator: list[float]) -> str:
    """The ratio of two routes' latencies at p50 and at p99."""
    if len(numerator) < 2 or len(denominator) < 2:
        return "-"
    top = statistics.quantiles(numerator, n=100, method="inclusive")
    bottom = statistics.quantiles(denominator, n=100, method="inclusive")
    return f"{top[49] / bottom[49]:.2f} / {top[98] / bottom[98]:.2f}"


def markdown_table(report: dict, options: argparse.Namespace) -> str:
    """The two phases side by side, and the busy one ÷ the quiet one."""
    quiet, busy = report["quiet"], report["busy"]
    header = ["", "desks closed, none waiting",
              f"{options.desks} desks open, {options.waiting} waiting",
              f"{options.waiting} waiting ÷ none"]
    quiet_share = quiet["issuing"].rate / quiet["bare"].rate if quiet["bare"].rate else 0.0
    busy_share = busy["issuing"].rate / busy["bare"].rate if busy["bare"].rate else 0.0
    rows = [
        ("steps waiting as each issuing burst began (min to max)",
         "{} to {}".format(*quiet["waiting"]), "{} to {}".format(*busy["waiting"]), ""),
        ("bare route, requests/s", f"{quiet['bare'].rate:.1f}", f"{busy['bare'].rate:.1f}",
         ratio(busy["bare"].rate, quiet["bare"].rate)),
        ("issuing, tickets/s", f"{quiet['issuing'].rate:.1f}", f"{busy['issuing'].rate:.1f}",
         ratio(busy["issuing"].rate, quiet["issuing"].rate)),
        ("issuing ÷ bare route", f"{quiet_share:.3f}", f"{busy_share:.3f}",
         ratio(busy_share, quiet_share)),
        ("bare route response, p50 / p99 (ms)", p50_p99(quiet["bare"].latencies),
         p50_p99(busy["bare"].latencies),
         latency_ratio(busy["bare"].latencies, quiet["bare"].latencies)),
        ("issuing response, p50 / p99 (ms)", p50_p99(quiet["issuing"].latencies),
         p50_p99(busy["issuing"].latencies),
         latency_ratio(busy["issuing"].latencies, quiet["issuing"].latencies)),
    ]
    lines = ["| " + " | ".join(header) + " |", "|---|---:|---:|---:|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def main(arguments: list[str] | None = None) -> int:
    """Measure both phases and print the table."""
    parser = argparse.ArgumentParser(prog="python -m bench.issue",
                                     description=__doc__.split("\n", 1)[0])
    parser.add_argument("--concurrency", type=int, default=8,
                        help="requests in flight at once")
    parser.add_argument("--rounds", type=int, default=10,
                        help="rounds of one bare and one issuing burst per phase")
    parser.add_argument("--tickets", type=int, default=20, help="tickets per issuing burst")
    parser.add_argument("--bare-requests", type=int, default=200,
                        help="requests per bare-route burst")
    parser.add_argument("--desks", type=int, default=10, help="desks opened for the busy phase")
    parser.add_argument("--waiting", type=int, default=200,
                        help="tickets waiting in the busy phase")
    parser.add_argument("--redis-url", default=REDIS_URL,
                        help="the Redis database the run flushes and uses")
    parser.add_argument("--limit", default="1000000/minute",
                        help="ISSUE_LIMIT_PER_KIOSK and ISSUE_LIMIT_PER_ADDRESS of the server")
    options = parser.parse_args(arguments)
    raise_open_files_limit()
    # SIGTERM ends the run through the `finally` blocks that stop the web process.
    previous = signal.signal(signal.SIGTERM, lambda _signal, _frame: sys.exit(143))
    try:
        with tempfile.TemporaryDirectory(prefix="tessera-issue-") as directory:
            report = measure(options, Path(directory))
    finally:
        signal.signal(signal.SIGTERM, previous)
    print(markdown_table(report, options))
    return 0


if __name__ == "__main__":
    sys.exit(main())
