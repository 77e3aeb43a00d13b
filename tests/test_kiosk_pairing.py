"""Kiosks authenticate with a paired secret: pairing codes (the code on the kiosk's screen
that an admin confirms, and the pair-device command's code typed on the kiosk), printing
only for paired kiosks, rate limits per real kiosk and per client address, and the 429 a
visitor reads. The admin's side of pairing is in test_admin_devices.py."""

import datetime as dt
import re

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from tessera.clock import utc_now
from tessera.devices.pairing import (
    SECRET_COOKIE,
    NotPaired,
    authenticate,
    collect_secret,
    confirm_screen_code,
    pair,
    show_screen_code,
    start_pairing,
)
from tessera.errors import InvalidInput
from tessera.models import Device, DeviceKind, Event, Ticket
from tessera.printing.jobs import print_queue

from .helpers import kiosk_headers, pair_client, pair_kiosk

ISSUE = "/api/v1/sites/small/tickets"


def ticket_request(site, language="en") -> dict:
    """A valid ticket request body."""
    return {"services": [site.services["registration"]], "language": language}


def from_address(address: str) -> dict:
    """Test client options for a request from another client address."""
    return {"environ_base": {"REMOTE_ADDR": address}}


def ticket_count(database) -> int:
    """Tickets in SQL."""
    with database.session() as session:
        return session.scalar(select(func.count()).select_from(Ticket))


# Pairing -------------------------------------------------------------------------------

def test_a_pairing_code_works_once(database, site):
    now = utc_now()
    with database.session() as session:
        code, expires = start_pairing(session, "small", "entrance", now)
        assert re.fullmatch(r"[2-9A-Z]{4}-[2-9A-Z]{4}", code) and expires > now
    with database.session() as session:
        secret = pair(session, "small", "entrance", code.lower().replace("-", " "), now)
    with database.session() as session:
        kiosk = authenticate(session, "small", secret, now)
        assert kiosk.key == "entrance" and kiosk.paired_at == now
        assert kiosk.last_seen_at == now
        # Only hashes are kept.
        assert secret not in (kiosk.secret_hash or "") and kiosk.pairing_code_hash is None
    with pytest.raises(NotPaired), database.session() as session:
        pair(session, "small", "entrance", code, now)
    with database.session() as session:
        assert authenticate(session, "small", "not-the-secret") is None
        assert authenticate(session, "other-site", secret) is None


def test_the_code_on_the_screen_becomes_the_kiosks_secret_once_confirmed(database, site,
                                                                         redis_client):
    now = utc_now()
    shown = show_screen_code(redis_client, "small", DeviceKind.KIOSK, "entrance", None, now)
    assert re.fullmatch(r"[2-9A-Z]{4}-[2-9A-Z]{4}", shown.code) and shown.new
    again = show_screen_code(redis_client, "small", DeviceKind.KIOSK, "entrance", shown.claim,
                             now)
    assert (again.code, again.claim, again.new) == (shown.code, shown.claim, False)
    with database.session() as session:
        assert collect_secret(session, "small", DeviceKind.KIOSK, "entrance", shown.claim,
                              now) is None
    with pytest.raises(InvalidInput), database.session() as session:
        confirm_screen_code(session, redis_client, "small", "upstairs", shown.code, now, None)
    with database.session() as session:
        confirm_screen_code(session, redis_client, "small", "entrance", shown.code, now, None)
    with database.session() as session:
        kiosk = collect_secret(session, "small", DeviceKind.KIOSK, "entrance", shown.claim, now)
        assert kiosk.key == "entrance" and kiosk.secret_hash != shown.claim
        # The claim is the secret now, for this kiosk only.
        assert collect_secret(session, "small", DeviceKind.KIOSK, "upstairs", shown.claim,
                              now) is None
        assert authenticate(session, "small", shown.claim).key == "entrance"
    with pytest.raises(InvalidInput), database.session() as session:
        confirm_screen_code(session, redis_client, "small", "entrance", shown.code, now, None)


def test_the_command_codes_pairing_is_in_the_audit_trail(database, site):
    pair_kiosk(database, "small")
    with database.session() as session:
        entry = session.scalars(select(Event).where(Event.kind == "device_paired")).one()
    assert entry.data["subject"] == {"type": "device", "kind": "kiosk", "key": "entrance"}
    assert entry.data["via"] == "command_code" and entry.staff_id is None


