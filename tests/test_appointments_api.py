"""The appointments API: slots, booking with Idempotency-Key, the visitor's own appointment,
and a clear 4xx with a specific code for each bad input, changing nothing."""

import pytest
from sqlalchemy import func, select

from tessera.models import Appointment, Event
from tessera.sites.loader import DEMO_SITE, load_site, read_site_file

API = "/api/v1"
# The test clock is Monday 2026-11-23, 10:00 in Athens.
SLOT = "2026-11-24T09:00:00+02:00"


@pytest.fixture
def demo(database):
    """The demo centre, which takes appointments around the clock."""
    with database.session() as session:
        load_site(session, read_site_file(DEMO_SITE))


def nothing_changed(database) -> bool:
    """No appointment and no event in SQL."""
    with database.session() as session:
        return (session.scalar(select(func.count()).select_from(Appointment)) == 0
                and session.scalar(select(func.count()).select_from(Event)) == 0)


def book(client, start=SLOT, key="legal_advice", **body):
    """POST a booking at the demo centre."""
    headers = {"Idempotency-Key": body.pop("idempotency_key")} if "idempotency_key" in body \
        else {}
    return client.post(f"{API}/sites/demo/appointments", headers=headers,
                       json={"service": key, "start": start, "language": "ti", **body})


def test_slots_come_with_offsets_and_the_visitors_language_first(client, demo):
    response = client.get(f"{API}/sites/demo/services/legal_advice/slots"
                          "?from=2026-11-24&days=1&language=ti")
    assert response.status_code == 200
    found = response.get_json()["slots"]
    assert found[0] == {"start": "2026-11-24T12:00:00+02:00", "end": "2026-11-24T12:30:00+02:00",
                        "available": 1, "languages": ["el", "fa", "ti"], "interpreter": False}
    assert found[-1]["interpreter"] is True and found[-1]["start"] == "2026-11-24T11:30:00+02:00"
    assert len(found) == 48


def test_booking_answers_the_code_token_and_manage_url(client, demo, database):
    response = book(client, contact={"email": "amanuel@example.org"}, idempotency_key="k-1")
    assert response.status_code == 201
    body = response.get_json()
    assert body["state"] == "booked" and len(body["code"]) == 6
    assert (body["start"], body["end"]) == (SLOT, "2026-11-24T09:30:00+02:00")
    assert body["manage_url"] == f"http://localhost/a/{body['token']}"
    assert book(client, contact={"email": "amanuel@example.org"},
                idempotency_key="k-1").get_json()["token"] == body["token"]
    full = book(client)
    assert full.status_code == 409 and full.get_json()["error"]["code"] == "slot_full"
    shown = client.get(f"{API}/appointments/{body['token']}").get_json()
    assert shown["code"] == body["code"] and shown["contact"]["email"] == "amanuel@example.org"
    slots = client.get(f"{API}/sites/demo/services/legal_advice/slots?from=2026-11-24&days=1")
    assert next(s for s in slots.get_json()["slots"] if s["start"] == SLOT)["available"] == 0


def test_manage_url_is_under_public_url(make_client, demo):
    client = make_client(PUBLIC_URL="https://tessera.example.org/")
    body = book(client).get_json()
    assert body["manage_url"] == f"https://tessera.example.org/a/{body['token']}"


def test_hold_confirm_move_and_cancel(client, demo):
    held = book(client, hold=True).get_json()
    assert held["state"] == "held" and held["hold_expires_at"]
    token = held["token"]
    assert client.post(f"{API}/appointments/{token}/confirm").get_json()["state"] == "booked"
    moved = client.post(f"{API}/appointments/{token}/move",
                        json={"start": "2026-11-24T10:00:00+02:00"})
    assert moved.status_code == 200
    assert (moved.get_json()["start"], moved.get_json()["code"]) == (
        "2026-11-24T10:00:00+02:00", held["code"])
    cancelled = client.post(f"{API}/appointments/{token}/cancel")
    assert cancelled.get_json()["state"] == "cancelled"
    again = client.post(f"{API}/appointments/{token}/move", json={"start": SLOT})
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "not_changeable"


def test_a_lapsed_hold_cannot_be_confirmed(client, demo, clock):
    token = book(client, hold=True).get_json()["token"]
    clock.advance(minutes=11)
    response = client.post(f"{API}/appointments/{token}/confirm")
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "hold_expired"
    assert client.get(f"{API}/appointments/{token}").get_json()["state"] == "expired"


@pytest.mark.parametrize(("query", "status", "code"), [
    ("services/nothing/slots", 404, "unknown_service"),
    ("services/information/slots", 422, "no_appointments"),
    ("services/legal_advice/slots?from=24-11-2026", 422, "invalid_from"),
    ("services/legal_advice/slots?from=2026-02-30", 422, "invalid_from"),
    ("services/legal_advice/slots?days=0", 422, "invalid_days"),
    ("services/legal_advice/slots?days=32", 422, "invalid_days"),
    ("services/legal_advice/slots?days=many", 422, "invalid_days"),
    ("services/legal_advice/slots?language=xx", 422, "unknown_language"),
])
def test_bad_slot_queries_get_a_specific_error(client, demo, query, status, code):
    response = client.get(f"{API}/sites/demo/{query}")
    assert response.status_code == status
    assert response.get_json()["error"]["code"] == code


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"key": "nothing"}, 404, "unknown_service"),
    ({"key": "information"}, 422, "no_appointments"),
    ({"start": "tomorrow"}, 422, "invalid_start"),
    ({"start": "2026-11-24T09:00:00"}, 422, "invalid_start"),
    ({"start": "2026-11-24T09:10:00+02:00"}, 422, "not_a_slot"),
    ({"start": "2026-11-23T10:00:00+02:00"}, 422, "too_early"),
    ({"start": "2026-12-24T09:00:00+02:00"}, 422, "beyond_horizon"),
    ({"language": "xx"}, 422, "unknown_language"),
    ({"contact": {"email": "not-an-address"}}, 422, "invalid_email"),
    ({"contact": {"phone": "12"}}, 422, "invalid_phone"),
    ({"contact": {"name": "Amanuel"}}, 422, "invalid_contact"),
    ({"hold": "yes"}, 422, "invalid_hold"),
    ({"idempotency_key": "x" * 129}, 422, "invalid_key"),
])
def test_each_bad_booking_gets_a_specific_error_and_changes_nothing(client, demo, database,
                                                                    body, status, code):
    response = book(client, **body)
    assert response.status_code == status, response.get_json()
    assert response.get_json()["error"]["code"] == code
    assert response.get_json()["error"]["message"]
    assert nothing_changed(database)


def test_unknown_tokens_and_bad_moves(client, demo):
    assert client.get(f"{API}/appointments/nope").get_json()["error"]["code"] == \
        "unknown_appointment"
    token = book(client).get_json()["token"]
    for body, code in (({"start": "later"}, "invalid_start"), ({}, "invalid_start"),
                       ({"start": "2026-11-24T09:10:00+02:00"}, "not_a_slot")):
        response = client.post(f"{API}/appointments/{token}/move", json=body)
        assert response.status_code == 422 and response.get_json()["error"]["code"] == code
    assert client.get(f"{API}/appointments/{token}").get_json()["start"] == SLOT
