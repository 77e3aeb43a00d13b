"""Plain helpers and constants that several test modules share (fixtures are in conftest.py)."""

import json
import re
import socket
from pathlib import Path

from sqlalchemy import select

from tessera.database import Database
from tessera.migrate import upgrade
from tessera.models import Counter, Device, Event, Service, Staff
from tessera.sites.loader import DEMO_SITE, load_site, read_site_file

ROOT = Path(__file__).parent.parent
SITES = Path(__file__).parent / "sites"
SCREENSHOTS = ROOT / "docs" / "screenshots"
SERIOUS = ("serious", "critical")
PASSWORD = "correct horse battery"


def closed_port() -> int:
    """A local TCP port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# SQL ------------------------------------------------------------------------------

def migrated_sqlite(tmp_path_factory, name: str) -> str:
    """A fresh, migrated SQLite database, for modules that test pages rather than stores."""
    url = f"sqlite:///{tmp_path_factory.mktemp(name) / 'tessera.sqlite3'}"
    upgrade(url)
    return url


class SiteIds:
    """Looks up a loaded site's services and counters by key."""

    def __init__(self, database: Database, site_id: str):
        self.id = site_id
        with database.session() as session:
            self.services = {s.key: s.id for s in session.query(Service).filter_by(
                site_id=site_id)}
            self.counters = {c.key: c.id for c in session.query(Counter).filter_by(
                site_id=site_id)}


def load_small_site(database: Database) -> SiteIds:
    """Load the small test centre; gives its ids by key."""
    with database.session() as session:
        load_site(session, read_site_file(SITES / "small.yaml"))
    return SiteIds(database, "small")


def load_demo_site(database: Database) -> SiteIds:
    """Load the demo centre (appointments around the clock, nine languages); its ids by key."""
    with database.session() as session:
        load_site(session, read_site_file(DEMO_SITE))
    return SiteIds(database, "demo")


def set_printer(database, settings: dict) -> None:
    """Point the small centre's kiosk at another printer, in SQL, as an admin would."""
    with database.session() as session:
        kiosk = session.scalars(select(Device).where(Device.site_id == "small",
                                                     Device.key == "entrance")).one()
        kiosk.settings = {"printer": settings}


# Kiosks ---------------------------------------------------------------------------

def pair_kiosk(database, site_id: str, kiosk_key: str = "entrance") -> str:
    """Pair a kiosk as staff do (a one-time code, exchanged for a secret); its secret.

    Pairing again replaces the secret, so pair each kiosk once per test.
    """
    from tessera.clock import utc_now
    from tessera.devices.pairing import pair, start_pairing

    now = utc_now()
    with database.session() as session:
        code, _ = start_pairing(session, site_id, kiosk_key, now)
        return pair(session, site_id, kiosk_key, code, now)


def kiosk_headers(client, site_id: str, kiosk_key: str = "entrance") -> dict:
    """The headers a paired kiosk sends (X-Kiosk and its secret), pairing it on first use;
    the secret is kept on the test client, so later calls do not re-pair."""
    from tessera.stores import stores

    secrets = client.__dict__.setdefault("kiosk_secrets", {})
    if (site_id, kiosk_key) not in secrets:
        with client.application.app_context():
            secrets[site_id, kiosk_key] = pair_kiosk(stores().database, site_id, kiosk_key)
    return {"X-Kiosk": kiosk_key, "X-Kiosk-Secret": secrets[site_id, kiosk_key]}


def pair_client(client, site_id: str, kiosk_key: str = "entrance"):
    """Give a test client the kiosk's pairing cookie, as the pairing page sets it; the client."""
    from tessera.devices.pairing import SECRET_COOKIE

    client.set_cookie(SECRET_COOKIE, kiosk_headers(client, site_id, kiosk_key)["X-Kiosk-Secret"])
    return client


def pair_browser(page, live_server, site_id: str, kiosk_key: str = "entrance") -> None:
    """Give a browser page the kiosk's pairing cookie, as the pairing page would set it."""
    from tessera.devices.pairing import SECRET_COOKIE
    from tessera.stores import stores

    with live_server.app.app_context():
        secret = pair_kiosk(stores().database, site_id, kiosk_key)
    page.context.add_cookies([{"name": SECRET_COOKIE, "value": secret,
                               "url": live_server.url, "httpOnly": True,
                               "sameSite": "Strict"}])


# Pages ----------------------------------------------------------------------------

def sign_in(client, username, password=PASSWORD):
    """Sign in through the form, as a browser would; returns the response."""
    form = client.get("/login").text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form).group(1)
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": token})


def audit(page, axe_script) -> list[str]:
    """axe-core's serious and critical violations on the page, one line each."""
    # Evaluated, not added as an inline <script>, which the pages' CSP rightly refuses.
    page.evaluate(axe_script)
    result = page.evaluate("async () => JSON.stringify(await axe.run(document))")
    return [f"{v['id']} ({v['impact']}): {v['help']} — "
            f"{[node['target'] for node in v['nodes']][:3]}"
            for v in json.loads(result)["violations"] if v["impact"] in SERIOUS]


def keep_idle_away(page):
    """Keep the idle warning from covering the page while a test looks at it."""
    page.evaluate("setInterval(() => document.dispatchEvent(new Event('pointerdown')), 500)")


def sign_in_page(page, base_url, username, password=PASSWORD):
    """Sign in through the form in a browser page, as a member of staff does."""
    page.goto(f"{base_url}/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def read_pages_in(database, username: str, language: str) -> None:
    """Have a member of staff read the staff pages in `language` (tests that find text)."""
    with database.session() as session:
        session.scalars(select(Staff).where(Staff.username == username)).one() \
            .page_language = language


def post_form(client, path, data=None, csrf_from=None):
    """Post a form as its page would: with the CSRF token of the page at `csrf_from`
    (default: `path` itself)."""
    page = client.get(csrf_from or path).text
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    return client.post(path, data={"csrf_token": csrf, **(data or {})})


def signed_in(make_client, username: str):
    """A new test client signed in as `username`."""
    client = make_client()
    assert sign_in(client, username).status_code == 302
    return client


def audit_entries(database, *kinds: str) -> list[tuple[str, int | None, dict]]:
    """The audit entries of these kinds, oldest first, as (kind, actor id, data)."""
    with database.session() as session:
        return [(event.kind, event.staff_id, event.data) for event in session.scalars(
            select(Event).where(Event.kind.in_(kinds)).order_by(Event.id))]