def test_a_pairing_code_expires_and_belongs_to_one_kiosk(database, site):
    now = utc_now()
    with database.session() as session:
        code, _ = start_pairing(session, "small", "entrance", now, minutes=5)
    with pytest.raises(NotPaired), database.session() as session:
        pair(session, "small", "upstairs", code, now)  # another kiosk's code
    with pytest.raises(NotPaired), database.session() as session:
        pair(session, "small", "entrance", code, now + dt.timedelta(minutes=5))
    with database.session() as session:
        assert session.scalars(select(Device).where(
            Device.key == "entrance")).one().secret_hash is None


def test_the_kiosk_pairing_page_sets_an_httponly_strict_cookie(client, site, database):
    assert client.get("/kiosk/small/entrance").status_code == 403  # not paired yet
    with database.session() as session:
        code, _ = start_pairing(session, "small", "entrance", utc_now())
    form = client.get(f"/kiosk/small/entrance/pair?code={code}")
    assert form.status_code == 200 and f'value="{code}"' in form.text
    wrong = client.post("/kiosk/small/entrance/pair", data={"code": "AAAA-AAAA"})
    assert wrong.status_code == 422 and "wrong or has expired" in wrong.text
    paired = client.post("/kiosk/small/entrance/pair", data={"code": code})
    assert paired.status_code == 302
    cookie = paired.headers["Set-Cookie"]
    assert cookie.startswith(f"{SECRET_COOKIE}=") and "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie and "Max-Age=" in cookie
    assert client.get("/kiosk/small/entrance").status_code == 200
    # The cookie is the kiosk's proof when its page issues (no secret header).
    issued = client.post(ISSUE, json=ticket_request(site), headers={"X-Kiosk": "entrance"})
    assert issued.status_code == 201
    # The code worked once.
    again = client.post("/kiosk/small/entrance/pair", data={"code": code})
    assert again.status_code == 422


def test_an_unpaired_kiosk_shows_staff_it_is_not_paired(client, site):
    page = client.get("/kiosk/small/entrance/en")
    assert page.status_code == 403
    assert "This kiosk is not paired" in page.text
    assert re.search(r"data-pairing-code>[2-9A-Z]{4}-[2-9A-Z]{4}<", page.text)
    assert "/kiosk/small/entrance/pair" in page.text
    # Another kiosk's cookie is not this kiosk's.
    pair_client(client, "small", "upstairs")
    assert client.get("/kiosk/small/entrance/en").status_code == 403
    assert client.get("/kiosk/small/upstairs/en").status_code == 200


def test_pair_device_command_prints_the_code_and_link_once(database, database_url, site,
                                                          monkeypatch):
    from tessera import cli

    monkeypatch.setattr(cli.Config, "DATABASE_URL", database_url)
    monkeypatch.setattr(cli.Config, "PUBLIC_URL", "https://queue.example")
    result = CliRunner().invoke(cli.cli, ["pair-device", "--site", "small",
                                          "--device", "entrance", "--minutes", "10"])
    assert result.exit_code == 0, result.output
    code = re.search(r"\b([2-9A-Z]{4}-[2-9A-Z]{4})\b", result.output).group(1)
    assert f"https://queue.example/kiosk/small/entrance/pair?code={code}" in result.output
    with database.session() as session:
        assert pair(session, "small", "entrance", code, utc_now())
    unknown = CliRunner().invoke(cli.cli, ["pair-device", "--site", "small",
                                           "--device", "nowhere"])
    assert unknown.exit_code != 0 and "nowhere" in unknown.output


# Printing only for paired kiosks ---------------------------------------------------------

def test_an_unpaired_kiosk_cannot_print(client, site, database, redis_client):
    claimed = client.post(ISSUE, json=ticket_request(site), headers={"X-Kiosk": "entrance"})
    assert claimed.status_code == 401
    assert claimed.get_json()["error"]["code"] == "kiosk_not_paired"
    forged = client.post(ISSUE, json=ticket_request(site),
                         headers={"X-Kiosk": "entrance", "X-Kiosk-Secret": "guess"})
    assert forged.status_code == 401
    assert ticket_count(database) == 0 and print_queue(redis_client).count == 0
    paired = client.post(ISSUE, json=ticket_request(site), headers=kiosk_headers(client, "small"))
    assert paired.status_code == 201 and print_queue(redis_client).count == 1


def test_another_kiosks_secret_does_not_print_here(client, site, database, redis_client):
    upstairs = kiosk_headers(client, "small", "upstairs")["X-Kiosk-Secret"]
    answer = client.post(ISSUE, json=ticket_request(site),
                         headers={"X-Kiosk": "entrance", "X-Kiosk-Secret": upstairs})
    assert answer.status_code == 401 and ticket_count(database) == 0


