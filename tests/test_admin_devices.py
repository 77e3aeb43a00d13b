"""/admin/devices: registering kiosks and displays, pairing each by the code on its
screen, revoking, the printer and a test page through the print worker; admins only."""

import re

import pytest
from rq import SimpleWorker
from sqlalchemy import select

from tessera.audit import DEVICE_KINDS, list_audit
from tessera.devices.pairing import (
    DISPLAY_SECRET_COOKIE,
    SECRET_COOKIE,
    authenticate,
)
from tessera.devices.registry import printer_settings
from tessera.errors import InvalidInput
from tessera.models import Device, DeviceKind, Event, Ticket
from tessera.printing.jobs import print_queue

from .helpers import sign_in

ISSUE = "/api/v1/sites/small/tickets"
CODE = re.compile(r"data-pairing-code>([2-9A-Z]{4}-[2-9A-Z]{4})<")


def token(client, path: str) -> str:
    """The CSRF token of a page's forms."""
    page = client.get(path).text
    return re.search(r'name="csrf_token"[^>]* value="([^"]+)"', page).group(1)


def admin(make_client, username="anna"):
    """A signed-in client, and a device browser beside it (another client: other cookies)."""
    client = make_client()
    sign_in(client, username)
    return client


def devices(database) -> dict:
    """The site's devices by key."""
    with database.session() as session:
        return {device.key: device for device in session.scalars(select(Device))}


def kinds(database) -> list[str]:
    """The device audit entries' kinds, oldest first."""
    with database.session() as session:
        return list(session.scalars(select(Event.kind).where(
            Event.kind.in_((*DEVICE_KINDS, "device_changed"))).order_by(Event.id)))


def screen_code(device_browser, path: str) -> str:
    """The code an unpaired device's screen shows."""
    page = device_browser.get(path)
    assert page.status_code == 403
    return CODE.search(page.text).group(1)


def pair(client, key: str, code: str):
    """Type a screen's code next to a device on /admin/devices."""
    return client.post(f"/admin/devices/{key}/pair",
                       data={"code": code, "csrf_token": token(client, "/admin/devices")})


# The list and who may see it -----------------------------------------------------------

def test_only_an_admin_manages_devices(make_client, admins):
    for username in ("omar", "kostas", "maria"):
        client = admin(make_client, username)
        assert client.get("/admin/devices").status_code == 403
        assert client.get("/admin/devices/new").status_code == 403
        assert client.post("/admin/devices/entrance/revoke").status_code in (400, 403)
    anna = admin(make_client)
    page = anna.get("/admin/devices")
    assert page.status_code == 200
    assert 'data-device="entrance"' in page.text and "dummy (TM-T88III)" in page.text
    assert "Not paired" in page.text and "Never" in page.text


def test_registering_a_device_and_its_bad_inputs(make_client, admins, database):
    anna = admin(make_client)
    csrf = token(anna, "/admin/devices/new")
    bad = [({"key": "Hall TV", "name": "Hall TV", "kind": "display"}, "lower-case letters"),
           ({"key": "hall-tv", "name": " ", "kind": "display"}, "name of 1 to 100"),
           ({"key": "entrance", "name": "Again", "kind": "kiosk"}, "already a device"),
           ({"key": "back", "name": "Back", "kind": "kiosk", "printer_type": "network"},
            "A network printer needs this setting"),
           ({"key": "back", "name": "Back", "kind": "kiosk", "printer_type": "file",
             "path": "/etc/passwd"}, "inside the instance folder"),
           ({"key": "back", "name": "Back", "kind": "kiosk", "printer_type": "network",
             "host": "10.0.0.9", "port": "99999"}, "from 1 to 65535")]
    for form, message in bad:
        answer = anna.post("/admin/devices/new", data={**form, "csrf_token": csrf})
        assert answer.status_code == 422 and message in answer.text, message
    assert set(devices(database)) == {"entrance", "upstairs"}
    for form in ({"key": "hall-tv", "name": "Hall TV", "kind": "display"},
                 {"key": "back", "name": "Back door", "kind": "kiosk",
                  "printer_type": "network", "host": "10.0.0.9", "port": "9101"}):
        answer = anna.post("/admin/devices/new", data={**form, "csrf_token": csrf})
        assert answer.status_code == 302
    registered = devices(database)
    assert registered["hall-tv"].kind == DeviceKind.DISPLAY
    assert registered["hall-tv"].settings == {"name": "Hall TV"}
    assert registered["back"].settings == {
        "name": "Back door", "printer": {"type": "network", "host": "10.0.0.9", "port": 9101}}
    assert registered["back"].secret_hash is None
    assert kinds(database)[-2:] == ["device_registered", "device_registered"]


