"""The counter: sign-in, permissions, CSRF, and the counter API through HTTP."""

import re
import threading

import pytest

from tessera.models import Staff
from tessera.staff.auth import issue_token

from .helpers import PASSWORD, sign_in


def page_csrf(client, counter_id) -> str:
    """The CSRF token of the workstation page (what counter.js sends)."""
    page = client.get(f"/counter/{counter_id}").text
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)


def post(client, path, token=None, **body):
    """A JSON POST as counter.js sends it."""
    headers = {"X-CSRFToken": token} if token else {}
    return client.post(path, json=body, headers=headers)


def test_sign_in(client, staff):
    assert sign_in(client, "maria", "wrong password").status_code == 401
    answer = sign_in(client, "maria")
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/counter")
    assert "Γραφείο 1" in client.get("/counter").text  # staff pages speak the site language


@pytest.mark.parametrize("target", ["//evil.example/", "/\\evil.example/",
                                    "https://evil.example/", "counter"])
def test_no_open_redirect_after_sign_in(client, staff, target):
    form = client.get("/login").text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form).group(1)
    answer = client.post("/login", query_string={"next": target}, data={
        "username": "maria", "password": PASSWORD, "csrf_token": token})
    assert answer.headers["Location"] == "/counter"


def test_signing_out_closes_the_desk(client, site, staff, engine):
    desk = site.counters["desk-1"]
    sign_in(client, "maria")
    token = page_csrf(client, desk)
    post(client, f"/api/v1/counters/{desk}/open", token)
    client.post("/logout", data={"csrf_token": token})
    state = engine.live.redis.hget(f"tessera:{{{site.id}}}:counters", str(desk))
    assert state is None  # off duty: nobody is held for an empty desk


def test_bad_form_input_is_a_clear_error(client, site, staff):
    sign_in(client, "maria")
    token = page_csrf(client, site.counters["desk-1"])
    answer = client.post("/counter/open", data={"counter": site.counters["desk-1"],
                                                "services": "registration",
                                                "csrf_token": token})
    assert answer.status_code == 422


def test_anonymous_requests_are_refused(client, site):
    desk = site.counters["desk-1"]
    answer = client.post(f"/api/v1/counters/{desk}/call-next")
    assert answer.status_code == 401
    assert answer.get_json()["error"]["message"]
    assert client.get("/counter").status_code == 302  # to the sign-in page


def test_a_desk_calls_and_serves_through_the_api(client, site, staff, engine):
    ticket = engine.issue_ticket(site.id, [site.services["registration"]], "ar",
                                 ["priority"])
    desk = site.counters["desk-1"]
    sign_in(client, "maria")
    token = page_csrf(client, desk)
    assert post(client, f"/api/v1/counters/{desk}/open", token).status_code == 200

    called = post(client, f"/api/v1/counters/{desk}/call-next", token)
    assert called.status_code == 200
    body = called.get_json()
    assert body["ticket"]["number"] == ticket.number and body["ticket"]["needs"] == ["priority"]
    assert body["step"]["state"] == "called"

    state = post(client, f"/api/v1/counters/{desk}/start", token).get_json()
    assert state["current"]["step"]["state"] == "serving"
    assert post(client, f"/api/v1/counters/{desk}/finish", token).get_json()["current"] is None
    nobody = post(client, f"/api/v1/counters/{desk}/call-next", token)
    assert nobody.status_code == 204 and nobody.headers["X-Held"] == "0"


def test_wrong_state_and_bad_input_get_clear_errors(client, site, staff, engine):
    desk = site.counters["desk-1"]
    sign_in(client, "maria")
    token = page_csrf(client, desk)
    post(client, f"/api/v1/counters/{desk}/open", token)
    finish = post(client, f"/api/v1/counters/{desk}/finish", token)
    assert finish.status_code == 409 and finish.get_json()["error"]["code"] == "no_ticket"
    engine.issue_ticket(site.id, [site.services["registration"]], "en")
    post(client, f"/api/v1/counters/{desk}/call-next", token)
    bad = post(client, f"/api/v1/counters/{desk}/refer", token, service="legal")
    assert bad.status_code == 422 and bad.get_json()["error"]["code"] == "invalid_service"
    referred = post(client, f"/api/v1/counters/{desk}/refer", token,
                    service=site.services["legal_advice"], note="tenancy")
    assert referred.status_code == 200 and referred.get_json()["current"] is None


def test_staff_cannot_act_on_another_organisations_desk(client, site, staff, engine):
    legal_desk = site.counters["desk-3"]
    engine.open_counter(legal_desk)
    sign_in(client, "maria")  # municipality
    assert client.get(f"/counter/{legal_desk}").status_code == 403
    token = page_csrf(client, site.counters["desk-1"])
    refused = post(client, f"/api/v1/counters/{legal_desk}/call-next", token)
    assert refused.status_code == 403 and refused.get_json()["error"]["message"]
    assert "Γραφείο 3" not in client.get("/counter").text


def test_a_manager_may_use_every_desk(client, site, staff):
    sign_in(client, "kostas")
    assert client.get(f"/counter/{site.counters['desk-3']}").status_code == 200


def test_state_changes_need_the_csrf_token(client, site, staff):
    desk = site.counters["desk-1"]
    sign_in(client, "maria")
    missing = client.post(f"/api/v1/counters/{desk}/open", json={})
    assert missing.status_code == 400 and "CSRF" in missing.get_json()["error"]["message"]
    forged = post(client, f"/api/v1/counters/{desk}/open", "forged-token")
    assert forged.status_code == 400
    assert post(client, f"/api/v1/counters/{desk}/open", page_csrf(client, desk)
                ).status_code == 200


def test_bearer_tokens_need_no_csrf(client, site, staff, database):
    with database.session() as session:
        token = issue_token(session, session.get(Staff, staff["maria"].id), "desk tablet")
    desk = site.counters["desk-1"]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.post(f"/api/v1/counters/{desk}/open", json={},
                       headers=headers).status_code == 200
    assert client.post(f"/api/v1/counters/{desk}/open", json={},
                       headers={"Authorization": "Bearer nonsense"}).status_code == 401


def test_two_desks_calling_at_once_get_different_tickets(make_client, redis_client, site,
                                                         staff, engine):
    for _ in range(2):
        engine.issue_ticket(site.id, [site.services["registration"]], "el")
    desks = [site.counters["desk-1"], site.counters["desk-2"]]
    clients, tokens = [], []
    # Two people: one member of staff holds one desk (opening another closes the first).
    for desk, username in zip(desks, ("maria", "kostas"), strict=True):
        client = make_client()
        sign_in(client, username)
        tokens.append(page_csrf(client, desk))
        post(client, f"/api/v1/counters/{desk}/open", tokens[-1])
        clients.append(client)
    start = threading.Barrier(2)
    answers = [None, None]

    def call(index):
        start.wait()
        answers[index] = post(clients[index], f"/api/v1/counters/{desks[index]}/call-next",
                              tokens[index])

    threads = [threading.Thread(target=call, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    numbers = {answer.get_json()["ticket"]["number"] for answer in answers}
    assert numbers == {"A-001", "A-002"}
