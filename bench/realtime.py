"""Real time, measured: from a call-next request to the 'called' event on every client, beside
the floor of a bare python-socketio server that the same clients measure in the same run.

    python -m bench.realtime [--displays 200] [--mobiles 1000] [--calls 40] [--web-processes 1 2]
                             [--client-processes 1]

For each number N of web processes: a fresh world (a migrated SQLite file in a
temporary directory, Redis db 6 (`--redis-url`) flushed before and after, a hall with four
desks opened by a manager with a bearer token, one waiting ticket per mobile
client), then two servers side by side, each N processes started with the
Procfile's `web:` command on free ports, with `--threads` raised by one per
client each will hold (gunicorn's gthread worker ties a thread to every open
websocket):
- Tessera: the command as it is (`tessera:create_app()`), its processes sharing
  one Redis message queue;
- the bare server (the floor): the same command with `bench.realtime:bare_app()`
  as the app, a Flask app whose Flask-SocketIO server has the options the app's
  has (tessera/web/extensions.py: the same async mode) and the same kind of
  Redis message queue on a channel of its own; it lets a client join any room,
  and its one route, POST /call, emits 'called' with the posted payload to the
  posted rooms from the request's thread, as the app's call-next does, and answers.

The clients are python-socketio AsyncClients over the websocket transport
(aiohttp), all in one asyncio process by default (`--client-processes`), so
that they add as little as they can to what they measure on a small machine.
Each client has one connection to each server and joins, on both, the rooms
the real pages join: a display `site:<site>` (display/static/hall.js), a mobile
ticket only `ticket:<token>` (display/static/mobile-ticket.js); each call thus
reaches every display and the called ticket's phone, while the other phones
stay connected. With two web processes the clients alternate between them. RSS
and threads of every web process are read before the clients connect and with
all of them connected. Then `--calls` rounds, each one call to each server in
alternating order (Tessera first, then bare first, ...), round robin over desks
and web processes, after `--warmup` rounds that no figure counts (the first
requests of a process load code and scripts): a Tessera call is POST
/api/v1/counters/<id>/call-next, a bare one POST /call with a payload shaped as
the app's 'called'. Latency runs
from sending the request to each client's first 'called' event for that step
(time.time() on both sides: one machine, one clock); the client takes the time
first thing in its handler and reports its arrivals in batches, off the path it
times. Once every client has it, or `--event-timeout` passed, a Tessera desk is
freed with a no-show, which no latency includes; `--gap` seconds later the next
call goes. The table gives both servers side by side and Tessera ÷ bare.

The printed table is Markdown. Exit status 1 if any client missed a call.
It is one file on purpose: a benchmark is read and run as a whole, its client
processes and its bare server included.
"""

import argparse
import asyncio
import contextlib
import datetime as dt
import logging
import multiprocessing
import os
import queue
import re
import resource
import secrets
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import redis
import requests
import socketio
from sqlalchemy import select

from tessera.migrate import upgrade
from tessera.models import Counter, Service
from tessera.sites.loader import load_site
from tessera.staff.accounts import create_staff
from tessera.staff.auth import issue_token
from tessera.stores import Stores

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
# Others use db 0-5, 7 and 9-15 (tests 15, bench.call_next 13); this benchmark flushes db 6 only.
REDIS_URL = "redis://127.0.0.1:6379/6"
# Pub/sub channels ignore the db number: a channel per server and run keeps the bare server's
# events from the app's clients, and other web processes (another run) out.
SOCKETIO_CHANNEL = "tessera-bench-realtime"
NAMESPACE = "/live"
SITE_ID = "hall"
DESKS = 4
HTTP_THREADS = 100
# The two servers of a run, in the order of the table's columns.
TESSERA, BARE = "tessera", "bare"
TARGETS = (TESSERA, BARE)
BARE_APP = "bench.realtime:bare_app()"
CONNECT_TIMEOUT = 30.0
CONNECT_PHASE_TIMEOUT = 900.0
# Handshakes in flight at once per client process, as a hall's screens and phones would arrive.
CONNECTING_AT_ONCE = 16
# A client process sends its arrivals this often: one message for many events, off the path timed.
REPORT_EVERY = 0.02
STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0
# A client process exits by itself after this long, should the coordinator die without telling it.
CLIENT_LIFETIME = 3600.0