def test_editing_a_kiosks_name_and_printer(make_client, admins, database):
    anna = admin(make_client)
    form = anna.get("/admin/devices/entrance")
    assert form.status_code == 200 and 'value="TM-T88III"' in form.text
    assert "Edit the kiosk entrance" in form.text
    csrf = token(anna, "/admin/devices/entrance")
    wrong = anna.post("/admin/devices/entrance", data={
        "csrf_token": csrf, "name": "Entrance", "printer_type": "dummy", "profile": "no-such"})
    assert wrong.status_code == 422 and "not a printer profile" in wrong.text
    saved = anna.post("/admin/devices/entrance", data={
        "csrf_token": csrf, "name": "Entrance kiosk", "printer_type": "file",
        "path": "printer/entrance.bin", "preview": "y"})
    assert saved.status_code == 302
    assert devices(database)["entrance"].settings == {
        "name": "Entrance kiosk", "printer": {"type": "file", "path": "printer/entrance.bin",
                                              "preview": True}}
    with database.session() as session:
        entry = list_audit(session, "small", kinds=("device_changed",))[0]
    assert entry.before["printer"]["type"] == "dummy" and entry.after["name"] == "Entrance kiosk"
    assert anna.get("/admin/devices/nowhere").status_code == 404


def test_printer_settings_for_every_type():
    assert printer_settings({"type": ""}) == {}
    assert printer_settings({"type": "usb", "vendor_id": "0x04b8", "product_id": "0202"}) == {
        "type": "usb", "vendor_id": "0x04b8", "product_id": "0202"}
    assert printer_settings({"type": "serial", "device": "/dev/ttyS0", "baudrate": "19200"}) \
        == {"type": "serial", "device": "/dev/ttyS0", "baudrate": 19200}
    assert printer_settings({"type": "cups", "name": "tickets"})["name"] == "tickets"
    assert printer_settings({"type": "file", "path": "/dev/usb/lp0"})["path"] == "/dev/usb/lp0"
    for values, field in (({"type": "fax"}, "printer.type"),
                          ({"type": "usb", "vendor_id": "zz", "product_id": "1"},
                           "printer.vendor_id"),
                          ({"type": "file", "path": "../outside.bin"}, "printer.path")):
        with pytest.raises(InvalidInput) as refused:
            printer_settings(values)
        assert refused.value.details["field"] == field


# Pairing by the code on the screen ---------------------------------------------------------

