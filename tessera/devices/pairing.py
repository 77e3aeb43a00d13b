"""Pairing a device (a kiosk or a hall display) with its secret, two ways.

- The code on the device's screen (admin, /admin/devices): an unpaired device shows a
  one-time code; an admin types it next to the device it is on /admin/devices; the
  device, polling, then receives its secret as an HttpOnly cookie. The device's browser
  holds a random claim (a cookie) from the moment it shows the code; the code is derived
  from the claim's hash, and the pending pairing (that hash, the device's kind and key,
  the expiry) waits in Redis under the code. Confirming makes the claim's hash the
  device's secret hash, in SQL: the claim *is* the secret from then on, so nothing is
  lost if Redis is flushed between the admin's confirmation and the device's next poll.
- A code made by `python -m tessera pair-device` that staff type on the kiosk (kept from
  before, for centres set up from the command line).

Only hashes are kept (SHA-256: the codes and secrets are random, so a slow hash adds
nothing); a device with no secret is not trusted to print or to spend its own limit.
"""

import datetime as dt
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from tessera.audit import record_audit
from tessera.errors import InvalidInput, NotFound, TesseraError
from tessera.models import Device, DeviceKind
from tessera.queue.live import site_prefix
from tessera.sites.catalogue import get_kiosk

# No 0/O, 1/I/L: staff type the code on a touch screen from a printout or a phone.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 8
DEFAULT_MINUTES = 15
# Where a kiosk sends its secret: the kiosk page's cookie, or this header (API clients).
SECRET_COOKIE = "tessera_kiosk"
SECRET_HEADER = "X-Kiosk-Secret"
# A hall display's secret, and the claim a device holds while its screen shows a code.
DISPLAY_SECRET_COOKIE = "tessera_display"
CLAIM_COOKIE = "tessera_pairing"
# How long the code on a device's screen works; the screen then shows a new one.
SCREEN_CODE_MINUTES = 15
# A kiosk seen again within this long is not written back (one UPDATE per ticket is enough).
SEEN_EVERY = dt.timedelta(minutes=1)


class NotPaired(TesseraError):
    """The request names a kiosk but does not carry its secret (or carries a wrong one)."""

    status = 401
    code = "kiosk_not_paired"


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def normal_code(code: str) -> str:
    """A typed code as stored: any case, spaces and dashes ignored."""
    return "".join(code.split()).replace("-", "").upper()


def start_pairing(session: Session, site_id: str, kiosk_key: str, now: dt.datetime,
                  minutes: int = DEFAULT_MINUTES) -> tuple[str, dt.datetime]:
    """A fresh one-time code for the kiosk and when it expires; an earlier code stops working.

    The kiosk keeps its current secret until the code is used, so a kiosk being re-paired
    goes on printing meanwhile.
    """
    kiosk = get_kiosk(session, site_id, kiosk_key)
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    kiosk.pairing_code_hash = _hash(code)
    kiosk.pairing_expires_at = now + dt.timedelta(minutes=minutes)
    session.flush()
    return f"{code[:4]}-{code[4:]}", kiosk.pairing_expires_at


def pair(session: Session, site_id: str, kiosk_key: str, code: str, now: dt.datetime) -> str:
    """The kiosk's new secret for its valid pairing code; the code then never works again.

    A wrong or expired code raises NotPaired and changes nothing.
    """
    kiosk = get_kiosk(session, site_id, kiosk_key)
    expected = kiosk.pairing_code_hash
    if (expected is None or kiosk.pairing_expires_at is None
            or kiosk.pairing_expires_at <= now
            or not hmac.compare_digest(expected, _hash(normal_code(code)))):
        raise NotPaired(_("This pairing code is wrong or has expired. "
                          "Ask for a new code."), "invalid_pairing_code")
    secret = secrets.token_urlsafe(32)
    # Typed on the kiosk itself: nobody signed in to name as the actor.
    _paired(session, kiosk, _hash(secret), now, None, "command_code")
    return secret


def _paired(session: Session, device: Device, secret_hash: str, now: dt.datetime,
            actor_id: int | None, via: str) -> None:
    """Give the device its secret (by hash; any code pending ends), with its audit entry."""
    device.secret_hash = secret_hash
    device.paired_at = now
    device.pairing_code_hash = None
    device.pairing_expires_at = None
    session.flush()
    record_audit(session, device.site_id, "device_paired", now, actor_id=actor_id,
                 subject=device_subject(device), via=via)


def authenticate(session: Session, site_id: str, secret: str | None,
                 now: dt.datetime | None = None,
                 kind: DeviceKind = DeviceKind.KIOSK) -> Device | None:
    """The active device of the site and kind (a kiosk by default) whose secret this is,
    or None; notes when it was last seen."""
    if not secret or len(secret) > 128:
        return None
    device = session.scalars(select(Device).where(
        Device.secret_hash == _hash(secret), Device.site_id == site_id,
        Device.kind == kind, Device.active)).first()
    if device is not None and now is not None and (
            device.last_seen_at is None or now - device.last_seen_at > SEEN_EVERY):
        device.last_seen_at = now
    return device


def device_subject(device: Device) -> dict:
    """What an audit entry about a device names: its kind and key."""
    return {"type": "device", "kind": str(device.kind), "key": device.key}


# The code on the device's screen ----------------------------------------------------

