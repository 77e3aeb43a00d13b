"""Sign-in checks (argon2 passwords) and bearer tokens for scripts and desk devices."""

import datetime as dt
import hashlib
import os
import secrets

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from tessera.models import Staff, StaffToken

# argon2-cffi's default parameters (RFC 9106's low-memory profile). The test suite alone
# sets TESSERA_TEST_PASSWORD_HASHING=cheapest: its thousands of throwaway accounts need no
# protection, and hashing each at full cost took a third of the suite's time.
password_hasher = PasswordHasher.from_parameters(
    profiles.CHEAPEST if os.environ.get("TESSERA_TEST_PASSWORD_HASHING") == "cheapest"
    else profiles.get_default_parameters())
# Verifying against this when the username is unknown keeps both answers equally slow.
_UNKNOWN_USER_HASH = password_hasher.hash(secrets.token_hex(16))


def load_staff(session: Session, *conditions) -> Staff | None:
    """The active member of staff matching `conditions`, with their organisations."""
    return session.scalars(select(Staff).options(selectinload(Staff.organisations))
                           .where(Staff.active, *conditions)).first()


def authenticate(session: Session, username: str, password: str) -> Staff | None:
    """The active member of staff with these credentials, else None."""
    staff = load_staff(session, Staff.username == username)
    try:
        password_hasher.verify(staff.password_hash if staff else _UNKNOWN_USER_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if staff is not None and password_hasher.check_needs_rehash(staff.password_hash):
        staff.password_hash = password_hasher.hash(password)
    return staff


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# A token lasts this many days unless issued for another term (`tokens issue --days`);
# one issued before tokens had an expiry lasts this long from its creation.
TOKEN_DAYS = 90


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def issue_token(session: Session, staff: Staff, label: str, days: int = TOKEN_DAYS,
                now: dt.datetime | None = None) -> str:
    """A new bearer token for a member of staff, valid `days` days; shown once, only its
    hash is stored."""
    if days < 1:
        raise ValueError("a token lasts at least one day")
    now = now or _now()
    token = secrets.token_urlsafe(32)
    session.add(StaffToken(staff_id=staff.id, token_hash=_token_hash(token), label=label,
                           created_at=now, expires_at=now + dt.timedelta(days=days)))
    session.flush()
    return token


def token_expiry(row: StaffToken) -> dt.datetime:
    """When a token stops working (tokens from before expiry existed: TOKEN_DAYS after
    their creation, so that none lasts for ever)."""
    return row.expires_at or row.created_at + dt.timedelta(days=TOKEN_DAYS)


def staff_for_token(session: Session, token: str, now: dt.datetime | None = None) -> Staff | None:
    """The active member of staff a bearer token belongs to, if it is unrevoked and unexpired."""
    row = session.scalars(select(StaffToken).where(
        StaffToken.token_hash == _token_hash(token), StaffToken.revoked.is_(False))).first()
    if row is None or token_expiry(row) <= (now or _now()):
        return None
    return load_staff(session, Staff.id == row.staff_id)


def list_tokens(session: Session) -> list[StaffToken]:
    """Every token, with its member of staff, oldest first."""
    return list(session.scalars(select(StaffToken).options(selectinload(StaffToken.staff))
                                .order_by(StaffToken.id)))


def revoke_token(session: Session, token_id: int) -> StaffToken | None:
    """Revoke one token (it stops working at once); None if there is no such token."""
    row = session.get(StaffToken, token_id)
    if row is not None:
        row.revoked = True
    return row


def revoke_tokens_of(session: Session, staff_id: int) -> int:
    """Revoke every token of a member of staff (deactivation, a new password); how many."""
    rows = list(session.scalars(select(StaffToken).where(
        StaffToken.staff_id == staff_id, StaffToken.revoked.is_(False))))
    for row in rows:
        row.revoked = True
    return len(rows)
