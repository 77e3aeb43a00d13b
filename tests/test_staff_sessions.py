"""Staff sessions and tokens: CSRF and bearer tokens, revocable sessions, the sign-in delay."""

import datetime as dt
import time

import pytest
from sqlalchemy import select

from tessera.models import Counter, CounterStatus, Staff, StaffSession
from tessera.staff.accounts import deactivate_staff, set_password
from tessera.staff.auth import issue_token
from tessera.stores import Stores

from .helpers import PASSWORD, sign_in
from .test_cli import environment, tessera  # noqa: F401 (a fixture, and the runner)


def token_for(database, staff_id, days=90, now=None) -> str:
    """A bearer token of this member of staff."""
    with database.session() as session:
        return issue_token(session, session.get(Staff, staff_id), "test", days, now)


def cookie_client(make_client, cookie: str):
    """Another browser holding a copy of this session cookie."""
    other = make_client()
    other.set_cookie("session", cookie)
    return other


# 12: a bearer token replaces CSRF only when it is valid ----------------------------

def test_a_wrong_bearer_token_does_not_skip_csrf_for_a_session(client, site, staff):
    assert sign_in(client, "maria").status_code == 302
    desk = site.counters["desk-1"]
    forged = client.post(f"/api/v1/counters/{desk}/open", json={},
                         headers={"Authorization": "Bearer nonsense"})
    assert forged.status_code == 401
    assert client.post(f"/api/v1/counters/{desk}/open", json={}).status_code == 400  # no CSRF


def test_a_valid_bearer_token_is_used_instead_of_the_session(client, site, staff, database,
                                                              clock):
    sign_in(client, "kostas")
    token = token_for(database, staff["maria"].id, now=clock())
    desk = site.counters["desk-1"]
    opened = client.post(f"/api/v1/counters/{desk}/open", json={},
                         headers={"Authorization": f"Bearer {token}"})
    assert opened.status_code == 200
    with database.session() as session:
        assert session.get(Counter, desk).staff_id == staff["maria"].id  # not kostas


# 13: sessions end on the server --------------------------------------------------

def test_a_session_cookie_no_longer_works_after_signing_out(client, make_client, staff):
    sign_in(client, "maria")
    cookie = client.get_cookie("session").value
    assert client.get("/counter").status_code == 200
    sign_out(client)
    stolen = cookie_client(make_client, cookie)
    assert stolen.get("/counter").status_code == 302  # to the sign-in page


def test_an_idle_session_ends_and_activity_keeps_it(client, staff, clock):
    sign_in(client, "maria")
    for _ in range(4):  # an hour and twenty minutes of work, a request every 20 minutes
        clock.advance(minutes=20)
        assert client.get("/counter").status_code == 200
    clock.advance(minutes=31)
    assert client.get("/counter").status_code == 302
    clock.advance(minutes=1)
    assert client.get("/counter").status_code == 302  # ended for good, not only idle


def test_a_session_ends_after_its_absolute_limit(make_client, staff, clock):
    client = make_client(STAFF_SESSION_HOURS=2)
    sign_in(client, "maria")
    for _ in range(6):
        clock.advance(minutes=20)
        assert client.get("/counter").status_code == 200
    clock.advance(minutes=1)
    assert client.get("/counter").status_code == 302


@pytest.mark.parametrize("change", ["password", "deactivation"])
def test_a_new_password_or_deactivation_ends_every_session_and_token(
        make_client, redis_client, staff, database, clock, change):
    browsers = [make_client(), make_client()]
    for browser in browsers:
        sign_in(browser, "maria")
    token = token_for(database, staff["maria"].id, now=clock())
    with database.session() as session:
        if change == "password":
            set_password(session, "maria", "another long password", clock())
        else:
            deactivate_staff(session, "maria", clock())
    for browser in browsers:
        assert browser.get("/counter").status_code == 302
    assert browsers[0].get("/api/v1/sites/small/stats/live", headers={
        "Authorization": f"Bearer {token}"}).status_code == 401


# 17: tokens expire and can be revoked -----------------------------------------------

