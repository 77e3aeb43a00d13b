"""Real time, measured: from a counter's call-next request to the 'called' event on every client.

    python -m bench.realtime [--displays 200] [--mobiles 1000] [--calls 40] [--web-processes 1 2]

For each number of web processes: a fresh world (a migrated SQLite file in a
temporary directory, Redis db 11 flushed before and after, a hall with four
desks opened by a manager with a bearer token, one waiting ticket per mobile
client); the web processes, started with the Procfile's `web:` command on
free ports and one Redis message queue, with `--threads` raised by one per
client each will hold (gunicorn's gthread worker ties a thread to every open
websocket); then spawned client processes running python-socketio clients
over the websocket transport, joining the rooms the real pages join: a
display `site:<site>` (display/static/hall.js), a mobile ticket only
`ticket:<token>` (display/static/mobile-ticket.js), so each call reaches every
display and the called ticket's phone, while the other phones stay connected. With two
web processes the clients alternate between them. RSS is read before the
clients connect and with all of them connected. Then `--calls` sequential
POST /api/v1/counters/<id>/call-next, round robin over desks and web
processes: latency runs from sending the request to each client's first
'called' event for that step (time.time() on both sides: one machine, one
clock). Once every client has it, or `--event-timeout` passed, the desk is
freed with a no-show, which no latency includes.

The printed table is Markdown. Exit status 1 if any client missed a call.
It is one file of about 500 lines on purpose: a benchmark is read and run as a whole,
its client processes included.
"""

import argparse
import contextlib
import logging
import multiprocessing
import os
import queue
import re
import secrets
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
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
# Tests use db 15 and bench.call_next db 13; this benchmark flushes db 11 only.
REDIS_URL = "redis://127.0.0.1:6379/11"
# Pub/sub channels ignore the db number: a channel of its own keeps other web processes out.
SOCKETIO_CHANNEL = "tessera-bench-realtime"
NAMESPACE = "/live"
SITE_ID = "hall"
DESKS = 4
HTTP_THREADS = 100
CONNECT_TIMEOUT = 30.0
CONNECT_PHASE_TIMEOUT = 600.0
STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0
# A client process exits by itself after this long, should the coordinator die without telling it.
CLIENT_LIFETIME = 3600.0


def progress(message: str) -> None:
    """A progress line on stderr, so stdout carries only the table."""
    print(f"{time.strftime('%H:%M:%S')}  {message}", file=sys.stderr, flush=True)


# The world: SQL, Redis, a site, a bearer token, waiting tickets -------------------------

def site_document() -> dict:
    """A hall with two services and DESKS desks that serve both."""
    texts = {language: {"name": "Registration", "description": "Registration", "bring": "ID"}
             for language in ("el", "en")}
    services = {key: {"organisation": "municipality", "prefix": prefix, "target_wait": 30,
                      "mean_handling": 10, "position": position, "text": texts}
                for position, (key, prefix) in enumerate([("registration", "A"),
                                                          ("certificates", "B")], start=1)}
    desks = {f"desk-{number}": {"name": {"el": f"Γραφείο {number}", "en": f"Desk {number}"},
                                "services": list(services), "languages": ["el", "en"]}
             for number in range(1, DESKS + 1)}
    return {"id": SITE_ID, "name": {"el": "Αίθουσα", "en": "Hall"},
            "timezone": "Europe/Athens", "language": "el", "languages": ["el", "en"],
            "recall_limit": 2, "services": services, "counters": desks,
            "organisations": {"municipality": {"name": {"el": "Δήμος", "en": "Municipality"}}}}


@dataclass(frozen=True)
class World:
    """What a run needs to know of the world it built."""

    database_url: str
    token: str
    counter_ids: tuple[int, ...]
    tickets: tuple[tuple[str, str], ...]  # (number, token) of each waiting ticket


def build_world(directory: Path, tickets: int) -> World:
    """Migrate a fresh SQLite file, flush db 11, load the site, open the desks, issue tickets."""
    database_url = f"sqlite:///{directory / 'tessera.sqlite3'}"
    upgrade(database_url)
    flush_redis()
    stores = Stores.connect(database_url, REDIS_URL)
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
    return World(database_url, token, counter_ids,
                 tuple((ticket.number, ticket.token) for ticket in issued))


def flush_redis() -> None:
    """Empty the benchmark's Redis database (db 11 only)."""
    with contextlib.closing(redis.Redis.from_url(REDIS_URL)) as client:
        client.flushdb()


# Web processes ------------------------------------------------------------------------

