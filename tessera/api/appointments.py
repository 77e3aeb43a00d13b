"""Appointments: a service's slots, booking (or holding) one, and the visitor's own appointment."""

import datetime as dt

from flask import Blueprint, current_app, jsonify, request
from flask_babel import gettext as _

from tessera.api.openapi import FIELD_MESSAGES, request_body
from tessera.appointments.availability import MAX_DAYS, get_service, slots
from tessera.appointments.booking import appointment_view, book, cancel, confirm, get_appointment
from tessera.appointments.booking import move as move_appointment
from tessera.appointments.protection import ChallengeSettings, new_challenge
from tessera.errors import InvalidInput, NotFound
from tessera.sites.catalogue import get_site
from tessera.sites.hours import OpeningHours
from tessera.stores import stores
from tessera.web.addresses import manage_url
from tessera.web.booking_guard import challenge_on, protect_booking
from tessera.web.csrf import public

blueprint = Blueprint("appointments", __name__)


def _now() -> dt.datetime:
    # The engine's clock, so that tests (and the simulator) move one time for everything.
    return stores().engine.clock()


def _start(body: dict) -> dt.datetime:
    """The body's `start`, an ISO 8601 time with its offset, as naive UTC."""
    try:
        start = dt.datetime.fromisoformat(body["start"])
    except ValueError:
        start = None
    if start is None or start.tzinfo is None:
        raise InvalidInput(str(FIELD_MESSAGES["start"]), "invalid_start")
    return start.astimezone(dt.UTC).replace(tzinfo=None)


def _answer(appointment, status: int = 200):
    view = appointment_view(appointment)
    view["manage_url"] = manage_url(appointment.token)
    return jsonify(view), status


@blueprint.get("/sites/<site_id>/services/<service_key>/slots")
def service_slots(site_id, service_key):
    """A service's slots: ?from=YYYY-MM-DD (default today), days=N (default 7), language=xx."""
    with stores().database.session() as session:
        site = get_site(session, site_id)
        service = get_service(session, site_id, service_key)
        now = _now()
        try:
            start_day = dt.date.fromisoformat(request.args["from"]) if "from" in request.args \
                else OpeningHours.of(site).local_day(now)
        except ValueError:
            raise InvalidInput(_("'from' must be a date such as 2026-11-24."),
                               "invalid_from") from None
        days = request.args.get("days", "7")
        # isdecimal and short, so int() cannot fail ("²", or thousands of digits).
        if not (days.isdecimal() and len(days) <= 3):
            raise InvalidInput(_("Ask for 1 to %(most)s days of slots.", most=MAX_DAYS),
                               "invalid_days")
        found = slots(session, service, start_day, int(days), request.args.get("language"), now)
        return jsonify({"service": service.id, "timezone": site.timezone,
                        "slots": [slot.as_dict(site.timezone) for slot in found]})


@blueprint.post("/sites/<site_id>/appointments")
@public
def create(site_id):
    """Book a slot: {service, start, language, contact: {email?, phone?}, hold?}."""
    body = request_body()
    key = request.headers.get("Idempotency-Key")
    if key is not None and not 1 <= len(key) <= 128:
        raise InvalidInput(_("An Idempotency-Key has 1 to 128 characters."), "invalid_key")
    # Bots book through the API directly: it is guarded as the booking pages are.
    protect_booking(site_id, body.get("contact"), body.get("altcha"), idempotency_key=key)
    with stores().database.session() as session:
        appointment = book(session, site_id, body["service"], _start(body), body["language"],
                           body.get("contact"), _now(), idempotency_key=key,
                           hold=body.get("hold", False))
        return _answer(appointment, 201)


@blueprint.get("/booking/challenge")
def booking_challenge():
    """A proof-of-work challenge for a booking (the ALTCHA widget fetches it); 404 while off."""
    if not challenge_on():
        raise NotFound(_("Bookings need no security check here."), "challenge_off")
    response = jsonify(new_challenge(ChallengeSettings.from_config(current_app.config)))
    # Each challenge is good once: no cache may hand the same one to two visitors.
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.get("/appointments/<token>")
def appointment(token):
    """An appointment as its holder sees it."""
    with stores().database.session() as session:
        return _answer(get_appointment(session, token, _now()))


@blueprint.post("/appointments/<token>/confirm")
@public
def confirm_hold(token):
    """Turn a hold into a booking before it expires."""
    with stores().database.session() as session:
        return _answer(confirm(session, token, _now()))


@blueprint.post("/appointments/<token>/cancel")
@public
def cancel_appointment(token):
    """The visitor cancels; the place is free again."""
    with stores().database.session() as session:
        return _answer(cancel(session, token, _now()))


@blueprint.post("/appointments/<token>/move")
@public
def move(token):
    """Move to another slot of the same service with a free place: {start}."""
    body = request_body()
    with stores().database.session() as session:
        return _answer(move_appointment(session, token, _start(body), _now()))
