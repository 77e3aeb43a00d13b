"""Live updates through a real server and real Socket.IO clients."""

import queue

import pytest
import socketio


@pytest.fixture
def socket_client(live_server):
    """A connected Socket.IO client on /live; its events arrive in `client.received`."""
    client = socketio.Client(reconnection=False)
    client.received = queue.Queue()
    for event in ("called", "ticket_changed", "queue_changed"):
        client.on(event, lambda data, event=event: client.received.put((event, data)),
                  namespace="/live")
    client.connect(live_server.url, namespaces=["/live"], transports=["websocket"],
                   wait_timeout=10)
    yield client
    client.disconnect()


def next_event(client, kind: str, timeout: float = 10) -> dict:
    """The next event of `kind`, skipping others; fails the test if none comes in time."""
    while True:
        event, data = client.received.get(timeout=timeout)
        if event == kind:
            return data


def test_the_mobile_ticket_hears_its_call(live_server, site, socket_client):
    engine = live_server.engine
    ticket = engine.issue_ticket(site.id, [site.services["registration"]], "ar")
    joined = socket_client.call("join", {"room": f"ticket:{ticket.token}"}, namespace="/live",
                                timeout=10)
    assert joined == {"ok": True}

    desk = site.counters["desk-2"]
    engine.open_counter(desk)
    engine.call_next(desk)

    called = next_event(socket_client, "called")
    assert called["ticket"] == "A-001" and called["language"] == "ar"
    assert called["counter"]["key"] == "desk-2"
    assert called["counter"]["name"]["el"] == "Γραφείο 2"
    # Numbers and desks only: nothing personal travels with a call.
    assert set(called) == {"ticket", "language", "step_id", "service_id", "counter", "recall",
                           "at"}

    engine.recall(desk)
    assert next_event(socket_client, "called")["recall"] == 1


def test_other_tickets_calls_are_not_heard(live_server, site, socket_client):
    engine = live_server.engine
    mine = engine.issue_ticket(site.id, [site.services["registration"]], "en")
    engine.issue_ticket(site.id, [site.services["certificates"]], "en")
    socket_client.call("join", {"room": f"ticket:{mine.token}"}, namespace="/live", timeout=10)
    desk = site.counters["desk-1"]
    engine.open_counter(desk, service_ids=[site.services["certificates"]])
    engine.call_next(desk)
    with pytest.raises(queue.Empty):
        next_event(socket_client, "called", timeout=1.5)


def test_only_public_rooms_can_be_joined(live_server, socket_client):
    for room in ("staff:small", "counter:1", "ticket:short", ""):
        answer = socket_client.call("join", {"room": room}, namespace="/live", timeout=10)
        assert answer["ok"] is False, room
    assert socket_client.call("join", {"room": "site:small"}, namespace="/live",
                              timeout=10) == {"ok": True}


def test_a_client_in_two_rooms_hears_a_call_once(live_server, site, socket_client):
    # A phone alerting twice for one call would send the visitor looking for a second desk.
    engine = live_server.engine
    ticket = engine.issue_ticket(site.id, [site.services["registration"]], "en")
    for room in (f"ticket:{ticket.token}", "site:small"):
        assert socket_client.call("join", {"room": room}, namespace="/live", timeout=10)["ok"]
    desk = site.counters["desk-1"]
    engine.open_counter(desk)
    engine.call_next(desk)
    assert next_event(socket_client, "called")["ticket"] == "A-001"
    with pytest.raises(queue.Empty):
        next_event(socket_client, "called", timeout=1.5)
