"""Staff accounts: created deliberately, never with a default password."""

import datetime as dt
import secrets

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from tessera.errors import Conflict, InvalidInput, NotFound
from tessera.models import Organisation, Role, Site, Staff
from tessera.staff.auth import password_hasher, revoke_tokens_of
from tessera.staff.sessions import end_sessions_of

MIN_PASSWORD_LENGTH = 12


def create_staff(session: Session, site_id: str, username: str, display_name: str,
                 role: str, languages: list[str], organisations: list[str],
                 password: str | None = None) -> tuple[Staff, str]:
    """Create a member of staff; returns them and their password (generated if not given)."""
    site = session.get(Site, site_id)
    if site is None:
        raise NotFound(_("There is no site '%(site)s'.", site=site_id))
    if session.scalar(select(Staff.id).where(Staff.username == username)) is not None:
        raise Conflict(_("The username '%(username)s' is taken.", username=username),
                       "username_taken")
    unknown_languages = set(languages) - set(site.languages)
    if unknown_languages:
        raise InvalidInput(_("Language(s) not offered at this site: %(languages)s.",
                             languages=", ".join(sorted(unknown_languages))),
                           "unknown_language")
    found = {o.key: o for o in session.scalars(
        select(Organisation).where(Organisation.site_id == site_id,
                                   Organisation.key.in_(organisations)))}
    missing = [key for key in organisations if key not in found]
    if missing:
        raise InvalidInput(_("Unknown organisation(s): %(organisations)s.",
                             organisations=", ".join(missing)), "unknown_organisation")
    if password is None:
        password = secrets.token_urlsafe(12)
    elif len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(_("A password needs at least %(count)s characters.",
                             count=MIN_PASSWORD_LENGTH), "weak_password")
    staff = Staff(site_id=site_id, username=username, display_name=display_name,
                  role=Role(role), password_hash=password_hasher.hash(password),
                  languages=languages, organisations=[found[k] for k in organisations])
    session.add(staff)
    session.flush()
    return staff, password


def set_page_language(session: Session, staff_id: int, language: str,
                      offered: list[str]) -> None:
    """Keep the language a member of staff reads their pages in; one of `offered` only."""
    if language not in offered:
        raise InvalidInput(_("The staff pages are not translated into '%(language)s'. "
                             "Choose one of: %(languages)s.", language=language,
                             languages=", ".join(offered)), "unknown_language")
    staff = session.get(Staff, staff_id)
    if staff is None:
        raise NotFound(_("There is no member of staff %(staff)s.", staff=staff_id))
    staff.page_language = language


def _staff_named(session: Session, username: str) -> Staff:
    staff = session.scalars(select(Staff).where(Staff.username == username)).first()
    if staff is None:
        raise NotFound(_("There is no member of staff '%(username)s'.", username=username))
    return staff


def set_password(session: Session, username: str, password: str | None,
                 now: dt.datetime) -> str:
    """Give an account a new password (generated if not given); returns it.

    Every session of theirs ends and every bearer token is revoked: whoever knew the old
    password may have signed in or made a token with it.
    """
    staff = _staff_named(session, username)
    if password is None:
        password = secrets.token_urlsafe(12)
    elif len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(_("A password needs at least %(count)s characters.",
                             count=MIN_PASSWORD_LENGTH), "weak_password")
    staff.password_hash = password_hasher.hash(password)
    end_sessions_of(session, staff.id, now)
    revoke_tokens_of(session, staff.id)
    return password


def deactivate_staff(session: Session, username: str, now: dt.datetime) -> tuple[int, int]:
    """Deactivate an account: it cannot sign in, its sessions end, its tokens are revoked.

    Returns how many sessions ended and tokens were revoked.
    """
    staff = _staff_named(session, username)
    staff.active = False
    return end_sessions_of(session, staff.id, now), revoke_tokens_of(session, staff.id)