def test_a_token_stops_working_when_it_expires(client, site, staff, database, clock):
    token = token_for(database, staff["kostas"].id, days=1, now=clock())
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/sites/small/stats/live", headers=headers).status_code == 200
    clock.advance(days=1)
    assert client.get("/api/v1/sites/small/stats/live", headers=headers).status_code == 401


def test_tokens_issue_list_revoke_and_deactivate_on_the_command_line(
        environment, redis_client):  # noqa: F811
    assert tessera(environment, "migrate").returncode == 0
    assert tessera(environment, "load-site", "--demo").returncode == 0
    created = tessera(environment, "create-staff", "--site", "demo", "--username", "maria",
                      "--name", "Maria", "--role", "manager")
    assert created.returncode == 0, created.stderr

    issued = tessera(environment, "tokens", "issue", "maria", "--label", "desk 4", "--days", "7")
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.strip().splitlines()[-1]
    assert len(token) >= 40
    listed = tessera(environment, "tokens", "list")
    assert "maria" in listed.stdout and "desk 4" in listed.stdout and "active" in listed.stdout
    assert token not in listed.stdout
    token_id = listed.stdout.splitlines()[1].split()[0]

    revoked = tessera(environment, "tokens", "revoke", token_id)
    assert revoked.returncode == 0 and "revoked" in tessera(environment, "tokens",
                                                            "list").stdout
    assert tessera(environment, "tokens", "revoke", "999").returncode == 1
    assert tessera(environment, "tokens", "issue", "nobody").returncode == 1

    tessera(environment, "tokens", "issue", "maria")
    new_password = tessera(environment, "set-password", "maria", "--password-stdin",
                           stdin="a long enough secret\n")
    assert new_password.returncode == 0, new_password.stderr
    assert tessera(environment, "tokens", "list").stdout.count("revoked") == 2
    tessera(environment, "tokens", "issue", "maria")
    stores = Stores.connect(environment["DATABASE_URL"], environment["REDIS_URL"])
    with stores.database.session() as session:
        maria = session.scalars(select(Staff).where(Staff.username == "maria")).one()
        desk = session.scalars(select(Counter.id).where(Counter.site_id == "demo")).first()
    stores.engine.open_counter(desk, maria.id)
    deactivated = tessera(environment, "deactivate-staff", "maria")
    assert deactivated.returncode == 0 and "1 tokens revoked" in deactivated.stdout
    with stores.database.session() as session:
        assert session.get(Counter, desk).status == CounterStatus.CLOSED
    stores.database.engine.dispose()
    assert tessera(environment, "tokens", "issue", "maria").returncode == 1
    assert tessera(environment, "deactivate-staff", "nobody").returncode == 1


# 16: a growing delay per account, not a lockout -------------------------------------

def attempt(client, password, address="10.0.0.1"):
    """One sign-in to maria's account from `address`."""
    client.environ_base["REMOTE_ADDR"] = address
    return sign_in(client, "maria", password)


def test_failed_sign_ins_to_an_account_make_it_wait_longer_each_time(make_client, staff,
                                                                      clock):
    client = make_client(LOGIN_FAILURES_BEFORE_DELAY=3, LOGIN_DELAY_MAX_SECONDS=4)
    for _ in range(2):
        assert attempt(client, "wrong").status_code == 401
    assert attempt(client, "wrong").status_code == 401  # the third: a delay starts (1 s)
    waiting = attempt(client, PASSWORD)
    assert waiting.status_code == 429 and "Try again in 1 second." in waiting.text
    clock.advance(seconds=1)
    assert attempt(client, "wrong").status_code == 401  # now 2 s
    assert "Try again in 2 seconds." in attempt(client, "wrong").text
    clock.advance(seconds=2)
    attempt(client, "wrong")  # 4 s
    clock.advance(seconds=4)
    attempt(client, "wrong")  # still 4 s: the most
    assert "Try again in 4 seconds." in attempt(client, "wrong").text
    clock.advance(seconds=4)
    assert attempt(client, PASSWORD).status_code == 302  # the right one, after the wait