@dataclass(frozen=True)
class ScreenCode:
    """What an unpaired device's screen shows, and the claim its browser keeps."""

    code: str
    expires_at: dt.datetime
    claim: str
    # Whether `claim` is new (the page sets it as a cookie) or the browser's own.
    new: bool


def screen_code_of(claim: str) -> str:
    """The code a claim shows on screen, as XXXX-XXXX: derived from the claim's hash, so
    the screen can show it again without anything stored, and the code tells nothing of
    the claim."""
    digest = hashlib.sha256(b"screen-code:" + _hash(claim).encode()).digest()
    number = int.from_bytes(digest[:8], "big")
    letters = []
    for _position in range(CODE_LENGTH):
        number, index = divmod(number, len(CODE_ALPHABET))
        letters.append(CODE_ALPHABET[index])
    return f"{''.join(letters[:4])}-{''.join(letters[4:])}"


def _pending_key(site_id: str, code: str) -> str:
    return f"{site_prefix(site_id)}pairing:{normal_code(code)}"


def _pending(redis, site_id: str, code: str) -> dict | None:
    raw = redis.get(_pending_key(site_id, code))
    return json.loads(raw) if raw is not None else None


def show_screen_code(redis, site_id: str, kind: DeviceKind, device_key: str | None,
                     claim: str | None, now: dt.datetime) -> ScreenCode:
    """The code an unpaired device shows: the one its claim already shows while that works,
    else a new claim and code, pending for SCREEN_CODE_MINUTES.

    `device_key` is the device the screen was opened as (a kiosk's address names it); a
    hall display's address names none, so its code may be confirmed for any display.
    """
    if claim and len(claim) <= 128:
        code = screen_code_of(claim)
        pending = _pending(redis, site_id, code)
        if (pending is not None and pending["claim_hash"] == _hash(claim)
                and pending["kind"] == kind and pending["key"] == device_key
                and dt.datetime.fromisoformat(pending["expires_at"]) > now):
            return ScreenCode(code, dt.datetime.fromisoformat(pending["expires_at"]), claim,
                              new=False)
    expires_at = now + dt.timedelta(minutes=SCREEN_CODE_MINUTES)
    while True:
        claim = secrets.token_urlsafe(32)
        code = screen_code_of(claim)
        entry = json.dumps({"claim_hash": _hash(claim), "kind": str(kind), "key": device_key,
                            "expires_at": expires_at.isoformat()})
        # NX: two screens never share a code; the key outlives the code a little, in
        # real seconds, only so that Redis forgets it.
        if redis.set(_pending_key(site_id, code), entry, nx=True,
                     ex=(SCREEN_CODE_MINUTES + 5) * 60):
            return ScreenCode(code, expires_at, claim, new=True)


def confirm_screen_code(session: Session, redis, site_id: str, device_key: str, code: str,
                        now: dt.datetime, actor_id: int | None) -> Device:
    """Pair the device `device_key` with the device whose screen shows `code`, and record
    who did; the device receives its secret at its next poll (`collect_secret`).

    A wrong or expired code, or the code of another kind of device or of another kiosk,
    raises InvalidInput and changes nothing. Pairing replaces the device's secret: a
    browser paired before as this device stops working.
    """
    device = get_device(session, site_id, device_key)
    if not device.active:
        raise InvalidInput(_("This device is revoked. Put it back in service first."),
                           "device_revoked")
    pending = _pending(redis, site_id, code) if normal_code(code) else None
    if (pending is None or dt.datetime.fromisoformat(pending["expires_at"]) <= now
            or pending["kind"] != device.kind
            or pending["key"] not in (None, device.key)):
        raise InvalidInput(_("No kiosk shows this code now. Check the code on the kiosk's "
                             "screen; a code works for 15 minutes.")
                           if device.kind == DeviceKind.KIOSK else
                           _("No display shows this code now. Check the code on the "
                             "display's screen; a code works for 15 minutes."),
                           "invalid_pairing_code")
    _paired(session, device, pending["claim_hash"], now, actor_id, "screen_code")
    redis.delete(_pending_key(site_id, code))
    return device


def collect_secret(session: Session, site_id: str, kind: DeviceKind, device_key: str | None,
                   claim: str | None, now: dt.datetime) -> Device | None:
    """The device whose pairing an admin confirmed for this claim (the claim is its
    secret now), or None while it waits. A kiosk's claim counts only for the kiosk whose
    address showed it."""
    device = authenticate(session, site_id, claim, now, kind)
    if device is None or device_key not in (None, device.key):
        return None
    return device


def get_device(session: Session, site_id: str, device_key: str) -> Device:
    """A device of the site by key (in service or revoked), or NotFound."""
    device = session.scalars(select(Device).where(Device.site_id == site_id,
                                                  Device.key == device_key)).first()
    if device is None:
        raise NotFound(_("There is no device '%(device)s' at this site.", device=device_key))
    return device


def is_paired(session: Session, site_id: str, kiosk_key: str) -> bool:
    """Whether the kiosk has a secret at all (the kiosk page's not-paired screen)."""
    return get_kiosk(session, site_id, kiosk_key).secret_hash is not None


def displays_must_pair(session: Session, site_id: str) -> bool:
    """Whether the site's hall screens must be paired displays: once it has registered a
    display (even one revoked since), an unknown screen is told to pair; a site with no
    display registered keeps its hall screens open, as before devices had secrets."""
    return session.scalars(select(Device.id).where(
        Device.site_id == site_id, Device.kind == DeviceKind.DISPLAY)).first() is not None
