"""Hostile input gets a 4xx with the contract's error and changes nothing (issue 10, 6-11).

NUL characters, integers too large for the database, JSON nested too deeply, CR/LF in a
redirect, bodies too large: each once escaped as a 500. Every test runs on SQLite and on
PostgreSQL (the `database` fixture), where NUL and 32-bit ids used to fail in the driver.
"""

import os
import subprocess
import sys

import pytest
from sqlalchemy import func, select

from tessera.api.openapi import openapi_document
from tessera.models import MAX_ID, Event, Ticket
from tessera.staff.accounts import create_staff
from tessera.staff.auth import issue_token

from .helpers import PASSWORD, ROOT

API = "/api/v1"
TOO_BIG = [MAX_ID + 1, 2**63]


def count(database, model) -> int:
    """Rows of one table."""
    with database.session() as session:
        return session.scalar(select(func.count()).select_from(model))


def bearer(database, site) -> dict:
    """The Authorization header of a new manager of the site."""
    with database.session() as session:
        manager, _ = create_staff(session, site.id, "nikos", "Nikos", "manager", ["el"], [],
                                  PASSWORD)
        return {"Authorization": f"Bearer {issue_token(session, manager, 'hostile test')}"}


def assert_error(response, status: int, code: str | None = None) -> None:
    """The contract's error body, with this status (and code)."""
    assert response.status_code == status, response.data[:300]
    error = response.get_json()["error"]
    assert error["message"]
    if code is not None:
        assert error["code"] == code


@pytest.fixture
def desk_with_a_call(client, database, site):
    """desk-1 open, with a ticket called: (headers, counter id, events before)."""
    headers = bearer(database, site)
    desk = site.counters["desk-1"]
    issued = client.post(f"{API}/sites/{site.id}/tickets", json={
        "services": [site.services["registration"]], "language": "ar"})
    assert issued.status_code == 201
    assert client.post(f"{API}/counters/{desk}/open", headers=headers).status_code == 200
    assert client.post(f"{API}/counters/{desk}/call-next", headers=headers).status_code == 200
    return headers, desk, count(database, Event)


# 6. NUL characters ---------------------------------------------------------------

@pytest.mark.parametrize("path", [f"{API}/tickets/ab%00cd", f"{API}/sites/sm%00all/queues",
                                  f"{API}/tickets/ab%00cd/cancel"])
def test_a_nul_in_a_path_names_nothing(client, site, path):
    response = client.open(path, method="POST" if path.endswith("cancel") else "GET")
    assert_error(response, 404)


def test_a_nul_in_a_query_string_is_refused(client, site):
    assert_error(client.get(f"{API}/sites/{site.id}/services?language=a%00b"), 422,
                 "invalid_characters")
    assert_error(client.get(f"{API}/sites/{site.id}/calls?zone=%00"), 422,
                 "invalid_characters")


def test_a_nul_in_a_json_string_is_refused(client, database, site):
    response = client.post(f"{API}/sites/{site.id}/tickets", json={
        "services": [site.services["registration"]], "language": "a\u0000r"})
    assert_error(response, 422, "invalid_characters")
    keyed = client.post(f"{API}/sites/{site.id}/tickets", json={
        "services": [site.services["registration"]], "language": "ar", "x\u0000": 1})
    assert_error(keyed, 422, "invalid_characters")
    assert count(database, Ticket) == 0


def test_a_nul_in_a_referral_note_changes_nothing(client, database, site, desk_with_a_call):
    headers, desk, events = desk_with_a_call
    response = client.post(f"{API}/counters/{desk}/refer", headers=headers, json={
        "service": site.services["legal_advice"], "note": "a\u0000b"})
    assert_error(response, 422, "invalid_characters")
    assert count(database, Event) == events
    current = client.get(f"{API}/counters/{desk}", headers=headers).get_json()["current"]
    assert current["step"]["state"] == "called"


def test_a_nul_in_a_form_field_is_refused(make_client, redis_client, staff):
    client = make_client(WTF_CSRF_ENABLED=False)
    response = client.post("/login", data={"username": "ma\x00ria", "password": PASSWORD})
    assert response.status_code == 422
    assert "maria" not in response.text  # not signed in
    assert client.get(f"{API}/counters/1").status_code == 401


