"""Against slot hoarding: what a visitor's booking must pass before it takes a place.

In this order: a proof of work (ALTCHA, unless BOOKING_CHALLENGE=off), the rate
limits per client address and per contact, and the cap on appointments to come per
contact. Only a booking that is tried counts against the limits: the pages' GETs and
the challenge itself are free, and a booking without a valid proof counts nothing.
The checks are in tessera/appointments/protection.py.
"""

from flask import current_app
from flask_limiter.util import get_remote_address
from sqlalchemy import select

from tessera.appointments.booking import check_contact
from tessera.appointments.protection import (
    ChallengeSettings,
    address_limit_message,
    challenge_enabled,
    check_active_cap,
    contact_identities,
    contact_limit_message,
    derived_secret,
    hit_limit,
    verify_challenge,
)
from tessera.models import Appointment
from tessera.stores import stores
from tessera.web.extensions import limiter


def challenge_on() -> bool:
    """Whether this app asks bookings for the proof of work (BOOKING_CHALLENGE)."""
    return challenge_enabled(current_app.config["BOOKING_CHALLENGE"])


def protect_booking(site_id: str, contact: dict | None, challenge: str | None, *,
                    idempotency_key: str | None = None) -> None:
    """Refuse (with a TesseraError) a visitor's booking that a bot could be making.

    `challenge` is the proof-of-work payload the page's widget posted (form field
    `altcha`), or None. Staff booking on a visitor's behalf does not call this.
    A retry with the Idempotency-Key of an appointment already made passes: booking
    answers it (or refuses a different request under the same key) without a new place.
    """
    config = current_app.config
    database = stores().database
    if idempotency_key and _already_made(database, site_id, idempotency_key):
        return
    # A contact of the wrong shape is refused before anything counts.
    email, phone = check_contact(contact)
    if challenge_on():
        verify_challenge(stores().redis, ChallengeSettings.from_config(config), challenge)
    _hit_address_limit("booking-address")
    if limiter.enabled:
        secret = derived_secret(config["SECRET_KEY"], "booking contact limit")
        for identity in contact_identities(email, phone, secret):
            hit_limit(limiter.limiter, config["BOOKING_LIMIT_PER_CONTACT"],
                      (config["RATELIMIT_KEY_PREFIX"], "booking-contact", identity),
                      contact_limit_message())
    with database.session() as session:
        check_active_cap(session, site_id, email, phone, stores().engine.clock(),
                         config["BOOKING_ACTIVE_PER_CONTACT"])


def protect_hold() -> None:
    """Refuse a hold a visitor's page asks for (before the contact and the proof of work)
    past the per-address limit: holds take places too, for minutes, and a bot renewing
    them as they lapse would hoard as surely as by booking. Counted apart from bookings,
    so that the hold and the booking of one visit do not take two of the same allowance."""
    _hit_address_limit("booking-hold-address")


def protect_waiting_list() -> None:
    """Refuse joining a waiting list past the per-address limit: an entry takes no place,
    but each one is offered the next freed place for hours, so fake ones would hoard too."""
    _hit_address_limit("waiting-list-address")


def _hit_address_limit(scope: str) -> None:
    # RATELIMIT_ENABLED=false switches these limits off with all the others.
    if not limiter.enabled:
        return
    config = current_app.config
    hit_limit(limiter.limiter, config["BOOKING_LIMIT_PER_ADDRESS"],
              (config["RATELIMIT_KEY_PREFIX"], scope, get_remote_address() or "unknown"),
              address_limit_message())


def _already_made(database, site_id: str, idempotency_key: str) -> bool:
    with database.session() as session:
        return session.scalar(select(Appointment.id).where(
            Appointment.site_id == site_id,
            Appointment.idempotency_key == idempotency_key)) is not None