def progress(message: str) -> None:
    """A progress line on stderr, so stdout carries only the table."""
    print(f"{time.strftime('%H:%M:%S')}  {message}", file=sys.stderr, flush=True)


def raise_open_files_limit() -> None:
    """Raise this process's (and its children's) open-files limit to the hard limit: each web
    process holds one descriptor per client, and the client process two per client."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# The world: SQL, Redis, a site, a bearer token, waiting tickets -------------------------

def site_document(desk_count: int = DESKS) -> dict:
    """A hall with two services and `desk_count` desks that serve both."""
    texts = {language: {"name": "Registration", "description": "Registration", "bring": "ID"}
             for language in ("el", "en")}
    services = {key: {"organisation": "municipality", "prefix": prefix, "target_wait": 30,
                      "mean_handling": 10, "position": position, "text": texts}
                for position, (key, prefix) in enumerate([("registration", "A"),
                                                          ("certificates", "B")], start=1)}
    desks = {f"desk-{number}": {"name": {"el": f"Γραφείο {number}", "en": f"Desk {number}"},
                                "services": list(services), "languages": ["el", "en"]}
             for number in range(1, desk_count + 1)}
    return {"id": SITE_ID, "name": {"el": "Αίθουσα", "en": "Hall"},
            "timezone": "Europe/Athens", "language": "el", "languages": ["el", "en"],
            "recall_limit": 2, "services": services, "counters": desks,
            "organisations": {"municipality": {"name": {"el": "Δήμος", "en": "Municipality"}}}}


@dataclass(frozen=True)
class World:
    """What a run needs to know of the world it built."""

    database_url: str
    redis_url: str
    token: str
    counter_ids: tuple[int, ...]
    tickets: tuple[tuple[str, str], ...]  # (number, token) of each waiting ticket


def build_world(directory: Path, tickets: int, redis_url: str = REDIS_URL) -> World:
    """Migrate a fresh SQLite file, flush the Redis db, load the site, open the desks, issue
    tickets."""
    database_url = f"sqlite:///{directory / 'tessera.sqlite3'}"
    upgrade(database_url)
    flush_redis(redis_url)
    stores = Stores.connect(database_url, redis_url)
    try:
        with stores.database.session() as session:
            load_site(session, site_document())
            staff, _password = create_staff(session, SITE_ID, "bench-manager", "Benchmark",
                                            "manager", ["el"], ["municipality"])
            token = issue_token(session, staff, "bench.realtime")
            counter_ids = tuple(session.scalars(
                select(Counter.id).where(Counter.site_id == SITE_ID).order_by(Counter.id)))
            service_ids = list(session.scalars(
                select(Service.id).where(Service.site_id == SITE_ID).order_by(Service.id)))
        # Named by nobody: one member of staff holds one desk, and this opens them all.
        for counter_id in counter_ids:
            stores.engine.open_counter(counter_id)
        issued = [stores.engine.issue_ticket(SITE_ID, [service_ids[index % 2]], "el")
                  for index in range(tickets)]
    finally:
        stores.database.engine.dispose()
        stores.redis.close()
    return World(database_url, redis_url, token, counter_ids,
                 tuple((ticket.number, ticket.token) for ticket in issued))


def flush_redis(url: str = REDIS_URL) -> None:
    """Empty the benchmark's Redis database (that db only)."""
    with contextlib.closing(redis.Redis.from_url(url)) as client:
        client.flushdb()


# The bare server: the floor -----------------------------------------------------------