# 7. Integers too large for the database ------------------------------------------

@pytest.mark.parametrize("number", TOO_BIG)
def test_a_counter_id_too_large_is_not_found(client, database, site, number):
    headers = bearer(database, site)
    assert_error(client.get(f"{API}/counters/{number}", headers=headers), 404)
    assert_error(client.post(f"{API}/counters/{number}/open", headers=headers), 404)
    # One path, GET and POST as two rules: still 404, not the other rule's 405.
    assert_error(client.post(f"{API}/counters/{number}/appointments", headers=headers,
                             json={}), 404)


@pytest.mark.parametrize("number", TOO_BIG)
def test_an_id_too_large_in_a_body_is_refused(client, database, site, number):
    response = client.post(f"{API}/sites/{site.id}/tickets",
                           json={"services": [number], "language": "ar"})
    assert_error(response, 422, "invalid_services")
    headers = bearer(database, site)
    desk = site.counters["desk-1"]
    opened = client.post(f"{API}/counters/{desk}/open", headers=headers,
                         json={"services": [number]})
    assert_error(opened, 422, "invalid_services")
    for action, body in [("refer", {"service": number}), ("transfer", {"counter": number}),
                         ("call", {"step": number, "reason": "urgent"})]:
        assert_error(client.post(f"{API}/counters/{desk}/{action}", headers=headers,
                                 json=body), 422)
    assert count(database, Ticket) == 0


@pytest.mark.parametrize("number", TOO_BIG)
def test_a_referral_to_a_service_too_large_changes_nothing(client, database, site,
                                                           desk_with_a_call, number):
    headers, desk, events = desk_with_a_call
    response = client.post(f"{API}/counters/{desk}/refer", headers=headers,
                           json={"service": number})
    assert_error(response, 422, "invalid_service")
    assert count(database, Event) == events


def test_an_id_with_a_fraction_is_not_an_id(client, database, site):
    # JSON Schema counts 1.0 as an integer; the database would get a float.
    service = float(site.services["legal_advice"])
    booked = client.post(f"{API}/sites/{site.id}/appointments", json={
        "service": service, "start": "2026-11-24T10:00:00+02:00", "language": "el"})
    assert_error(booked, 422, "invalid_service")
    issued = client.post(f"{API}/sites/{site.id}/tickets",
                         json={"services": [service], "language": "ar"})
    assert_error(issued, 422, "invalid_services")
    assert count(database, Ticket) == 0


@pytest.mark.parametrize("reference", ["2147483648", "99999999999999999999", "²"])
def test_a_service_reference_no_id_can_be_is_unknown(client, site, reference):
    assert_error(client.get(f"{API}/sites/{site.id}/services/{reference}/slots"), 404,
                 "unknown_service")
    booked = client.post(f"{API}/sites/{site.id}/appointments", json={
        "service": reference, "start": "2026-11-24T10:00:00+02:00", "language": "el"})
    assert_error(booked, 404, "unknown_service")


@pytest.mark.parametrize("days", ["²", "9" * 5000])
def test_days_that_are_not_a_small_number_are_refused(client, site, days):
    service = site.services["legal_advice"]
    assert_error(client.get(f"{API}/sites/{site.id}/services/{service}/slots?days={days}"),
                 422, "invalid_days")


# 8. JSON nested too deeply -------------------------------------------------------

@pytest.mark.parametrize("body", ["[" * 100_000, '{"a":' * 100_000])
def test_json_nested_too_deeply_is_malformed(client, database, site, body):
    response = client.post(f"{API}/sites/{site.id}/tickets", data=body,
                           content_type="application/json")
    assert_error(response, 422, "invalid_json")
    assert count(database, Ticket) == 0


# 9. CR/LF in the sign-in's next --------------------------------------------------

@pytest.mark.parametrize("target", ["/a%0d%0aSet-Cookie:%20x=1", "/a%0ab", "/a%09b",
                                    "%0a//evil.example"])
