"""The pairing screen of an unpaired kiosk or display, for the kiosk and display pages.

The page shows the code (tessera.devices.pairing.show_screen_code) and keeps the claim
in an HttpOnly cookie; its script asks `pairing_poll` every few seconds, which hands
over the secret cookie once an admin has typed the code on /admin/devices.
"""

from flask import current_app, jsonify, render_template, request

from tessera.devices.pairing import (
    CLAIM_COOKIE,
    SCREEN_CODE_MINUTES,
    collect_secret,
    show_screen_code,
)
from tessera.models import DeviceKind

# A paired device keeps its cookie for years: it is paired once, by an admin.
SECRET_COOKIE_DAYS = 3650
# How often the screen asks whether it is paired yet.
POLL_SECONDS = 3


def _set_cookie(response, name: str, value: str, seconds: int) -> None:
    # HttpOnly: no script on the page can read it; Strict: no other site's page can make
    # the device's browser send it.
    response.set_cookie(name, value, max_age=seconds, httponly=True, samesite="Strict",
                        secure=request.is_secure
                        or bool(current_app.config.get("SECURE_COOKIES")), path="/")


def pairing_screen(stores, template: str, kind: DeviceKind, site_id: str,
                   device_key: str | None, poll_url: str, **context):
    """The 403 page showing this browser's pairing code (a new one, with its claim cookie,
    unless the browser's code still works); `stores` are the app's."""
    shown = show_screen_code(stores.redis, site_id, kind, device_key,
                             request.cookies.get(CLAIM_COOKIE), stores.engine.clock())
    response = current_app.make_response((render_template(
        template, pairing={"code": shown.code, "expires_at": shown.expires_at,
                           "minutes": SCREEN_CODE_MINUTES, "poll_url": poll_url,
                           "poll_seconds": POLL_SECONDS}, **context), 403))
    if shown.new:
        _set_cookie(response, CLAIM_COOKIE, shown.claim, SCREEN_CODE_MINUTES * 60)
    return response


def pairing_poll(stores, kind: DeviceKind, site_id: str, device_key: str | None,
                 secret_cookie: str, next_url: str):
    """What the pairing screen's script asks: {"paired": true, "next"} once an admin has
    confirmed its code (the claim then becomes the device's secret cookie), else
    {"paired": false, "code"}: the code to show, a new one when the old one expired."""
    claim = request.cookies.get(CLAIM_COOKIE)
    now = stores.engine.clock()
    with stores.database.session() as session:
        paired = collect_secret(session, site_id, kind, device_key, claim, now) is not None
    if paired:
        response = jsonify({"paired": True, "next": next_url})
        _set_cookie(response, secret_cookie, claim, SECRET_COOKIE_DAYS * 86400)
        response.delete_cookie(CLAIM_COOKIE, path="/")
        return response
    shown = show_screen_code(stores.redis, site_id, kind, device_key, claim, now)
    response = jsonify({"paired": False, "code": shown.code})
    if shown.new:
        _set_cookie(response, CLAIM_COOKIE, shown.claim, SCREEN_CODE_MINUTES * 60)
    return response
