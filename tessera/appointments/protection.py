"""Against slot hoarding by bots: the proof of work, rate limits, the cap per contact.

Plain functions, each given what it checks against (a Redis client, a rate limiter of
the `limits` library, an SQL session), so tests call them without HTTP. The web side
(tessera/web/booking_guard.py) puts them together for a visitor's booking.

The proof of work is ALTCHA's PoW v2 (the `altcha` package), in its deterministic
mode: the challenge fixes how much work a browser does, and the server checks a
solution with one HMAC. The library checks a challenge's expiry against the wall
clock, so challenges use it too (not the engine's clock, which tests move by hand).
"""

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass

import altcha
import redis
from flask_babel import gettext as _
from flask_babel import ngettext
from limits import parse
from limits.strategies import RateLimiter
from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from tessera.errors import Conflict, Forbidden, TooManyRequests
from tessera.models import Appointment, AppointmentState

# PBKDF2 is what the widget computes with the browser's own Web Crypto, in workers.
CHALLENGE_ALGORITHM = "PBKDF2/SHA-256"
# A payload longer than this is no ALTCHA payload; it is refused before being decoded.
MAX_PAYLOAD_LENGTH = 4096
USED_CHALLENGE_KEY = "tessera:booking-challenge:used:"
OFF = ("off", "false", "no", "0")
# Characters a phone number may be written with besides its digits (see booking.PHONE).
PHONE_PUNCTUATION = (" ", "-", "(", ")", "+")


@dataclass(frozen=True)
class ChallengeSettings:
    """How hard and how long-lived a booking challenge is, and the secrets that sign it."""

    signature_secret: bytes
    key_secret: bytes
    cost: int
    counter: int
    seconds: int

    @classmethod
    def from_config(cls, config) -> "ChallengeSettings":
        """The settings of an app's configuration; both secrets derive from SECRET_KEY."""
        return cls(derived_secret(config["SECRET_KEY"], "booking challenge signature"),
                   derived_secret(config["SECRET_KEY"], "booking challenge key"),
                   config["BOOKING_CHALLENGE_COST"], config["BOOKING_CHALLENGE_COUNTER"],
                   config["BOOKING_CHALLENGE_SECONDS"])


def derived_secret(secret_key: str, purpose: str) -> bytes:
    """A key for one purpose from the app's SECRET_KEY, so no two uses share a key."""
    return hmac.new(secret_key.encode(), purpose.encode(), hashlib.sha256).digest()


def challenge_enabled(value: str | bool | None) -> bool:
    """Whether BOOKING_CHALLENGE asks for the proof of work: on unless it says off."""
    if isinstance(value, bool):
        return value
    return (value or "on").strip().lower() not in OFF


def new_challenge(settings: ChallengeSettings, now: float | None = None) -> dict:
    """A signed challenge for the widget, as JSON; `now` (a Unix time) is the wall clock's.

    The counter the browser must find is drawn between half the setting and the
    setting, so the work varies a little and cannot be skipped.
    """
    now = time.time() if now is None else now
    least = settings.counter // 2
    counter = least + secrets.randbelow(settings.counter - least + 1)
    challenge = altcha.create_challenge(
        CHALLENGE_ALGORITHM, settings.cost, counter=counter,
        expires_at=int(now) + settings.seconds,
        hmac_secret=settings.signature_secret, hmac_key_secret=settings.key_secret)
    return challenge.to_dict()


def verify_challenge(client: redis.Redis, settings: ChallengeSettings,
                     payload: str | None) -> None:
    """Accept a solved challenge once, or refuse: missing, wrong or forged, expired, used.

    A payload is marked used (Redis SET NX) until its challenge expires, so a bot
    cannot solve once and book many times with the same answer.
    """
    if not payload:
        raise Forbidden(_("The security check of this page has not finished yet. Please wait "
                          "a moment and send again."), "challenge_required")
    if len(payload) > MAX_PAYLOAD_LENGTH:
        raise _challenge_failed()
    result = altcha.verify_solution(payload, settings.signature_secret,
                                    hmac_key_secret=settings.key_secret)
    if result.expired:
        raise Forbidden(_("The security check is too old. Please send again."),
                        "challenge_expired")
    if not result.verified:
        raise _challenge_failed()
    challenge = _decoded(payload)["challenge"]
    seconds_left = int(challenge["parameters"]["expiresAt"] - time.time()) + 1
    key = USED_CHALLENGE_KEY + challenge["signature"]
    if not client.set(key, 1, nx=True, ex=max(seconds_left, 1)):
        raise Forbidden(_("This security check was already used. Please send again."),
                        "challenge_used")


