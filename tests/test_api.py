"""The public API (/api/v1) of the kiosk and the mobile ticket, through HTTP."""

import pytest
from sqlalchemy import func, select

from tessera.devices.pairing import SECRET_COOKIE
from tessera.models import Ticket

from .helpers import kiosk_headers


def issue(client, site, services=("registration",), language="ar", needs=(), key=None,
          kiosk="entrance"):
    """POST a ticket request the way the kiosk does."""
    headers = kiosk_headers(client, site.id, kiosk) if kiosk else {}
    if key:
        headers["Idempotency-Key"] = key
    return client.post(f"/api/v1/sites/{site.id}/tickets", headers=headers, json={
        "services": [site.services.get(s, s) for s in services], "language": language,
        "needs": list(needs)})


def ticket_count(database) -> int:
    """Tickets in SQL."""
    with database.session() as session:
        return session.scalar(select(func.count()).select_from(Ticket))


def test_catalogue_in_the_visitors_language(client, site):
    response = client.get(f"/api/v1/sites/{site.id}/services?language=ar")
    assert response.status_code == 200
    body = response.get_json()
    assert body["direction"] == "rtl"
    names = {s["key"]: s["name"] for c in body["categories"] for s in c["services"]}
    assert names["registration"] == "التسجيل"
    assert names["legal_advice"] == "Νομική συμβουλή"  # no Arabic text: the site language
    assert [language["name"] for language in body["languages"]] == [
        "Ελληνικά", "English", "العربية"]


def test_issue_returns_the_committed_ticket(client, site, database):
    response = issue(client, site, ("registration", "legal_advice"), needs=["priority"])
    assert response.status_code == 201
    body = response.get_json()
    assert body["number"] == "A-001" and body["state"] == "waiting"
    assert body["position"] == 0
    assert [step["state"] for step in body["journey"]] == ["waiting", "planned"]
    assert body["mobile_url"].endswith(f"/t/{body['token']}")
    assert ticket_count(database) == 1

    status = client.get(f"/api/v1/tickets/{body['token']}?language=en").get_json()
    assert status["number"] == "A-001"
    assert status["journey"][0]["service"]["name"] == "Registration"
    assert "token" not in status


def test_idempotency_key_over_http(client, site, database):
    first = issue(client, site, key="double-tap").get_json()
    again = issue(client, site, key="double-tap")
    assert again.status_code == 201 and again.get_json()["token"] == first["token"]
    reused = issue(client, site, ("certificates",), key="double-tap")
    assert reused.status_code == 422
    assert reused.get_json()["error"]["code"] == "idempotency_key_reused"
    assert ticket_count(database) == 1


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"services": [], "language": "ar"}, 422, "empty_journey"),
    ({"services": [999_999], "language": "ar"}, 422, "unknown_service"),
    ({"services": ["registration"], "language": "zz"}, 422, "unknown_language"),
    ({"services": [1, 2, 3, 4, 5], "language": "ar"}, 422, "too_many_services"),
    ({"services": "registration", "language": "ar"}, 422, "invalid_services"),
    ({"services": [True], "language": "ar"}, 422, "invalid_services"),
    ({"services": ["registration"]}, 422, "invalid_language"),
    ({"services": ["registration"], "language": "ar", "needs": "vip"}, 422, "invalid_needs"),
    ({"services": ["registration"], "language": "ar", "needs": ["vip"]}, 422, "unknown_need"),
])
def test_bad_issue_requests(client, site, database, body, status, code):
    body = {**body, "services": [site.services.get(s, s) if isinstance(s, str) else s
                                 for s in body["services"]]
            if isinstance(body["services"], list) else body["services"]}
    response = client.post(f"/api/v1/sites/{site.id}/tickets", json=body)
    assert response.status_code == status
    error = response.get_json()["error"]
    assert error["code"] == code and error["message"]
    assert ticket_count(database) == 0


