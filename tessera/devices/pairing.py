"""Pairing a kiosk: a one-time code, shown once to staff, is exchanged for the kiosk's secret.

Only hashes are kept (SHA-256: the code and the secret are random, so a slow hash adds
nothing); a device with no secret is not trusted to print or to spend its own limit.
"""

import datetime as dt
import hashlib
import hmac
import secrets

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from tessera.errors import TesseraError
from tessera.models import Device, DeviceKind
from tessera.sites.catalogue import get_kiosk

# No 0/O, 1/I/L: staff type the code on a touch screen from a printout or a phone.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 8
DEFAULT_MINUTES = 15
# Where a kiosk sends its secret: the kiosk page's cookie, or this header (API clients).
SECRET_COOKIE = "tessera_kiosk"
SECRET_HEADER = "X-Kiosk-Secret"
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
    kiosk.secret_hash = _hash(secret)
    kiosk.paired_at = now
    kiosk.pairing_code_hash = None
    kiosk.pairing_expires_at = None
    session.flush()
    return secret


def authenticate(session: Session, site_id: str, secret: str | None,
                 now: dt.datetime | None = None) -> Device | None:
    """The active kiosk of the site whose secret this is, or None."""
    if not secret or len(secret) > 128:
        return None
    kiosk = session.scalars(select(Device).where(
        Device.secret_hash == _hash(secret), Device.site_id == site_id,
        Device.kind == DeviceKind.KIOSK, Device.active)).first()
    if kiosk is not None and now is not None and (
            kiosk.last_seen_at is None or now - kiosk.last_seen_at > SEEN_EVERY):
        kiosk.last_seen_at = now
    return kiosk


def is_paired(session: Session, site_id: str, kiosk_key: str) -> bool:
    """Whether the kiosk has a secret at all (the kiosk page's not-paired screen)."""
    return get_kiosk(session, site_id, kiosk_key).secret_hash is not None
