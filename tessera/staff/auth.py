"""Sign-in checks (argon2 passwords) and bearer tokens for scripts and desk devices."""

import datetime as dt
import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from tessera.models import Staff, StaffToken

password_hasher = PasswordHasher()
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


def issue_token(session: Session, staff: Staff, label: str) -> str:
    """A new bearer token for a member of staff; shown once, only its hash is stored."""
    token = secrets.token_urlsafe(32)
    session.add(StaffToken(staff_id=staff.id, token_hash=_token_hash(token), label=label,
                           created_at=dt.datetime.now(dt.UTC).replace(tzinfo=None)))
    return token


def staff_for_token(session: Session, token: str) -> Staff | None:
    """The member of staff a bearer token belongs to, if it is valid."""
    row = session.scalars(select(StaffToken).where(
        StaffToken.token_hash == _token_hash(token), StaffToken.revoked.is_(False))).first()
    return load_staff(session, Staff.id == row.staff_id) if row else None