def procfile_web_command(port: int, threads: int) -> list[str]:
    """The Procfile's `web:` command on `port`, with `threads` gthread threads.

    Read from the Procfile rather than copied, so the benchmark runs what
    production runs; ${NAME:-default} is expanded as the shell would.
    """
    line = next(line for line in (ROOT / "Procfile").read_text().splitlines()
                if line.startswith("web:"))
    values = {"HOST": HOST, "PORT": str(port)}
    words = [re.sub(r"\$\{(\w+):-([^}]*)\}", lambda match: values.get(match[1], match[2]), word)
             for word in shlex.split(line.removeprefix("web:"))]
    words[0] = str(Path(sys.executable).with_name(words[0]))  # the virtualenv's gunicorn
    words[words.index("--threads") + 1] = str(threads)
    # gthread stops accepting connections past worker_connections (default 1000).
    return [*words, "--worker-connections", str(threads + HTTP_THREADS)]


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


def start_web_process(world: World, directory: Path, threads: int) -> WebProcess:
    """Start one web process on a free port; return once /healthz answers 200."""
    with socket.socket() as probe:  # a port nobody listens on at the moment
        probe.bind((HOST, 0))
        port = probe.getsockname()[1]
    environment = dict(os.environ, DATABASE_URL=world.database_url, REDIS_URL=REDIS_URL,
                       SOCKETIO_CHANNEL=SOCKETIO_CHANNEL, HOST=HOST, PORT=str(port),
                       SECRET_KEY=secrets.token_hex(32), TESSERA_INSTANCE=str(directory))
    log_path = directory / f"web-{port}.log"
    with log_path.open("wb") as log:
        # A session of its own, so stop() can kill the worker together with the master.
        process = subprocess.Popen(procfile_web_command(port, threads), cwd=ROOT,
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


# Client processes ---------------------------------------------------------------------

@dataclass(frozen=True)
class ClientPlan:
    """One Socket.IO client: its kind, the web process it uses, the rooms it joins."""

    kind: str  # "display" or "mobile"
    port: int
    rooms: tuple[str, ...]
    ticket: str | None = None  # a mobile client's own ticket number


def run_clients(first_id: int, plans: list[ClientPlan], reports, stop) -> None:
    """A client process: connect and join every planned client, then report each 'called'.

    Reports on `reports`: ("ready", connected per kind, failure messages) once;
    then ("called", client id, step id, whether it is the client's own ticket,
    arrival time) per event, and ("lost", client id) for a connection lost
    before `stop`.
    """
    # A dropped connection is counted in the table; the client library's log of it is noise.
    logging.getLogger("engineio.client").setLevel(logging.CRITICAL)
    clients: list[socketio.Client] = []
    connected: dict[str, int] = defaultdict(int)
    failures: list[str] = []
    lock = threading.Lock()

    def connect(client_id: int, plan: ClientPlan) -> None:
        # No reconnection: a lost connection must show as missed calls, not be papered over.
        client = socketio.Client(reconnection=False)

        def on_called(data: dict) -> None:
            arrived = time.time()  # first, so nothing below is timed
            reports.put(("called", client_id, data["step_id"], data["ticket"] == plan.ticket,
                         arrived))

        def on_disconnect(*_reason) -> None:
            if not stop.is_set():
                reports.put(("lost", client_id))

        client.on("called", on_called, namespace=NAMESPACE)
        client.on("disconnect", on_disconnect, namespace=NAMESPACE)
        try:
            client.connect(f"http://{HOST}:{plan.port}", namespaces=[NAMESPACE],
                           transports=["websocket"], wait_timeout=CONNECT_TIMEOUT)
            with lock:
                clients.append(client)
            for room in plan.rooms:
                answer = client.call("join", {"room": room}, namespace=NAMESPACE,
                                     timeout=CONNECT_TIMEOUT)
                if answer != {"ok": True}:
                    raise RuntimeError(f"join {room!r} answered {answer!r}")
        except Exception as error:  # counted and reported; the run goes on without it
            with lock:
                failures.append(f"{plan.kind} on port {plan.port}: {error!r}")
            return
        with lock:
            connected[plan.kind] += 1

    # A few connections at a time, as a hall's screens and phones would arrive.
    with ThreadPoolExecutor(8) as pool:
        for offset, plan in enumerate(plans):
            pool.submit(connect, first_id + offset, plan)
    reports.put(("ready", dict(connected), failures))
    stop.wait(CLIENT_LIFETIME)
    with ThreadPoolExecutor(8) as pool:
        for client in clients:
            pool.submit(client.disconnect)
    reports.close()
    reports.join_thread()
    os._exit(0)  # client threads stuck on a dead server must not keep the process alive


class ClientFleet:
    """The client processes of one run, and the arrivals of 'called' events they report."""

    def __init__(self, plans: list[ClientPlan], processes: int):
        # Spawn, not fork: children must not inherit this process's sockets and pools.
        context = multiprocessing.get_context("spawn")
        self.reports = context.Queue()
        self.stop = context.Event()
        # step id -> client id -> first arrival time; and the called ticket's own phone.
        self.arrivals: dict[int, dict[int, float]] = defaultdict(dict)
        self.own_phone: dict[int, float] = {}
        self.lost: set[int] = set()  # clients whose connection dropped during the run
        share = -(-len(plans) // processes)
        self.processes = [
            context.Process(target=run_clients, daemon=True,
                            args=(first, plans[first:first + share], self.reports, self.stop))
            for first in range(0, len(plans), share)]
        for process in self.processes:
            process.start()

    def wait_ready(self) -> tuple[dict[str, int], list[str]]:
        """Wait for every client process to connect its clients; connected per kind, failures."""
        connected: dict[str, int] = defaultdict(int)
        failures: list[str] = []
        for _ in self.processes:
            report = self.reports.get(timeout=CONNECT_PHASE_TIMEOUT)
            for kind, count in report[1].items():
                connected[kind] += count
            failures += report[2]
        return dict(connected), failures

    def wait_for(self, step_id: int, expected: int, timeout: float) -> None:
        """File reports until `expected` clients (less those lost) heard `step_id`, or `timeout`."""
        deadline = time.monotonic() + timeout
        while len(self.arrivals[step_id]) < expected - len(self.lost):
            try:
                report = self.reports.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return
            if report[0] == "lost":
                self.lost.add(report[1])
                continue
            _kind, client_id, step, own, arrived = report
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

def p50_p99(seconds: list[float]) -> str:
    """'p50 / p99' of durations, in milliseconds, interpolated between neighbours."""
    if len(seconds) < 2:
        return "too few"
    cuts = statistics.quantiles(seconds, n=100, method="inclusive")
    return f"{1000 * cuts[49]:.0f} / {1000 * cuts[98]:.0f}"


def call_and_listen(webs: list[WebProcess], world: World, fleet: ClientFleet,
                    options: argparse.Namespace, expected: int) -> tuple[dict, list]:
    """Call at the desks in turn; when each call-next left (by step id) and its response times."""
    headers = {"Authorization": f"Bearer {world.token}"}
    sent: dict[int, float] = {}
    responses: list[float] = []
    with requests.Session() as http:
        for index in range(options.calls):
            desk = (f"{webs[index % len(webs)].url}/api/v1/counters/"
                    f"{world.counter_ids[index % len(world.counter_ids)]}")
            sent_at = time.time()  # the clock starts as the request leaves
            response = http.post(f"{desk}/call-next", headers=headers, timeout=30)
            responses.append(time.time() - sent_at)
            response.raise_for_status()
            step_id = response.json()["step"]["id"]
            sent[step_id] = sent_at
            fleet.wait_for(step_id, expected, options.event_timeout)
            http.post(f"{desk}/no-show", headers=headers, timeout=30).raise_for_status()
            time.sleep(options.gap)
    # Arrivals of earlier calls that came late are filed while later calls wait; give the
    # last call's stragglers as long (step 0 never exists, so this waits the full time).
    fleet.wait_for(0, expected, options.event_timeout)
    return sent, responses


def measure(web_processes: int, options: argparse.Namespace, directory: Path) -> dict:
    """One configuration end to end; the cells of its column in the table."""
    progress(f"{web_processes} web process(es): building the world")
    world = build_world(directory, options.mobiles)
    # gthread holds one thread per open websocket: the Procfile's threads stay for HTTP.
    threads = HTTP_THREADS + -(-(options.displays + options.mobiles) // web_processes)
    webs: list[WebProcess] = []
    fleet = None
    try:
        webs = [start_web_process(world, directory, threads) for _ in range(web_processes)]
        ports = [web.port for web in webs]
        memory_before = [web.memory() for web in webs]
        plans = [ClientPlan("display", ports[index % len(ports)], (f"site:{SITE_ID}",))
                 for index in range(options.displays)]
        plans += [ClientPlan("mobile", ports[index % len(ports)],
                             (f"ticket:{token}",), number)
                  for index, (number, token) in enumerate(world.tickets)]
        progress(f"connecting {len(plans)} clients ({threads} threads per web process)")
        fleet = ClientFleet(plans, options.client_processes)
        connected, failures = fleet.wait_ready()
        progress(f"connected {connected}, {len(failures)} failed {failures[:3]}")
        time.sleep(2)  # let the handshakes' garbage be collected before reading memory
        memory_connected = [web.memory() for web in webs]
        progress(f"{options.calls} calls")
        # Each call reaches every display and one phone, the called ticket's.
        expected = connected.get("display", 0) + 1
        sent, responses = call_and_listen(webs, world, fleet, options, expected)
        latencies: dict[str, list[float]] = defaultdict(list)
        for step_id, sent_at in sent.items():
            for client_id, arrived in fleet.arrivals[step_id].items():
                latencies[plans[client_id].kind].append(arrived - sent_at)
        received = sum(len(fleet.arrivals[step]) for step in sent)
        held = [sum(plan.port == port for plan in plans) for port in ports]
        return {
            "connected": f"{connected.get('display', 0)} / {connected.get('mobile', 0)}",
            "display": p50_p99(latencies["display"]),
            "own": p50_p99([fleet.own_phone[step] - sent[step]
                            for step in sent if step in fleet.own_phone]),
            "response": p50_p99(responses),
            "missed": f"{expected * len(sent) - received} of {expected * len(sent)}",
            "lost": len(fleet.lost),
            "rss_before": " + ".join(f"{rss:.0f}" for rss, _threads in memory_before),
            "rss_connected": " + ".join(f"{rss:.0f}" for rss, _threads in memory_connected),
            "per_client": " + ".join(f"{1024 * (after[0] - before[0]) / count:.0f}"
                                     for before, after, count
                                     in zip(memory_before, memory_connected, held, strict=True)),
            "threads_connected": " + ".join(str(count) for _rss, count in memory_connected),
        }
    finally:
        if fleet is not None:
            fleet.close()
        for web in webs:
            web.stop()
        flush_redis()


ROWS = [
    ("displays / mobile tickets connected", "connected"),
    ("call-next → 'called' on displays, p50 / p99 (ms)", "display"),
    ("call-next → 'called' on the called ticket's phone, p50 / p99 (ms)", "own"),
    ("call-next HTTP response, p50 / p99 (ms)", "response"),
    ("'called' events missed", "missed"),
    ("clients whose connection dropped during the calls", "lost"),
    ("RSS per web process, no clients (MiB)", "rss_before"),
    ("RSS per web process, all clients connected (MiB)", "rss_connected"),
    ("RSS per connected client (KiB)", "per_client"),
    ("threads per web process, all clients connected", "threads_connected"),
]


def markdown_table(results: dict[int, dict]) -> str:
    """The results as a Markdown table, one column per number of web processes."""
    header = [""] + [f"{count} web process{'es' if count > 1 else ''}" for count in results]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for label, key in ROWS:
        lines.append("| " + " | ".join([label, *(str(result[key])
                                                  for result in results.values())]) + " |")
    return "\n".join(lines)


def main(arguments: list[str] | None = None) -> int:
    """Measure each configuration and print the table; 1 if any client missed a call."""
    parser = argparse.ArgumentParser(prog="python -m bench.realtime",
                                     description=__doc__.split("\n", 1)[0])
    parser.add_argument("--displays", type=int, default=200)
    parser.add_argument("--mobiles", type=int, default=1000,
                        help="mobile-ticket clients, each with a waiting ticket of its own")
    parser.add_argument("--calls", type=int, default=40)
    parser.add_argument("--web-processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--client-processes", type=int, default=12,
                        help="processes the clients are spread over (100 each by default)")
    parser.add_argument("--event-timeout", type=float, default=10.0,
                        help="seconds to wait for a call to reach every client")
    parser.add_argument("--gap", type=float, default=3.0,
                        help="seconds after a desk is freed before the next call, so each call "
                             "meets a settled hall (the no-show's events reach every client too)")
    options = parser.parse_args(arguments)
    if options.calls > options.mobiles:
        parser.error("each call takes a waiting ticket: --calls cannot exceed --mobiles")
    # SIGTERM ends the run through the `finally` blocks that stop every child process.
    signal.signal(signal.SIGTERM, lambda _signal, _frame: sys.exit(143))
    results = {}
    for count in options.web_processes:
        with tempfile.TemporaryDirectory(prefix="tessera-realtime-") as directory:
            results[count] = measure(count, options, Path(directory))
    print(markdown_table(results))
    return 1 if any(not result["missed"].startswith("0 ") for result in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