def _decoded(payload: str) -> dict:
    try:
        return json.loads(base64.b64decode(payload))
    except (binascii.Error, ValueError):
        raise _challenge_failed() from None


def _challenge_failed() -> Forbidden:
    return Forbidden(_("The security check did not succeed. Please send again."),
                     "challenge_failed")


# Contacts ---------------------------------------------------------------------------

def normalised_email(email: str | None) -> str | None:
    """An email address as compared: without spaces around it, in lower case."""
    email = (email or "").strip().lower()
    return email or None


def normalised_phone(phone: str | None) -> str | None:
    """A phone number as compared: its digits only, without an international 00 prefix."""
    digits = "".join(character for character in phone or "" if character.isdigit())
    return digits.removeprefix("00") or None


def _phone_in_sql(column):
    """normalised_phone() in SQL, the same in SQLite and PostgreSQL."""
    for character in PHONE_PUNCTUATION:
        column = func.replace(column, character, "")
    return case((func.substr(column, 1, 2) == "00", func.substr(column, 3)), else_=column)


def active_appointments(session: Session, site_id: str, email: str | None, phone: str | None,
                        now: dt.datetime) -> int:
    """How many held or booked appointments still to come at the site have this email or phone.

    A hold whose time has passed takes no place, so it does not count either.
    """
    email, phone = normalised_email(email), normalised_phone(phone)
    same = []
    if email:
        same.append(func.lower(Appointment.email) == email)
    if phone:
        same.append(_phone_in_sql(Appointment.phone) == phone)
    if not same:
        return 0
    live_hold = and_(Appointment.state == AppointmentState.HELD,
                     Appointment.hold_expires_at > now)
    return session.scalar(select(func.count()).select_from(Appointment).where(
        Appointment.site_id == site_id, Appointment.end > now,
        or_(Appointment.state == AppointmentState.BOOKED, live_hold), or_(*same)))


def check_active_cap(session: Session, site_id: str, email: str | None, phone: str | None,
                     now: dt.datetime, most: int) -> None:
    """Refuse a booking for a contact that already has `most` appointments to come.

    Checked before booking, so two bookings at the same instant may pass it together;
    the rate limit per contact bounds what that can win.
    """
    if active_appointments(session, site_id, email, phone, now) >= most:
        raise Conflict(ngettext(
            "You already have %(num)s appointment to come. Please cancel it before booking "
            "another, or ask at the centre.",
            "You already have %(num)s appointments to come. Please cancel one before booking "
            "another, or ask at the centre.", most), "too_many_appointments")


# Rate limits ------------------------------------------------------------------------

def contact_identities(email: str | None, phone: str | None, secret: bytes) -> list[str]:
    """What the per-contact rate limit counts: keyed digests of the normalised contact,
    so that Redis keeps no email address or phone number."""
    values = [("email", normalised_email(email)), ("phone", normalised_phone(phone))]
    return [kind + ":" + hmac.new(secret, value.encode(), hashlib.sha256).hexdigest()[:32]
            for kind, value in values if value]


def hit_limit(limiter: RateLimiter, limit: str, identifiers: Iterable[str],
              message: str) -> None:
    """Count one booking attempt against `limit` ("10/hour"); refuse (429) past it.

    `identifiers` name the counter (prefix, scope, who). The refusal says in how many
    seconds a new window opens (`retry_after`).
    """
    item, identifiers = parse(limit), tuple(identifiers)
    if limiter.hit(item, *identifiers):
        return
    reset_at = limiter.get_window_stats(item, *identifiers).reset_time
    raise TooManyRequests(message, "rate_limited",
                          retry_after=max(int(reset_at - time.time()) + 1, 1))


def address_limit_message() -> str:
    """What a visitor is told when too many bookings came from their address."""
    return _("Too many bookings were tried from this connection. Please try again later, "
             "or ask at the centre.")


def contact_limit_message() -> str:
    """What a visitor is told when too many bookings were tried for their email or phone."""
    return _("Too many bookings were tried for this email address or phone number. Please "
             "try again later, or ask at the centre.")
