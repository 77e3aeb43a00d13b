"""The hall display and the manager's figures: HTTP, and real Socket.IO clients."""

import queue
import threading

import pytest
import requests
import socketio

from tessera.printing.jobs import PrintFailed
from worker.printing import print_ticket

from .helpers import closed_port, set_printer, sign_in


def call_and_serve(engine, desk, minutes_waited, clock):
    """Call the next ticket at a desk after some minutes, and finish it."""
    clock.advance(minutes=minutes_waited)
    step = engine.call_next(desk).step
    engine.start(desk)
    engine.finish(desk)
    return step


def test_recent_calls_newest_first_by_zone(client, site, engine):
    for service in ("registration", "legal_advice", "registration"):
        engine.issue_ticket(site.id, [site.services[service]], "ar")
    desk, legal = site.counters["desk-1"], site.counters["desk-3"]  # desk-3 is upstairs
    engine.open_counter(desk)
    engine.open_counter(legal)
    engine.call_next(desk)
    engine.call_next(legal)
    engine.recall(legal)

    calls = client.get(f"/api/v1/sites/{site.id}/calls").get_json()["calls"]
    assert [(c["ticket"], c["recall"]) for c in calls] == [("G-001", 1), ("G-001", 0),
                                                          ("A-001", 0)]
    upstairs = client.get(f"/api/v1/sites/{site.id}/calls?zone=upstairs").get_json()["calls"]
    assert {c["counter"]["key"] for c in upstairs} == {"desk-3"}
    assert client.get(f"/api/v1/sites/{site.id}/calls?limit=0").status_code == 422
    assert client.get("/api/v1/sites/nowhere/calls").status_code == 404


def test_display_page(client, site):
    page = client.get(f"/display/{site.id}")
    assert page.status_code == 200 and "data-hall" in page.text
    assert "Ticket %(number)s" not in page.text  # placeholders filled for the script
    assert client.get(f"/display/{site.id}/upstairs").status_code == 200
    assert client.get(f"/display/{site.id}/basement").status_code == 404


def test_live_figures_for_managers_only(client, site, staff, engine, clock):
    for _ in range(3):
        engine.issue_ticket(site.id, [site.services["registration"]], "el")
    desk = site.counters["desk-1"]
    engine.open_counter(desk, staff_id=staff["maria"].id)
    call_and_serve(engine, desk, 10, clock)
    call_and_serve(engine, desk, 30, clock)  # waited 40 minutes, over the 30 minute target

    assert client.get(f"/api/v1/sites/{site.id}/stats/live").status_code == 401
    sign_in(client, "maria")
    assert client.get(f"/api/v1/sites/{site.id}/stats/live").status_code == 403
    assert client.get("/manager").status_code == 403

    manager = client.application.test_client()
    sign_in(manager, "kostas")
    figures = manager.get(f"/api/v1/sites/{site.id}/stats/live").get_json()
    registration = next(s for s in figures["services"] if s["prefix"] == "A")
    assert registration["served_today"] == 2
    assert registration["mean_wait_today_minutes"] == 25.0  # (10 + 40) / 2
    assert registration["within_target_today"] == 0.5
    assert registration["waiting"] == 1 and registration["over_target"] is True
    assert registration["longest_wait_minutes"] == 40.0
    desks = {c["key"]: c for c in figures["counters"]}
    assert desks["desk-1"]["state"] == "idle" and desks["desk-1"]["staff"] == "Maria"
    assert desks["desk-2"]["state"] == "closed"
    assert manager.get("/manager").status_code == 200

    # A visitor who does not come was called after a wait, but not served.
    engine.call_next(desk)
    engine.no_show(desk)
    figures = manager.get(f"/api/v1/sites/{site.id}/stats/live").get_json()
    registration = next(s for s in figures["services"] if s["prefix"] == "A")
    assert registration["served_today"] == 2
    assert registration["mean_wait_today_minutes"] == 30.0  # (10 + 40 + 40) / 3


@pytest.fixture
def display_client(live_server):
    """A hall display's Socket.IO client in the small site's room."""
    client = socketio.Client(reconnection=False)
    client.calls = queue.Queue()
    client.on("called", lambda data: client.calls.put(data), namespace="/live")
    client.connect(live_server.url, namespaces=["/live"], transports=["websocket"],
                   wait_timeout=10)
    assert client.call("join", {"room": "site:small"}, namespace="/live", timeout=10)["ok"]
    yield client
    client.disconnect()