def test_sign_in_goes_only_to_a_local_path(make_client, redis_client, staff, target):
    client = make_client(WTF_CSRF_ENABLED=False)
    response = client.post(f"/login?next={target}",
                           data={"username": "maria", "password": PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"] == "/counter"


def test_sign_in_still_goes_to_a_local_path(make_client, redis_client, staff):
    client = make_client(WTF_CSRF_ENABLED=False)
    response = client.post("/login?next=/manager/small",
                           data={"username": "maria", "password": PASSWORD})
    assert response.headers["Location"] == "/manager/small"


# 10. Request size, and the errors' headers ---------------------------------------

def test_a_body_over_the_limit_is_refused_unread(client, database, site):
    assert client.application.config["MAX_CONTENT_LENGTH"] == 1024 * 1024
    padding = "x" * (2 * 1024 * 1024)
    response = client.post(f"{API}/sites/{site.id}/tickets", json={
        "services": [site.services["registration"]], "language": "ar", "padding": padding})
    assert_error(response, 413, "request_entity_too_large")
    assert count(database, Ticket) == 0


def test_the_limit_is_configurable(make_client, redis_client, database, site):
    client = make_client(MAX_CONTENT_LENGTH=100)
    response = client.post(f"{API}/sites/{site.id}/tickets", json={
        "services": [site.services["registration"]], "language": "ar", "padding": "x" * 100})
    assert_error(response, 413)
    page = client.post("/login", data={"username": "x" * 200, "password": "y"})
    assert page.status_code == 413
    assert count(database, Ticket) == 0


def test_the_limit_comes_from_the_environment():
    environment = {**os.environ, "MAX_CONTENT_LENGTH": "2048"}
    shown = subprocess.run([sys.executable, "-c", "from tessera.config import Config; "
                            "print(Config.MAX_CONTENT_LENGTH)"], env=environment,
                           capture_output=True, text=True, check=True, cwd=ROOT)
    assert shown.stdout.strip() == "2048"


def test_a_405_says_which_methods_are_allowed(client, site):
    response = client.delete(f"{API}/sites/{site.id}/tickets")
    assert_error(response, 405, "method_not_allowed")
    assert set(response.headers["Allow"].split(", ")) >= {"POST"}
    assert response.mimetype == "application/json"


# 11. The document and the code agree ---------------------------------------------

@pytest.mark.parametrize("limit", ["null", "x", "", "0", "51", "1e1", "9" * 5000])
def test_a_limit_that_is_not_a_number_is_refused(client, site, limit):
    assert_error(client.get(f"{API}/sites/{site.id}/calls?limit={limit}"), 422,
                 "invalid_limit")


def test_a_limit_in_range_is_taken(client, site):
    response = client.get(f"{API}/sites/{site.id}/calls?limit=3")
    assert response.status_code == 200 and response.get_json()["calls"] == []


def test_opening_a_desk_takes_an_absent_body_and_refuses_an_empty_list(client, database,
                                                                       site):
    headers = bearer(database, site)
    desk = site.counters["desk-1"]
    for request in ({}, {"data": "", "content_type": "application/json"}, {"json": {}}):
        response = client.post(f"{API}/counters/{desk}/open", headers=headers, **request)
        assert response.status_code == 200, request
    # The document says so too (minItems), rather than a surprise from the engine.
    empty = client.post(f"{API}/counters/{desk}/open", headers=headers, json={"services": []})
    assert_error(empty, 422, "invalid_services")


def test_the_document_declares_the_guards_answers(client, site):
    assert_error(client.get(f"{API}/sites/{site.id}/queues?language=zz"), 422)
    assert "422" in openapi_document()["paths"]["/sites/{site}/queues"]["get"]["responses"]
    # The guard answers any operation 422 (a NUL in the query or a header), and any with
    # a path parameter 404 (a NUL there, or an id too large): the document says so.
    for path, operations in openapi_document()["paths"].items():
        for method, operation in operations.items():
            assert "422" in operation["responses"], (method, path)
            if "{" in path:
                assert "404" in operation["responses"], (method, path)