# Rate limits -----------------------------------------------------------------------------

def test_bad_requests_from_one_address_do_not_block_another(make_client, site, database):
    client = make_client(ISSUE_LIMIT_PER_ADDRESS="20/minute")
    for _ in range(21):
        client.post(ISSUE, json={"services": "nonsense"}, **from_address("10.0.0.66"))
    assert client.post(ISSUE, json=ticket_request(site),
                       **from_address("10.0.0.66")).status_code == 429
    good = client.post(ISSUE, json=ticket_request(site), **from_address("10.0.0.7"))
    assert good.status_code == 201
    # Nor do they spend a paired kiosk's own bucket.
    kiosk = client.post(ISSUE, json=ticket_request(site), headers=kiosk_headers(client, "small"),
                        **from_address("10.0.0.66"))
    assert kiosk.status_code == 201


def test_nobody_spends_a_kiosks_bucket_without_its_secret(make_client, site):
    client = make_client(ISSUE_LIMIT_PER_KIOSK="2/minute", ISSUE_LIMIT_PER_ADDRESS="50/minute")
    headers = kiosk_headers(client, "small")
    for _ in range(10):
        spent = client.post(ISSUE, json=ticket_request(site), headers={"X-Kiosk": "entrance"},
                            **from_address("10.0.0.66"))
        assert spent.status_code == 401
    statuses = [client.post(ISSUE, json=ticket_request(site), headers=headers).status_code
                for _ in range(3)]
    assert statuses == [201, 201, 429]


def test_rotating_x_kiosk_does_not_dodge_the_address_limit(make_client, site, database):
    client = make_client(ISSUE_LIMIT_PER_ADDRESS="3/minute")
    statuses = [client.post(ISSUE, json=ticket_request(site),
                            headers={"X-Kiosk": kiosk}).status_code
                for kiosk in ("entrance", "upstairs", "entrance", "upstairs", "entrance")]
    assert statuses == [401, 401, 401, 429, 429]
    assert client.post(ISSUE, json=ticket_request(site)).status_code == 429
    assert ticket_count(database) == 0


def test_the_429_is_worded_for_a_visitor_in_the_kiosk_language(make_client, site):
    client = make_client(ISSUE_LIMIT_PER_KIOSK="1/minute")
    headers = {**kiosk_headers(client, "small"), "Accept-Language": "en"}
    assert client.post(ISSUE, json=ticket_request(site), headers=headers).status_code == 201
    limited = client.post(ISSUE, json=ticket_request(site), headers=headers)
    assert limited.status_code == 429
    error = limited.get_json()["error"]
    assert error["code"] == "rate_limited" and error["retry_after"] >= 1
    assert error["message"] == ("Many tickets were asked for here just now. Please wait a "
                                "minute and try again, or ask at the reception.")


def test_check_in_is_limited_and_authenticated_the_same_way(client, site):
    answer = client.post("/api/v1/sites/small/check-in", json={"code": "QQQQQQ"},
                         headers={"X-Kiosk": "entrance"})
    assert answer.status_code == 401


def test_pairing_again_replaces_the_secret(database, site):
    first = pair_kiosk(database, "small")
    second = pair_kiosk(database, "small")
    with database.session() as session:
        assert authenticate(session, "small", first) is None
        assert authenticate(session, "small", second).key == "entrance"


def test_pairing_codes_cannot_be_guessed_quickly(client, site):
    statuses = [client.post("/kiosk/small/entrance/pair", data={"code": f"AAAA-AAA{n}"}
                            ).status_code for n in range(2, 13)]
    assert statuses == [422] * 10 + [429]


def test_the_429_follows_the_visitors_language(make_client, site):
    from flask_babel import force_locale

    from tessera.api.tickets import issue_limit_message

    client = make_client(ISSUE_LIMIT_PER_KIOSK="1/minute")
    headers = {**kiosk_headers(client, "small"), "Accept-Language": "ar"}
    client.post(ISSUE, json=ticket_request(site, "ar"), headers=headers)
    limited = client.post(ISSUE, json=ticket_request(site, "ar"), headers=headers)
    with client.application.test_request_context(), force_locale("ar"):
        expected = issue_limit_message()  # the Arabic catalogue's text, once translated
    assert limited.status_code == 429 and limited.get_json()["error"]["message"] == expected