def test_a_kiosk_is_paired_by_the_code_on_its_screen(make_client, admins, database, site,
                                                    clock):
    anna = admin(make_client)
    kiosk = make_client()
    code = screen_code(kiosk, "/kiosk/small/entrance")
    # The screen shows the same code while it works; its poll says it waits.
    assert screen_code(kiosk, "/kiosk/small/entrance/en") == code
    waiting = kiosk.get("/kiosk/small/entrance/pairing-code").get_json()
    assert waiting == {"paired": False, "code": code}
    # A wrong code, or this code for another kiosk: refused, nothing paired.
    wrong = pair(anna, "entrance", "AAAA-AAAA")
    assert wrong.status_code == 422 and "No kiosk shows this code" in wrong.text
    assert pair(anna, "upstairs", code).status_code == 422
    assert all(device.secret_hash is None for device in devices(database).values())

    assert pair(anna, "entrance", code.lower().replace("-", " ")).status_code == 302
    answer = kiosk.get("/kiosk/small/entrance/pairing-code")
    assert answer.get_json() == {"paired": True, "next": "/kiosk/small/entrance"}
    cookie = next(c for c in answer.headers.getlist("Set-Cookie")
                  if c.startswith(f"{SECRET_COOKIE}="))
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert kiosk.get("/kiosk/small/entrance").status_code == 200
    issued = kiosk.post(ISSUE, json={"services": [site.services["registration"]],
                                     "language": "en"}, headers={"X-Kiosk": "entrance"})
    assert issued.status_code == 201
    # The code worked once.
    assert pair(anna, "entrance", code).status_code == 422
    listed = anna.get("/admin/devices").text
    assert "Paired on 2026-11-23 10:00" in listed
    with database.session() as session:
        paired = list_audit(session, "small", kinds=("device_paired",))
    assert [(e.subject["key"], e.actor, e.details["via"]) for e in paired] == \
        [("entrance", "anna", "screen_code")]


def test_a_screen_code_expires_and_the_screen_shows_a_new_one(make_client, admins, database,
                                                             clock):
    kiosk = make_client()
    code = screen_code(kiosk, "/kiosk/small/entrance")
    clock.advance(minutes=15)
    # Signed in now: a session idle for those 15 minutes would have ended.
    anna = admin(make_client)
    assert pair(anna, "entrance", code).status_code == 422
    fresh = kiosk.get("/kiosk/small/entrance/pairing-code").get_json()
    assert fresh["paired"] is False and fresh["code"] != code
    assert pair(anna, "entrance", fresh["code"]).status_code == 302
    assert kiosk.get("/kiosk/small/entrance/pairing-code").get_json()["paired"] is True


def test_displays_pair_once_the_site_registers_one(make_client, admins, database):
    hall = make_client()
    assert hall.get("/display/small").status_code == 200  # no display registered: open
    anna = admin(make_client)
    anna.post("/admin/devices/new", data={"key": "hall-tv", "name": "Hall TV",
                                          "kind": "display",
                                          "csrf_token": token(anna, "/admin/devices/new")})
    page = hall.get("/display/small/upstairs")
    assert page.status_code == 403 and "This display is not paired" in page.text
    code = CODE.search(page.text).group(1)
    assert pair(anna, "entrance", code).status_code == 422  # a display's code, not a kiosk's
    assert pair(anna, "hall-tv", code).status_code == 302
    answer = hall.get("/display/small/pairing-code")
    assert answer.get_json()["paired"] is True
    assert any(c.startswith(f"{DISPLAY_SECRET_COOKIE}=") for c in
               answer.headers.getlist("Set-Cookie"))
    assert hall.get("/display/small/upstairs").status_code == 200
    assert devices(database)["hall-tv"].last_seen_at is not None
    # Revoked: the screen is refused the hall and shows a pairing code again.
    anna.post("/admin/devices/hall-tv/revoke",
              data={"csrf_token": token(anna, "/admin/devices")})
    again = hall.get("/display/small")
    assert again.status_code == 403 and CODE.search(again.text)


# Revoking ---------------------------------------------------------------------------------