def test_malformed_requests_get_json_errors(client, site):
    not_json = client.post(f"/api/v1/sites/{site.id}/tickets", data="services=1")
    assert not_json.status_code == 422
    assert not_json.get_json()["error"]["code"] == "invalid_json"
    unknown_site = client.post("/api/v1/sites/nowhere/tickets",
                               json={"services": [1], "language": "en"})
    assert unknown_site.status_code == 404
    assert client.get("/api/v1/tickets/no-such-token").status_code == 404
    wrong_method = client.delete(f"/api/v1/sites/{site.id}/tickets")
    assert wrong_method.status_code == 405
    assert wrong_method.get_json()["error"]["code"] == "method_not_allowed"
    long_key = issue(client, site, key="k" * 129)
    assert long_key.status_code == 422


def test_issuing_is_rate_limited_per_kiosk(make_client, site, database):
    client = make_client(ISSUE_LIMIT_PER_KIOSK="3/minute")
    statuses = [issue(client, site, kiosk="entrance").status_code for _ in range(4)]
    assert statuses == [201, 201, 201, 429]
    limited = issue(client, site, kiosk="entrance")
    assert limited.get_json()["error"]["code"] == "rate_limited"
    assert issue(client, site, kiosk="upstairs").status_code == 201  # another kiosk
    assert ticket_count(database) == 4


def test_issuing_is_rate_limited_per_address(make_client, site):
    client = make_client(ISSUE_LIMIT_PER_ADDRESS="2/minute")
    statuses = [issue(client, site, kiosk=None).status_code for _ in range(3)]
    assert statuses == [201, 201, 429]
    # A paired kiosk at the same address spends its own bucket, not the address's.
    assert issue(client, site, kiosk="entrance").status_code == 201


def test_cancel_over_http(client, site):
    token = issue(client, site).get_json()["token"]
    cancelled = client.post(f"/api/v1/tickets/{token}/cancel")
    assert cancelled.status_code == 200 and cancelled.get_json()["state"] == "cancelled"
    again = client.post(f"/api/v1/tickets/{token}/cancel")
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "finished"


def test_queues(client, site):
    issue(client, site)
    issue(client, site)
    body = client.get(f"/api/v1/sites/{site.id}/queues").get_json()
    registration = next(s for s in body["services"] if s["prefix"] == "A")
    assert registration["waiting"] == 2 and registration["oldest_arrival"].endswith("Z")
    assert registration["name"] == "Εγγραφή"  # the site language by default
    assert registration["estimated_wait_minutes"] is None  # no desk open: no made-up figure
    in_english = client.get(f"/api/v1/sites/{site.id}/queues?language=en").get_json()
    assert in_english["services"][0]["name"] == "Registration"


def test_kiosk_pages(client, site):
    unpaired = client.get("/kiosk/small/entrance")
    assert unpaired.status_code == 403 and "This kiosk is not paired" in unpaired.text
    client.set_cookie(SECRET_COOKIE, kiosk_headers(client, "small")["X-Kiosk-Secret"])
    start = client.get("/kiosk/small/entrance")
    assert start.status_code == 200
    assert 'lang="ar" dir="rtl"' in start.text and "العربية" in start.text
    services = client.get("/kiosk/small/entrance/ar")
    assert services.status_code == 200 and '<html lang="ar" dir="rtl">' in services.text
    assert "التسجيل" in services.text
    assert client.get("/kiosk/small/entrance/zz").status_code == 422
    assert client.get("/kiosk/small/nowhere").status_code == 404
    assert client.get("/kiosk/small/entrance/en/appointment").status_code == 200

    token = issue(client, site, language="en").get_json()["token"]
    confirmation = client.get(f"/kiosk/small/entrance/en/ticket/{token}")
    assert confirmation.status_code == 200
    assert "A-001" in confirmation.text and "<svg" in confirmation.text  # the QR code
    mobile = client.get(f"/t/{token}")
    assert mobile.status_code == 200 and "A-001" in mobile.text


def test_printer_status_for_the_kiosk_screen(client, site, live):
    assert client.get("/api/v1/sites/small/kiosks/entrance/printer").get_json()["status"] == \
        "unknown"
    live.redis.hset("tessera:{small}:printers", "entrance",
                    '{"status": "paper_out", "message": "out of paper", "at": "now"}')
    assert client.get("/api/v1/sites/small/kiosks/entrance/printer").get_json()["status"] == \
        "paper_out"
    assert client.get("/api/v1/sites/small/kiosks/nowhere/printer").status_code == 404