def test_the_owner_signs_in_from_an_address_that_has_not_failed(make_client, staff, clock):
    attacker = make_client(LOGIN_FAILURES_BEFORE_DELAY=2)
    for _ in range(4):
        attempt(attacker, "guess", address="203.0.113.9")
    assert attempt(attacker, PASSWORD, address="203.0.113.9").status_code == 429
    owner = make_client(LOGIN_FAILURES_BEFORE_DELAY=2)
    assert attempt(owner, PASSWORD, address="10.0.0.7").status_code == 302
    # Success cleared the failures: the other address is no longer delayed either.
    assert attempt(attacker, "guess", address="203.0.113.9").status_code == 401


# 13: Socket.IO and sessions ---------------------------------------------------------

def staff_socket(live_server, username):
    """A signed-in browser (test client) and a Socket.IO client with its session cookie."""
    import socketio

    browser = live_server.app.test_client()
    sign_in(browser, username)
    cookie = browser.get_cookie("session").value
    client = socketio.Client(reconnection=False)
    client.connect(live_server.url, namespaces=["/live"], transports=["websocket"],
                   headers={"Cookie": f"session={cookie}"}, wait_timeout=10)
    return browser, cookie, client


def sign_out(browser):
    """Sign out through the page's form."""
    page = browser.get("/counter").text
    csrf_token = page.split('name="csrf_token" value="')[1].split('"')[0]
    assert browser.post("/logout", data={"csrf_token": csrf_token}).status_code == 302


def session_row(database, staff_id) -> StaffSession:
    """The member of staff's newest session."""
    with database.session() as session:
        return session.scalars(select(StaffSession).where(StaffSession.staff_id == staff_id)
                               .order_by(StaffSession.id.desc())).first()


def test_an_ended_session_loses_its_socket_and_its_staff_rooms(live_server, site, staff):
    import socketio

    desk = site.counters["desk-1"]
    live_server.engine.open_counter(desk, staff["maria"].id)
    browser, cookie, client = staff_socket(live_server, "maria")
    try:
        assert client.call("join", {"room": f"counter:{desk}"}, namespace="/live",
                           timeout=10) == {"ok": True}
        sign_out(browser)
        client.emit("heartbeat", {}, namespace="/live")
        for _ in range(50):  # the server drops the connection
            if not client.connected:
                break
            time.sleep(0.1)
        assert not client.connected
    finally:
        client.disconnect()
    # With the ended session's cookie a page connects as anyone does, to public rooms only.
    again = socketio.Client(reconnection=False)
    again.connect(live_server.url, namespaces=["/live"], transports=["websocket"],
                  headers={"Cookie": f"session={cookie}"}, wait_timeout=10)
    try:
        assert not again.call("join", {"room": f"counter:{desk}"}, namespace="/live",
                              timeout=10)["ok"]
        assert not again.call("join", {"room": "staff:small"}, namespace="/live",
                              timeout=10)["ok"]
        assert again.call("join", {"room": "site:small"}, namespace="/live",
                          timeout=10)["ok"]
    finally:
        again.disconnect()


def test_a_desk_workstation_heartbeat_keeps_the_session_and_other_pages_do_not(
        live_server, site, staff, database):
    desk = site.counters["desk-1"]
    live_server.engine.open_counter(desk, staff["maria"].id)
    _, _, workstation = staff_socket(live_server, "maria")
    _, _, manager_view = staff_socket(live_server, "kostas")
    try:
        assert workstation.call("join", {"room": f"counter:{desk}"}, namespace="/live",
                                timeout=10)["ok"]
        assert manager_view.call("join", {"room": "staff:small"}, namespace="/live",
                                 timeout=10)["ok"]
        long_ago = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(minutes=29)
        with database.session() as session:
            for row in session.scalars(select(StaffSession)):
                row.last_seen_at = long_ago
        assert workstation.call("heartbeat", {}, namespace="/live", timeout=10)["ok"]
        assert manager_view.call("heartbeat", {}, namespace="/live", timeout=10)["ok"]
        assert session_row(database, staff["maria"].id).last_seen_at > long_ago
        assert session_row(database, staff["kostas"].id).last_seen_at == long_ago
    finally:
        workstation.disconnect()
        manager_view.disconnect()