def test_a_revoked_kiosk_issues_and_prints_nothing(make_client, admins, database, site,
                                                  redis_client):
    anna = admin(make_client)
    kiosk = make_client()
    pair(anna, "entrance", screen_code(kiosk, "/kiosk/small/entrance"))
    kiosk.get("/kiosk/small/entrance/pairing-code")
    secret = kiosk.get_cookie(SECRET_COOKIE).value
    body = {"services": [site.services["registration"]], "language": "en"}
    assert kiosk.post(ISSUE, json=body, headers={"X-Kiosk": "entrance"}).status_code == 201
    assert print_queue(redis_client).count == 1

    revoked = anna.post("/admin/devices/entrance/revoke",
                        data={"csrf_token": token(anna, "/admin/devices")})
    assert revoked.status_code == 302
    assert "Revoked" in anna.get("/admin/devices").text
    refused = kiosk.post(ISSUE, json=body, headers={"X-Kiosk-Secret": secret})
    assert refused.status_code == 401
    assert kiosk.post(ISSUE, json=body, headers={"X-Kiosk": "entrance"}).status_code in (401,
                                                                                         404)
    assert kiosk.get("/kiosk/small/entrance").status_code == 404
    with database.session() as session:
        assert session.scalars(select(Ticket)).all().__len__() == 1
        assert authenticate(session, "small", secret) is None
    assert print_queue(redis_client).count == 1
    # Back in service, it is not paired: it shows a code again.
    anna.post("/admin/devices/entrance/reinstate",
              data={"csrf_token": token(anna, "/admin/devices")})
    assert CODE.search(kiosk.get("/kiosk/small/entrance").text)
    assert kinds(database)[-3:] == ["device_paired", "device_revoked", "device_changed"]


# The test page ----------------------------------------------------------------------------

@pytest.fixture
def worker_environment(monkeypatch, database_url, redis_url, tmp_path):
    """The print worker's environment, its instance folder a temporary one."""
    import tessera.devices.printer_check as printer_check

    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("PUBLIC_URL", "https://tessera.example/")
    monkeypatch.setattr(printer_check, "INSTANCE_DIRECTORY", tmp_path)
    return tmp_path


def test_a_test_page_reaches_the_file_printer(make_client, admins, database, redis_client,
                                              live, worker_environment):
    anna = admin(make_client)
    anna.post("/admin/devices/entrance", data={
        "csrf_token": token(anna, "/admin/devices/entrance"), "name": "Entrance",
        "printer_type": "file", "path": "printer/entrance.bin", "profile": "TM-T88III"})
    asked = anna.post("/admin/devices/entrance/test-print",
                      data={"csrf_token": token(anna, "/admin/devices")})
    assert asked.status_code == 302
    result_page = asked.headers["Location"]
    assert 'data-test-print="waiting"' in anna.get(result_page).text

    SimpleWorker([print_queue(redis_client)], connection=redis_client).work(burst=True)

    printed = (worker_environment / "printer" / "entrance.bin").read_bytes()
    # In the site's language (Greek): its words are printed as a raster image (GS v 0),
    # the kiosk's key and its address as text.
    assert b"\x1dv0" in printed and b"entrance" in printed
    assert b"https://tessera.example/kiosk/small/entrance" in printed
    assert 'data-test-print="printed"' in anna.get(result_page).text
    assert live.printer_statuses("small")["entrance"]["status"] == "ok"
    with database.session() as session:
        assert session.scalars(select(Ticket)).first() is None  # a page, not a ticket


def test_a_failed_test_page_says_why(make_client, admins, database, redis_client, live,
                                     worker_environment):
    from .helpers import closed_port, set_printer

    set_printer(database, {"type": "network", "host": "127.0.0.1", "port": closed_port()})
    anna = admin(make_client)
    asked = anna.post("/admin/devices/entrance/test-print",
                      data={"csrf_token": token(anna, "/admin/devices")})
    SimpleWorker([print_queue(redis_client)], connection=redis_client).work(burst=True)
    page = anna.get(asked.headers["Location"]).text
    assert 'data-test-print="failed"' in page and "offline: " in page and "PrintFailed" not in page
    assert live.printer_statuses("small")["entrance"]["status"] == "offline"
    # A kiosk without a printer has no test page to print.
    none = anna.post("/admin/devices/upstairs/test-print",
                     data={"csrf_token": token(anna, "/admin/devices")}, follow_redirects=True)
    assert "with a printer can print a test page" in none.text
