"""The audit trail: sign-ins, administrative changes and device pairings, as events.

They are appended to the one event log (DESIGN invariant 3) with kinds of their own, so
the reports, which read step events by kind, never see them. An entry names who acted
(`staff_id`), what it concerns (`subject`: a kind and an id or key) and, for a change,
the fields before and after. Nothing about visitors goes in: administration never
touches tickets, and a change's fields are those of staff, services, desks and devices.
Passwords, password hashes, secrets and pairing codes are never recorded.
"""

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from tessera.events import record_event
from tessera.models import Event, Staff

# Every kind of audit entry, and what the filter on /admin/audit calls it.
SIGN_IN_KINDS = ("signed_in", "sign_in_failed", "signed_in_oidc")
DEVICE_KINDS = ("device_registered", "device_paired", "device_revoked")
ADMIN_KINDS = (
    "staff_created", "staff_changed", "staff_deactivated", "staff_reactivated",
    "password_reset", "password_set", "staff_sessions_ended",
    "service_created", "service_changed", "service_retiring", "service_retired",
    "category_created", "category_changed",
    "counter_created", "counter_changed", "counter_retired",
    "device_changed",
)
AUDIT_KINDS = SIGN_IN_KINDS + DEVICE_KINDS + ADMIN_KINDS
# Never written into an entry, whatever a caller passes.
SECRET_FIELDS = frozenset({"password", "password_hash", "secret", "secret_hash",
                           "pairing_code", "pairing_code_hash", "token", "token_hash"})


def _without_secrets(fields: dict | None) -> dict | None:
    if fields is None:
        return None
    return {name: value for name, value in fields.items() if name not in SECRET_FIELDS}


def changed_fields(before: dict, after: dict) -> tuple[dict, dict]:
    """The fields that differ between two snapshots, as (before, after)."""
    names = [name for name in {**before, **after} if before.get(name) != after.get(name)]
    return ({name: before.get(name) for name in names},
            {name: after.get(name) for name in names})


def record_audit(session: Session, site_id: str, kind: str, at: dt.datetime, *,
                 actor_id: int | None, subject: dict, before: dict | None = None,
                 after: dict | None = None, **details) -> None:
    """Append one audit entry in the caller's transaction (so it stands or falls with
    the change it records)."""
    if kind not in AUDIT_KINDS:
        raise ValueError(f"not an audit kind: {kind}")
    record_event(session, site_id, kind, at, staff_id=actor_id, subject=subject,
                 before=_without_secrets(before), after=_without_secrets(after),
                 **_without_secrets(details))


@dataclass(frozen=True)
class AuditEntry:
    """One line of /admin/audit."""

    id: int
    at: dt.datetime
    kind: str
    actor: str | None
    subject: dict
    before: dict | None
    after: dict | None
    details: dict


def list_audit(session: Session, site_id: str, *, kinds: tuple[str, ...] = AUDIT_KINDS,
               actor_id: int | None = None, since: dt.datetime | None = None,
               until: dt.datetime | None = None, limit: int = 100,
               offset: int = 0) -> list[AuditEntry]:
    """The site's audit entries, newest first, filtered by kind, actor and time."""
    query = (select(Event, Staff.username).outerjoin(Staff, Staff.id == Event.staff_id)
             .where(Event.site_id == site_id, Event.kind.in_(kinds))
             .order_by(Event.at.desc(), Event.id.desc()).limit(limit).offset(offset))
    if actor_id is not None:
        query = query.where(Event.staff_id == actor_id)
    if since is not None:
        query = query.where(Event.at >= since)
    if until is not None:
        query = query.where(Event.at < until)
    entries = []
    for event, username in session.execute(query):
        data = dict(event.data or {})
        entries.append(AuditEntry(
            id=event.id, at=event.at, kind=event.kind, actor=username,
            subject=data.pop("subject", {}), before=data.pop("before", None),
            after=data.pop("after", None), details=data))
    return entries