def bare_app():
    """The floor's WSGI app: a Socket.IO server that only lets clients join rooms and emits
    'called' when asked over HTTP; gunicorn builds it from the Procfile's command.

    The Socket.IO options are the app's own (tessera.web.extensions.socketio: async mode
    and any other), and the message queue is made as the app makes it, so the floor moves
    with the app's server mode; only the work of Tessera is left out.
    """
    from flask import Flask, jsonify, request
    from flask_socketio import SocketIO, join_room

    from tessera.web import extensions, realtime

    app = Flask(__name__)
    options = {key: value for key, value in extensions.socketio.server_options.items()
               if key not in ("client_manager", "message_queue", "channel")}
    server = SocketIO(app, client_manager=realtime.message_queue(
        os.environ["REDIS_URL"], os.environ["SOCKETIO_CHANNEL"]), **options)

    @server.on("join", namespace=NAMESPACE)
    def join(message):
        join_room(message["room"])
        return {"ok": True}

    @app.post("/call")
    def call():
        body = request.get_json()
        server.emit("called", body["payload"], to=body["rooms"], namespace=NAMESPACE)
        return jsonify({"step": {"id": body["payload"]["step_id"]}})

    @app.get("/healthz")
    def healthz():
        return jsonify({"status": "ok"})

    return app


# Web processes ------------------------------------------------------------------------

def procfile_web_command(port: int, app: str | None = None,
                         threads: int | None = None) -> list[str]:
    """The Procfile's `web:` command on `port`; `app` instead of its app, `threads` threads.

    Read from the Procfile rather than copied, so the benchmark runs what production
    runs (its worker class and settings included); ${NAME:-default} is expanded as the
    shell would. The app is the command's last word.
    """
    line = next(line for line in (ROOT / "Procfile").read_text().splitlines()
                if line.startswith("web:"))
    values = {"HOST": HOST, "PORT": str(port)}
    words = [re.sub(r"\$\{(\w+):-([^}]*)\}", lambda match: values.get(match[1], match[2]), word)
             for word in shlex.split(line.removeprefix("web:"))]
    words[0] = str(Path(sys.executable).with_name(words[0]))  # the virtualenv's gunicorn
    if app is not None:
        words[-1] = app
    if threads is not None:
        if "--threads" in words:
            words[words.index("--threads") + 1] = str(threads)
        # gthread stops accepting connections past worker_connections (default 1000).
        if "--worker-connections" in words:
            words[words.index("--worker-connections") + 1] = str(threads + HTTP_THREADS)
        else:
            words[-1:-1] = ["--worker-connections", str(threads + HTTP_THREADS)]
    return words


