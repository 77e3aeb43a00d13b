"""Server-side staff sessions: the cookie carries a random key, SQL says whether it still works.

A session ends on sign-out, on a password change or deactivation (all of a person's),
after `idle` without activity, and `absolute` after sign-in whatever happens. What
counts as activity is the caller's choice (tessera.web.auth): any page or API request
made with the session, and the heartbeat of an open desk workstation.
"""

import datetime as dt
import hashlib
import secrets

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tessera.models import StaffSession

# Activity is written at most this often per session: a workstation's heartbeats and
# requests would otherwise update the row every few seconds, for nothing.
TOUCH_EVERY = dt.timedelta(seconds=60)


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def start_session(session: Session, staff_id: int, now: dt.datetime) -> str:
    """A new session for a member of staff; returns the key for the cookie (only its hash
    is stored)."""
    key = secrets.token_urlsafe(32)
    session.add(StaffSession(staff_id=staff_id, key_hash=_key_hash(key), created_at=now,
                             last_seen_at=now))
    session.flush()
    return key


def check_session(session: Session, staff_id: int, key: str, now: dt.datetime,
                  idle: dt.timedelta, absolute: dt.timedelta, touch: bool = True) -> bool:
    """Whether the session `key` of `staff_id` still works; records the activity (`touch`).

    A session found idle or too old is ended here, so it cannot come back.
    """
    if not isinstance(key, str) or not key:
        return False
    row = session.scalars(select(StaffSession).where(
        StaffSession.key_hash == _key_hash(key))).first()
    if row is None or row.staff_id != staff_id or row.ended_at is not None:
        return False
    if now - row.last_seen_at > idle or now - row.created_at > absolute:
        row.ended_at = now
        return False
    if touch and now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
    return True


def end_session(session: Session, key: str, now: dt.datetime) -> None:
    """End one session (sign-out)."""
    if isinstance(key, str) and key:
        session.execute(update(StaffSession).where(
            StaffSession.key_hash == _key_hash(key), StaffSession.ended_at.is_(None))
            .values(ended_at=now))


def end_sessions_of(session: Session, staff_id: int, now: dt.datetime) -> int:
    """End every open session of a member of staff (new password, deactivation); how many."""
    result = session.execute(update(StaffSession).where(
        StaffSession.staff_id == staff_id, StaffSession.ended_at.is_(None))
        .values(ended_at=now))
    return result.rowcount