def test_two_desks_calling_at_once_are_both_announced(live_server, site, display_client):
    engine = live_server.engine
    for _ in range(2):  # in Greek, which both desks speak, so neither is held for the other
        engine.issue_ticket(site.id, [site.services["registration"]], "el")
    desks = [site.counters["desk-1"], site.counters["desk-2"]]
    for desk in desks:
        engine.open_counter(desk)
    start = threading.Barrier(2)

    def call(desk):
        start.wait()
        engine.call_next(desk)

    threads = [threading.Thread(target=call, args=(desk,)) for desk in desks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    heard = [display_client.calls.get(timeout=10) for _ in range(2)]
    assert {call["ticket"] for call in heard} == {"A-001", "A-002"}
    assert {call["counter"]["key"] for call in heard} == {"desk-1", "desk-2"}


def test_a_display_that_reconnects_gets_the_calls_it_missed(live_server, site):
    engine = live_server.engine
    for _ in range(2):
        engine.issue_ticket(site.id, [site.services["registration"]], "en")
    desk = site.counters["desk-1"]
    engine.open_counter(desk)
    engine.call_next(desk)  # before the display connects: it missed this one
    display = socketio.Client(reconnection=False)
    display.connect(live_server.url, namespaces=["/live"], transports=["websocket"])
    display.call("join", {"room": "site:small"}, namespace="/live", timeout=10)
    # The live server keeps real time, so it is asked over HTTP, as the page does.
    missed = requests.get(f"{live_server.url}/api/v1/sites/{site.id}/calls",
                          timeout=10).json()["calls"]
    display.disconnect()
    assert [call["ticket"] for call in missed] == ["A-001"]


@pytest.mark.slow
def test_staff_rooms_need_a_signed_in_member_of_staff(live_server, site, staff):
    anonymous = socketio.Client(reconnection=False)
    anonymous.connect(live_server.url, namespaces=["/live"], transports=["websocket"])
    for room in ("staff:small", f"counter:{site.counters['desk-1']}"):
        assert anonymous.call("join", {"room": room}, namespace="/live",
                              timeout=10)["ok"] is False
    anonymous.disconnect()

    browser = live_server.app.test_client()
    sign_in(browser, "maria")
    cookie = browser.get_cookie("session")
    signed_in = socketio.Client(reconnection=False)
    signed_in.connect(live_server.url, namespaces=["/live"], transports=["websocket"],
                      headers={"Cookie": f"session={cookie.value}"})
    assert signed_in.call("join", {"room": "staff:small"}, namespace="/live",
                          timeout=10)["ok"] is True
    assert signed_in.call("join", {"room": f"counter:{site.counters['desk-1']}"},
                          namespace="/live", timeout=10)["ok"] is True
    # Maria works for the municipality: the legal desk's room is not hers.
    assert signed_in.call("join", {"room": f"counter:{site.counters['desk-3']}"},
                          namespace="/live", timeout=10)["ok"] is False
    assert signed_in.call("join", {"room": "staff:elsewhere"}, namespace="/live",
                          timeout=10)["ok"] is False
    signed_in.disconnect()


def manager_listening(live_server, event: str):
    """Kostas, a manager, signed in and listening to `event` in the small site's staff room.

    Returns his Socket.IO client, the queue of what it heard, and his HTTP client.
    """
    browser = live_server.app.test_client()
    sign_in(browser, "kostas")
    heard = queue.Queue()
    manager = socketio.Client(reconnection=False)
    manager.on(event, heard.put, namespace="/live")
    manager.connect(live_server.url, namespaces=["/live"], transports=["websocket"],
                    headers={"Cookie": f"session={browser.get_cookie('session').value}"})
    assert manager.call("join", {"room": "staff:small"}, namespace="/live", timeout=10)["ok"]
    return manager, heard, browser


def test_staff_hear_when_a_desk_changes(live_server, site, staff):
    manager, heard, _browser = manager_listening(live_server, "counter_changed")
    desk = site.counters["desk-2"]
    live_server.engine.open_counter(desk)
    assert heard.get(timeout=10) == {"counter": desk}
    live_server.engine.pause_counter(desk)
    assert heard.get(timeout=10) == {"counter": desk}
    manager.disconnect()


def test_managers_hear_when_a_kiosk_printer_stops(live_server, site, staff, database,
                                                  monkeypatch, database_url, redis_url):
    manager, heard, browser = manager_listening(live_server, "printer_changed")
    # The worker is another process with the web's environment: the same stores and channel.
    for name, value in {"DATABASE_URL": database_url, "REDIS_URL": redis_url,
                        "SOCKETIO_CHANNEL": live_server.app.config["SOCKETIO_CHANNEL"]}.items():
        monkeypatch.setenv(name, value)
    ticket = live_server.engine.issue_ticket(site.id, [site.services["registration"]], "en")
    set_printer(database, {"type": "network", "host": "127.0.0.1", "port": closed_port()})

    with pytest.raises(PrintFailed):
        print_ticket(ticket.id, "entrance")

    assert heard.get(timeout=10) == {"kiosk": "entrance", "status": "offline"}
    figures = browser.get(f"/api/v1/sites/{site.id}/stats/live").get_json()
    assert figures["printers"]["entrance"]["status"] == "offline"
    manager.disconnect()