@dataclass
class WebProcess:
    """One gunicorn master and its single worker, on its own port."""

    port: int
    process: subprocess.Popen
    log_path: Path

    @property
    def url(self) -> str:
        """The base URL of this web process."""
        return f"http://{HOST}:{self.port}"

    def memory(self) -> tuple[float, int]:
        """RSS in MiB and thread count of the worker, which holds the app and the websockets."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        worker = children.read_text().split()[0]
        status = dict(line.split(":", 1) for line in
                      Path(f"/proc/{worker}/status").read_text().splitlines())
        return int(status["VmRSS"].split()[0]) / 1024, int(status["Threads"])

    def stop(self) -> None:
        """Quick shutdown (SIGINT), then SIGKILL to the process group should anything linger."""
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=STOP_TIMEOUT)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=STOP_TIMEOUT)


def free_port() -> int:
    """A local port nobody listens on at the moment."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def start_web_process(directory: Path, environment: dict, app: str | None = None,
                      threads: int | None = None) -> WebProcess:
    """Start one web process (the Procfile's command, with `app` and `threads` if given) on a
    free port, with `environment` over this one's; return once /healthz answers 200."""
    port = free_port()
    environment = dict(os.environ, HOST=HOST, PORT=str(port),
                       SECRET_KEY=secrets.token_hex(32), TESSERA_INSTANCE=str(directory),
                       **environment)
    log_path = directory / f"web-{port}.log"
    with log_path.open("wb") as log:
        # A session of its own, so stop() can kill the worker together with the master.
        process = subprocess.Popen(procfile_web_command(port, app, threads), cwd=ROOT,
                                   env=environment, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    web = WebProcess(port, process, log_path)
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline and process.poll() is None:
        with contextlib.suppress(requests.RequestException):
            if requests.get(f"{web.url}/healthz", timeout=2).status_code == 200:
                return web
        time.sleep(0.2)
    web.stop()
    raise RuntimeError(f"web process on port {port} did not start:\n{log_path.read_text()}")


def run_channel(name: str) -> str:
    """A Socket.IO channel of this run's own (pub/sub channels ignore the db number)."""
    return f"{name}-{os.getpid()}"


def start_server(target: str, world: World, directory: Path, threads: int) -> WebProcess:
    """One web process of `target`: Tessera on the run's world, or the bare server."""
    environment = {"DATABASE_URL": world.database_url, "REDIS_URL": world.redis_url,
                   "SOCKETIO_CHANNEL": run_channel(f"{SOCKETIO_CHANNEL}-{target}")}
    return start_web_process(directory, environment, BARE_APP if target == BARE else None,
                             threads)


# Client processes ---------------------------------------------------------------------

@dataclass(frozen=True)
class ClientPlan:
    """One Socket.IO connection: its kind, its server, the web process, the rooms it joins."""

    kind: str  # "display" or "mobile"
    target: str  # TESSERA or BARE
    port: int
    rooms: tuple[str, ...]
    ticket: str | None = None  # a mobile client's own ticket number


def run_clients(first_id: int, plans: list[ClientPlan], reports, stop) -> None:
    """A client process: one asyncio loop that connects every planned client, joins its
    rooms, and reports each 'called'.

    Reports on `reports`: ("ready", connected per (target, kind), failure messages) once;
    then ("called", [(client id, step id, whether it is the client's own ticket, arrival
    time), ...]) in batches, and ("lost", client id) for a connection lost before `stop`.
    """
    # A dropped connection is counted in the table; the client library's log of it is noise.
    logging.getLogger("engineio.client").setLevel(logging.CRITICAL)
    logging.getLogger("socketio.client").setLevel(logging.CRITICAL)
    asyncio.run(_clients(first_id, plans, reports, stop))
    reports.close()
    reports.join_thread()
    os._exit(0)  # a connection stuck on a dead server must not keep the process alive


async def _clients(first_id: int, plans: list[ClientPlan], reports, stop) -> None:
    """The client process's loop; see run_clients."""
    arrivals: list[tuple[int, int, bool, float]] = []
    clients: list[socketio.AsyncClient] = []
    connected: dict[tuple[str, str], int] = defaultdict(int)
    failures: list[str] = []
    gate = asyncio.Semaphore(CONNECTING_AT_ONCE)

    async def connect(client_id: int, plan: ClientPlan) -> None:
        # No reconnection: a lost connection must show as missed calls, not be papered over.
        client = socketio.AsyncClient(reconnection=False, handle_sigint=False)

        def on_called(data: dict) -> None:
            arrived = time.time()  # first, so nothing below is timed
            arrivals.append((client_id, data["step_id"], data["ticket"] == plan.ticket,
                             arrived))

        def on_disconnect(*_reason) -> None:
            if not stop.is_set():
                reports.put(("lost", client_id))

        client.on("called", on_called, namespace=NAMESPACE)
        client.on("disconnect", on_disconnect, namespace=NAMESPACE)
        async with gate:
            try:
                await client.connect(f"http://{HOST}:{plan.port}", namespaces=[NAMESPACE],
                                     transports=["websocket"], wait_timeout=CONNECT_TIMEOUT)
                clients.append(client)
                for room in plan.rooms:
                    answer = await client.call("join", {"room": room}, namespace=NAMESPACE,
                                               timeout=CONNECT_TIMEOUT)
                    if answer != {"ok": True}:
                        raise RuntimeError(f"join {room!r} answered {answer!r}")
            except Exception as error:  # counted and reported; the run goes on without it
                failures.append(f"{plan.target} {plan.kind} on port {plan.port}: {error!r}")
                return
        connected[plan.target, plan.kind] += 1

    async def report_arrivals() -> None:
        while True:
            await asyncio.sleep(REPORT_EVERY)
            if arrivals:
                batch = arrivals[:]
                arrivals.clear()
                reports.put(("called", batch))

    await asyncio.gather(*(connect(first_id + offset, plan)
                           for offset, plan in enumerate(plans)))
    reports.put(("ready", dict(connected), failures))
    reporter = asyncio.create_task(report_arrivals())
    await asyncio.get_running_loop().run_in_executor(None, stop.wait, CLIENT_LIFETIME)
    reporter.cancel()
    await asyncio.gather(*(client.disconnect() for client in clients), return_exceptions=True)


class ClientFleet:
    """The client processes of one run, and the arrivals of 'called' events they report."""

    def __init__(self, plans: list[ClientPlan], processes: int):
        # Spawn, not fork: children must not inherit this process's sockets and pools.
        context = multiprocessing.get_context("spawn")
        self.plans = plans
        self.reports = context.Queue()
        self.stop = context.Event()
        # step id -> client id -> first arrival time; and the called ticket's own phone.
        self.arrivals: dict[int, dict[int, float]] = defaultdict(dict)
        self.own_phone: dict[int, float] = {}
        self.lost: set[int] = set()  # clients whose connection dropped during the run
        # A logical client's connections (one per server) stay in one process, side by side.
        share = -(-len(plans) // processes)
        share += share % len(TARGETS)
        self.processes = [
            context.Process(target=run_clients, daemon=True,
                            args=(first, plans[first:first + share], self.reports, self.stop))
            for first in range(0, len(plans), share)]
        for process in self.processes:
            process.start()

    def wait_ready(self) -> tuple[dict[tuple[str, str], int], list[str]]:
        """Wait for every client process to connect its clients; connected per (target,
        kind), failures."""
        connected: dict[tuple[str, str], int] = defaultdict(int)
        failures: list[str] = []
        ready = 0
        while ready < len(self.processes):
            report = self.reports.get(timeout=CONNECT_PHASE_TIMEOUT)
            if report[0] == "lost":
                self.lost.add(report[1])
                continue
            ready += 1
            for key, count in report[1].items():
                connected[key] += count
            failures += report[2]
        return dict(connected), failures

    def lost_on(self, target: str) -> int:
        """How many of `target`'s connections dropped so far."""
        return sum(self.plans[client_id].target == target for client_id in self.lost)

    def wait_for(self, step_id: int, target: str, expected: int, timeout: float) -> None:
        """File reports until `expected` clients of `target` (less those lost) heard
        `step_id`, or `timeout` passed."""
        deadline = time.monotonic() + timeout
        while len(self.arrivals[step_id]) < expected - self.lost_on(target):
            try:
                report = self.reports.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return
            if report[0] == "lost":
                self.lost.add(report[1])
                continue
            for client_id, step, own, arrived in report[1]:
                self.arrivals[step].setdefault(client_id, arrived)
                if own:
                    self.own_phone.setdefault(step, arrived)

    def close(self) -> None:
        """Tell the clients to disconnect and exit; kill those that do not in time."""
        self.stop.set()
        for process in self.processes:
            process.join(timeout=STOP_TIMEOUT)
            if process.is_alive():
                process.kill()
                process.join()
        self.reports.cancel_join_thread()


# Measuring ----------------------------------------------------------------------------

def quantiles(seconds: list[float]) -> tuple[float, float] | None:
    """p50 and p99 of durations in milliseconds, interpolated between neighbours; None for
    fewer than two."""
    if len(seconds) < 2:
        return None
    cuts = statistics.quantiles(seconds, n=100, method="inclusive")
    return 1000 * cuts[49], 1000 * cuts[98]


def p50_p99(seconds: list[float]) -> str:
    """'p50 / p99' of durations, in milliseconds."""
    cuts = quantiles(seconds)
    return "too few" if cuts is None else f"{cuts[0]:.0f} / {cuts[1]:.0f}"


def bare_payload(step_id: int, number: str, counter_id: int) -> dict:
    """What the bare server is asked to emit: shaped and sized as the app's 'called'
    (tessera.queue.calling.call_announcement)."""
    desk = counter_id % DESKS + 1
    return {"ticket": number, "language": "el", "step_id": step_id, "service_id": 1,
            "counter": {"id": counter_id, "key": f"desk-{desk}",
                        "name": {"el": f"Γραφείο {desk}", "en": f"Desk {desk}"}, "zone": None},
            "recall": 0, "at": dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat() + "Z"}


@dataclass
class Calls:
    """The calls made to one server: when each left (by step id) and its response times."""

    sent: dict[int, float]
    responses: list[float]


def call_and_listen(webs: dict[str, list[WebProcess]], world: World, fleet: ClientFleet,
                    options: argparse.Namespace, expected: dict[str, int]) -> dict[str, Calls]:
    """Call each server in turn, alternating which goes first; the calls made to each."""
    headers = {"Authorization": f"Bearer {world.token}"}
    calls = {target: Calls({}, []) for target in TARGETS}
    with requests.Session() as http:
        for index in range(options.warmup + options.calls):
            counter_id = world.counter_ids[index % len(world.counter_ids)]
            for target in (TARGETS if index % 2 == 0 else TARGETS[::-1]):
                web = webs[target][index % len(webs[target])]
                desk = f"{web.url}/api/v1/counters/{counter_id}"
                if target == TESSERA:
                    sent_at = time.time()  # the clock starts as the request leaves
                    response = http.post(f"{desk}/call-next", headers=headers, timeout=30)
                else:
                    # Negative ids never meet the app's steps; the phones are called in
                    # the order the app calls them (oldest first).
                    number, token = world.tickets[index]
                    body = {"rooms": [f"site:{SITE_ID}", f"ticket:{token}"],
                            "payload": bare_payload(-1 - index, number, counter_id)}
                    sent_at = time.time()
                    response = http.post(f"{web.url}/call", json=body, timeout=30)
                answered = time.time() - sent_at
                response.raise_for_status()
                step_id = response.json()["step"]["id"]
                if index >= options.warmup:
                    calls[target].responses.append(answered)
                    calls[target].sent[step_id] = sent_at
                fleet.wait_for(step_id, target, expected[target], options.event_timeout)
                if target == TESSERA:
                    http.post(f"{desk}/no-show", headers=headers, timeout=30).raise_for_status()
                time.sleep(options.gap)
    # Arrivals of earlier calls that came late are filed while later calls wait; give the
    # last call's stragglers as long (step 0 never exists, so this waits the full time).
    fleet.wait_for(0, TESSERA, expected[TESSERA], options.event_timeout)
    return calls


def figures(target: str, calls: Calls, fleet: ClientFleet, expected: int,
            connected: dict[tuple[str, str], int], webs: list[WebProcess],
            memory_before: list[tuple[float, int]],
            memory_connected: list[tuple[float, int]]) -> dict:
    """One server's cells of the table (and the raw quantiles the ratios need)."""
    latencies: dict[str, list[float]] = defaultdict(list)
    for step_id, sent_at in calls.sent.items():
        for client_id, arrived in fleet.arrivals[step_id].items():
            latencies[fleet.plans[client_id].kind].append(arrived - sent_at)
    own = [fleet.own_phone[step] - sent for step, sent in calls.sent.items()
           if step in fleet.own_phone]
    received = sum(len(fleet.arrivals[step]) for step in calls.sent)
    held = [sum(plan.port == web.port for plan in fleet.plans) for web in webs]
    per_client = [1024 * (after[0] - before[0]) / count if count else 0.0
                  for before, after, count in zip(memory_before, memory_connected, held,
                                                  strict=True)]
    return {
        "connected": f"{connected.get((target, 'display'), 0)} / "
                     f"{connected.get((target, 'mobile'), 0)}",
        "display": quantiles(latencies["display"]),
        "own": quantiles(own),
        "response": quantiles(calls.responses),
        "missed": f"{expected * len(calls.sent) - received} of {expected * len(calls.sent)}",
        "all_received": received == expected * len(calls.sent),
        "lost": fleet.lost_on(target),
        "rss_before": " + ".join(f"{rss:.0f}" for rss, _threads in memory_before),
        "rss_connected": " + ".join(f"{rss:.0f}" for rss, _threads in memory_connected),
        "per_client": statistics.fmean(per_client),
        "per_client_text": " + ".join(f"{kib:.0f}" for kib in per_client),
        "threads_connected": " + ".join(str(count) for _rss, count in memory_connected),
    }


def measure(web_processes: int, options: argparse.Namespace, directory: Path) -> dict:
    """One configuration end to end: the figures of each server, by target."""
    progress(f"{web_processes} web process(es) per server: building the world")
    world = build_world(directory, options.mobiles, options.redis_url)
    # gthread holds one thread per open websocket: the Procfile's threads stay for HTTP.
    threads = HTTP_THREADS + -(-(options.displays + options.mobiles) // web_processes)
    webs: dict[str, list[WebProcess]] = {target: [] for target in TARGETS}
    fleet = None
    try:
        for target in TARGETS:
            webs[target] = [start_server(target, world, directory, threads)
                            for _ in range(web_processes)]
        memory_before = {target: [web.memory() for web in webs[target]] for target in TARGETS}
        # Each client's connection to each server, side by side, so that a client process
        # holds both of them and both servers see the same clients.
        plans = [ClientPlan("display", target, webs[target][index % web_processes].port,
                            (f"site:{SITE_ID}",))
                 for index in range(options.displays) for target in TARGETS]
        plans += [ClientPlan("mobile", target, webs[target][index % web_processes].port,
                             (f"ticket:{token}",), number)
                  for index, (number, token) in enumerate(world.tickets) for target in TARGETS]
        progress(f"connecting {len(plans)} connections ({len(plans) // 2} clients, one to "
                 f"each server; {threads} threads per web process) from "
                 f"{options.client_processes} client process(es)")
        fleet = ClientFleet(plans, options.client_processes)
        connected, failures = fleet.wait_ready()
        progress(f"connected {connected}, {len(failures)} failed {failures[:3]}")
        time.sleep(2)  # let the handshakes' garbage be collected before reading memory
        memory_connected = {target: [web.memory() for web in webs[target]]
                            for target in TARGETS}
        progress(f"{options.calls} calls to each server")
        # Each call reaches every display and one phone, the called ticket's.
        expected = {target: connected.get((target, "display"), 0) + 1 for target in TARGETS}
        calls = call_and_listen(webs, world, fleet, options, expected)
        return {target: figures(target, calls[target], fleet, expected[target], connected,
                                webs[target], memory_before[target], memory_connected[target])
                for target in TARGETS}
    finally:
        if fleet is not None:
            fleet.close()
        for web in (web for target in TARGETS for web in webs[target]):
            web.stop()
        flush_redis(options.redis_url)


def latency_cell(cuts: tuple[float, float] | None) -> str:
    """'p50 / p99' in milliseconds, or 'too few'."""
    return "too few" if cuts is None else f"{cuts[0]:.0f} / {cuts[1]:.0f}"


def ratio_cell(tessera: tuple[float, float] | None, bare: tuple[float, float] | None) -> str:
    """Tessera ÷ bare at p50 and p99."""
    if tessera is None or bare is None or not bare[0] or not bare[1]:
        return "-"
    return f"{tessera[0] / bare[0]:.2f} / {tessera[1] / bare[1]:.2f}"


# (label, key, how a cell is written, whether the row has a Tessera ÷ bare ratio)
ROWS = [
    ("displays / mobile tickets connected", "connected", str, False),
    ("call → 'called' on displays, p50 / p99 (ms)", "display", latency_cell, True),
    ("call → 'called' on the called ticket's phone, p50 / p99 (ms)", "own", latency_cell,
     True),
    ("call HTTP response, p50 / p99 (ms)", "response", latency_cell, True),
    ("'called' events missed", "missed", str, False),
    ("clients whose connection dropped during the calls", "lost", str, False),
    ("RSS per web process, no clients (MiB)", "rss_before", str, False),
    ("RSS per web process, all clients connected (MiB)", "rss_connected", str, False),
    ("web memory per connected client (KiB)", "per_client_text", str, False),
    ("threads per web process, all clients connected", "threads_connected", str, False),
]


def markdown_table(results: dict[int, dict]) -> str:
    """The results as a Markdown table: per number of web processes, Tessera, the bare
    server, and Tessera ÷ bare (at p50 / p99 for latencies)."""
    header = [""]
    for count in results:
        processes = f"{count} web process{'es' if count > 1 else ''}"
        header += [f"Tessera, {processes}", f"bare server, {processes}", "Tessera ÷ bare"]
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    for label, key, cell, has_ratio in ROWS:
        cells = [label]
        for result in results.values():
            tessera, bare = result[TESSERA], result[BARE]
            if key == "per_client_text":
                ratio = (f"{tessera['per_client'] / bare['per_client']:.2f}"
                         if bare["per_client"] > 0 else "-")
            else:
                ratio = ratio_cell(tessera[key], bare[key]) if has_ratio else ""
            cells += [cell(tessera[key]), cell(bare[key]), ratio]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(arguments: list[str] | None = None) -> int:
    """Measure each configuration and print the table; 1 if any client missed a call."""
    parser = argparse.ArgumentParser(prog="python -m bench.realtime",
                                     description=__doc__.split("\n", 1)[0])
    parser.add_argument("--displays", type=int, default=200)
    parser.add_argument("--mobiles", type=int, default=1000,
                        help="mobile-ticket clients, each with a waiting ticket of its own")
    parser.add_argument("--calls", type=int, default=40, help="calls to each server")
    parser.add_argument("--warmup", type=int, default=1,
                        help="calls to each server before those measured")
    parser.add_argument("--web-processes", type=int, nargs="+", default=[1, 2],
                        help="web processes per server, one configuration each")
    parser.add_argument("--client-processes", type=int, default=1,
                        help="asyncio processes the clients are spread over")
    parser.add_argument("--redis-url", default=REDIS_URL,
                        help="the Redis database the run flushes and uses")
    parser.add_argument("--event-timeout", type=float, default=10.0,
                        help="seconds to wait for a call to reach every client")
    parser.add_argument("--gap", type=float, default=3.0,
                        help="seconds after a call (and a Tessera desk freed) before the "
                             "next, so each call meets a settled hall (the no-show's "
                             "events reach every client too)")
    options = parser.parse_args(arguments)
    if options.warmup + options.calls > options.mobiles:
        parser.error("each call takes a waiting ticket: --warmup plus --calls cannot exceed "
                     "--mobiles")
    raise_open_files_limit()
    # SIGTERM ends the run through the `finally` blocks that stop every child process.
    previous = signal.signal(signal.SIGTERM, lambda _signal, _frame: sys.exit(143))
    try:
        results = {}
        for count in options.web_processes:
            with tempfile.TemporaryDirectory(prefix="tessera-realtime-") as directory:
                results[count] = measure(count, options, Path(directory))
    finally:
        signal.signal(signal.SIGTERM, previous)
    print(markdown_table(results))
    return 1 if any(not result[target]["all_received"] for result in results.values()
                    for target in TARGETS) else 0


if __name__ == "__main__":
    sys.exit(main())
