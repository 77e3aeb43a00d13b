"""Staff accounts: created deliberately, never with a default password.

Every change is decided by tessera.staff.permissions when someone (`actor`) makes it in
the browser; on the command line `actor` is None (whoever runs it owns the machine).
Each change records its audit entry in the caller's transaction: who, when, the account,
and the fields before and after (never a password or its hash).
"""

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from tessera.audit import changed_fields, record_audit
from tessera.clock import epoch, utc_now
from tessera.errors import Conflict, Forbidden, InvalidInput, NotFound
from tessera.models import Organisation, Role, Site, Staff
from tessera.staff.auth import password_hasher, revoke_tokens_of
from tessera.staff.passwords import check_password, generate_password
from tessera.staff.permissions import is_lockout, may_administer_account, may_give
from tessera.staff.sessions import end_sessions_of

# How long a set-password link works (it also stops once used).
PASSWORD_LINK_HOURS = 48
USERNAME_MAX = 80
DISPLAY_NAME_MAX = 200


# Reading ---------------------------------------------------------------------------

def get_account(session: Session, site_id: str, staff_id: int) -> Staff:
    """The account `staff_id` of `site_id`, with its organisations (else NotFound)."""
    account = session.scalars(select(Staff).options(selectinload(Staff.organisations))
                              .where(Staff.id == staff_id, Staff.site_id == site_id)).first()
    if account is None:
        raise NotFound(_("There is no member of staff %(staff)s.", staff=staff_id))
    return account


@dataclass(frozen=True)
class StaffFilter:
    """What the staff list is narrowed to; the defaults show everyone."""

    search: str = ""
    role: str = ""
    organisation: str = ""
    # "active", "inactive", or "" for both.
    state: str = ""

    def admits(self, account: Staff) -> bool:
        """Whether `account` passes the filter (the search ignores case, in any script)."""
        needle = self.search.strip().casefold()
        if needle and needle not in account.username.casefold() \
                and needle not in account.display_name.casefold():
            return False
        if self.role and account.role != self.role:
            return False
        if self.organisation and self.organisation not in {
                organisation.key for organisation in account.organisations}:
            return False
        return not self.state or account.active == (self.state == "active")


def list_staff(session: Session, site_id: str, criteria: StaffFilter = StaffFilter(),
               viewer: Staff | None = None) -> list[Staff]:
    """The site's accounts that pass `criteria`, by name; with a `viewer`, only those the
    viewer may administer (an organisation manager sees their organisations' people).

    Filtered here rather than in SQL: a site has hundreds of accounts at most, and
    SQLite's LOWER() folds only ASCII, which would miss a Greek or Arabic name.
    """
    accounts = session.scalars(select(Staff).options(selectinload(Staff.organisations))
                               .where(Staff.site_id == site_id)
                               .order_by(Staff.display_name, Staff.username))
    return [account for account in accounts if criteria.admits(account)
            and (viewer is None or may_administer_account(viewer, account))]


def snapshot(account: Staff) -> dict:
    """The fields of an account the audit trail shows (never its password hash)."""
    return {"username": account.username, "display_name": account.display_name,
            "role": str(account.role),
            "organisations": sorted(organisation.key for organisation in account.organisations),
            "languages": list(account.languages or []), "active": bool(account.active)}


# Checks ----------------------------------------------------------------------------

def _personal(username: str, display_name: str) -> list[str]:
    """Words of the account that a password must not lean on."""
    return [username, *display_name.split()]


def _display_name(value: str) -> str:
    value = (value or "").strip()
    if not value or len(value) > DISPLAY_NAME_MAX:
        raise InvalidInput(_("A name needs 1 to %(count)s characters.",
                             count=DISPLAY_NAME_MAX), "invalid_name")
    return value


def _username(value: str) -> str:
    value = (value or "").strip()
    if not value or len(value) > USERNAME_MAX or any(c.isspace() for c in value):
        raise InvalidInput(_("A username needs 1 to %(count)s characters, without spaces.",
                             count=USERNAME_MAX), "invalid_username")
    return value


def _role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise InvalidInput(_("There is no role '%(role)s'.", role=value),
                           "unknown_role") from None


def _languages(site: Site, languages: list[str]) -> list[str]:
    unknown = set(languages) - set(site.languages)
    if unknown:
        raise InvalidInput(_("Language(s) not offered at this site: %(languages)s.",
                             languages=", ".join(sorted(unknown))), "unknown_language")
    return list(dict.fromkeys(languages))


def _organisations(session: Session, site_id: str, keys: list[str]) -> list[Organisation]:
    found = {o.key: o for o in session.scalars(
        select(Organisation).where(Organisation.site_id == site_id,
                                   Organisation.key.in_(keys)))}
    missing = [key for key in keys if key not in found]
    if missing:
        raise InvalidInput(_("Unknown organisation(s): %(organisations)s.",
                             organisations=", ".join(missing)), "unknown_organisation")
    return [found[key] for key in dict.fromkeys(keys)]


def _refuse_unless_administers(actor: Staff | None, account: Staff) -> None:
    if actor is not None and not may_administer_account(actor, account):
        raise Forbidden(_("You may not change this account."))


def _refuse_unless_gives(actor: Staff | None, site_id: str, role: Role,
                         organisations: list[Organisation]) -> None:
    if actor is not None and not may_give(actor, site_id, role,
                                          [organisation.id for organisation in organisations]):
        raise Forbidden(_("You may not give this role or these organisations."))


def _refuse_lockout(session: Session, actor: Staff | None, account: Staff, role: Role,
                    active: bool) -> None:
    # The rows are locked (on PostgreSQL) so that two admins demoting each other at once
    # cannot both see the other one still there.
    admins = session.scalars(select(Staff.id).where(
        Staff.site_id == account.site_id, Staff.active, Staff.role == Role.ADMIN)
        .with_for_update()).all()
    if not is_lockout(actor, account, role, active, len(admins)):
        return
    if actor is not None and actor.id == account.id:
        raise Conflict(_("You cannot change your own role or deactivate your own account: "
                         "ask another admin."), "lockout")
    raise Conflict(_("This is the last active admin of the site: make someone else an "
                     "admin first."), "lockout")


def _audit(session: Session, account: Staff, kind: str, now: dt.datetime,
           actor: Staff | None, **fields) -> None:
    record_audit(session, account.site_id, kind, now,
                 actor_id=actor.id if actor is not None else None,
                 subject={"staff": account.id, "username": account.username}, **fields)


def _account(session: Session, account: Staff | str) -> Staff:
    """An account given as itself (loaded in `session`) or by username."""
    if isinstance(account, Staff):
        return account
    found = session.scalars(select(Staff).options(selectinload(Staff.organisations))
                            .where(Staff.username == account)).first()
    if found is None:
        raise NotFound(_("There is no member of staff '%(username)s'.", username=account))
    return found


# Changes ---------------------------------------------------------------------------

def create_staff(session: Session, site_id: str, username: str, display_name: str,
                 role: str, languages: list[str], organisations: list[str],
                 password: str | None = None, *, actor: Staff | None = None,
                 now: dt.datetime | None = None) -> tuple[Staff, str]:
    """Create a member of staff; returns them and their password (generated if not given).

    `organisations` are keys of the site's organisations; `languages` those they speak,
    among the site's. A given password must meet the policy (tessera.staff.passwords).
    """
    site = session.get(Site, site_id)
    if site is None:
        raise NotFound(_("There is no site '%(site)s'.", site=site_id))
    username, display_name = _username(username), _display_name(display_name)
    if session.scalar(select(Staff.id).where(Staff.username == username)) is not None:
        raise Conflict(_("The username '%(username)s' is taken.", username=username),
                       "username_taken")
    chosen_role = _role(role)
    languages = _languages(site, languages)
    found = _organisations(session, site_id, organisations)
    _refuse_unless_gives(actor, site_id, chosen_role, found)
    personal = _personal(username, display_name)
    if password is None:
        password = generate_password(personal)
    else:
        check_password(password, personal)
    staff = Staff(site_id=site_id, username=username, display_name=display_name,
                  role=chosen_role, password_hash=password_hasher.hash(password),
                  languages=languages, organisations=found, active=True)
    session.add(staff)
    session.flush()
    _audit(session, staff, "staff_created", now or utc_now(), actor, after=snapshot(staff))
    return staff, password


def update_staff(session: Session, account: Staff, *, display_name: str, role: str,
                 organisations: list[str], languages: list[str], actor: Staff | None,
                 now: dt.datetime) -> dict:
    """Change an account's name, role, organisations (keys) and languages; returns the
    fields that changed (as they are now), and records them before and after."""
    _refuse_unless_administers(actor, account)
    display_name = _display_name(display_name)
    chosen_role = _role(role)
    languages = _languages(session.get(Site, account.site_id), languages)
    found = _organisations(session, account.site_id, organisations)
    _refuse_unless_gives(actor, account.site_id, chosen_role, found)
    _refuse_lockout(session, actor, account, chosen_role, bool(account.active))
    before = snapshot(account)
    account.display_name, account.role = display_name, chosen_role
    account.languages, account.organisations = languages, found
    old, new = changed_fields(before, snapshot(account))
    if new:
        _audit(session, account, "staff_changed", now, actor, before=old, after=new)
    return new


def deactivate_staff(session: Session, username: Staff | str, now: dt.datetime, *,
                     actor: Staff | None = None) -> tuple[int, int]:
    """Deactivate an account: it cannot sign in, its sessions end, its tokens are revoked.

    Returns how many sessions ended and tokens were revoked. Nobody deactivates
    themselves, and the last active admin of a site stays.
    """
    account = _account(session, username)
    _refuse_unless_administers(actor, account)
    if not account.active:
        raise Conflict(_("This account is already deactivated."), "already_inactive")
    _refuse_lockout(session, actor, account, account.role, False)
    account.active = False
    ended, revoked = end_sessions_of(session, account.id, now), revoke_tokens_of(session,
                                                                                  account.id)
    _audit(session, account, "staff_deactivated", now, actor, before={"active": True},
           after={"active": False}, sessions_ended=ended, tokens_revoked=revoked)
    return ended, revoked


def reactivate_staff(session: Session, username: Staff | str, now: dt.datetime, *,
                     actor: Staff | None = None) -> None:
    """Let a deactivated account sign in again (with the password it had)."""
    account = _account(session, username)
    _refuse_unless_administers(actor, account)
    if account.active:
        raise Conflict(_("This account is already active."), "already_active")
    account.active = True
    _audit(session, account, "staff_reactivated", now, actor, before={"active": False},
           after={"active": True})


def end_staff_sessions(session: Session, username: Staff | str, now: dt.datetime, *,
                       actor: Staff | None = None) -> tuple[int, int]:
    """End every session of an account and revoke every bearer token of it (a lost phone,
    a shared computer); returns how many of each."""
    account = _account(session, username)
    _refuse_unless_administers(actor, account)
    ended, revoked = end_sessions_of(session, account.id, now), revoke_tokens_of(session,
                                                                                  account.id)
    _audit(session, account, "staff_sessions_ended", now, actor, sessions_ended=ended,
           tokens_revoked=revoked)
    return ended, revoked


def _replace_password(session: Session, account: Staff, password: str,
                      now: dt.datetime) -> tuple[int, int]:
    # Whoever knew the old password may have signed in or made a token with it.
    account.password_hash = password_hasher.hash(password)
    return end_sessions_of(session, account.id, now), revoke_tokens_of(session, account.id)


def set_password(session: Session, username: Staff | str, password: str | None,
                 now: dt.datetime, *, actor: Staff | None = None) -> str:
    """Give an account a new password (generated if not given); returns it.

    Every session of theirs ends and every bearer token is revoked.
    """
    account = _account(session, username)
    _refuse_unless_administers(actor, account)
    personal = _personal(account.username, account.display_name)
    if password is None:
        password, method = generate_password(personal), "generated"
    else:
        check_password(password, personal)
        method = "given"
    ended, revoked = _replace_password(session, account, password, now)
    _audit(session, account, "password_reset", now, actor, method=method,
           sessions_ended=ended, tokens_revoked=revoked)
    return password


# Set-password links ----------------------------------------------------------------
#
# A link carries a signed token: the account, when the link stops working, and a
# fingerprint of the password hash it was made for. Setting a password changes the
# hash, so a link works once; a newer reset changes it too, so only the latest works.
# Nothing is stored: the hash is the state.

_LINK_SALT = "tessera.set-password"


def _fingerprint(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:24]


def password_link_token(account: Staff, secret_key: str, now: dt.datetime) -> str:
    """A token for the set-password page of `account`, valid PASSWORD_LINK_HOURS, once."""
    until = now + dt.timedelta(hours=PASSWORD_LINK_HOURS)
    return URLSafeSerializer(secret_key, salt=_LINK_SALT).dumps(
        {"staff": account.id, "bound": _fingerprint(account.password_hash),
         "until": int(epoch(until))})


def account_for_password_link(session: Session, token: str, secret_key: str,
                              now: dt.datetime) -> Staff:
    """The active account a set-password token is for, if it still works (else NotFound:
    forged, expired, used, or replaced by a newer link)."""
    refused = NotFound(_("This link does not work any more: it has expired or has been "
                         "used. Ask an administrator for a new one."), "invalid_link")
    try:
        data = URLSafeSerializer(secret_key, salt=_LINK_SALT).loads(token)
    except BadSignature:
        raise refused from None
    if not isinstance(data, dict) or not isinstance(data.get("staff"), int) \
            or not isinstance(data.get("until"), int):
        raise refused
    account = session.get(Staff, data["staff"])
    if (account is None or not account.active or epoch(now) >= data["until"]
            or not secrets.compare_digest(str(data.get("bound", "")),
                                          _fingerprint(account.password_hash))):
        raise refused
    return account


def reset_password_link(session: Session, username: Staff | str, now: dt.datetime,
                        secret_key: str, *, actor: Staff | None = None) -> str:
    """Reset an account's password to one nobody knows and return a set-password token
    for its owner: the old password stops at once, as do their sessions and tokens."""
    account = _account(session, username)
    _refuse_unless_administers(actor, account)
    if not account.active:
        raise Conflict(_("Reactivate this account first."), "inactive")
    ended, revoked = _replace_password(session, account, secrets.token_urlsafe(32), now)
    _audit(session, account, "password_reset", now, actor, method="link",
           sessions_ended=ended, tokens_revoked=revoked)
    return password_link_token(account, secret_key, now)


def use_password_link(session: Session, token: str, password: str, secret_key: str,
                      now: dt.datetime) -> Staff:
    """Set the password through a set-password link (which then stops working)."""
    account = account_for_password_link(session, token, secret_key, now)
    check_password(password, _personal(account.username, account.display_name))
    ended, revoked = _replace_password(session, account, password, now)
    _audit(session, account, "password_set", now, account, method="link",
           sessions_ended=ended, tokens_revoked=revoked)
    return account


# Sign-ins --------------------------------------------------------------------------

def record_sign_in(session: Session, username: str, address: str, now: dt.datetime,
                   staff: Staff | None) -> bool:
    """Record a sign-in (`staff` the member of staff) or a failed one (`staff` None);
    whether it was recorded.

    A failed sign-in is recorded at the site of the account with that username (even a
    deactivated one); for a username nobody has, at the only site if there is just one,
    else nowhere: the audit trail is per site, and guessing which site a stranger meant
    would put noise in the wrong one. The throttle (tessera.staff.throttle) still counts it.
    """
    if staff is not None:
        _audit(session, staff, "signed_in", now, staff, address=address)
        return True
    username = username[:USERNAME_MAX]
    account = session.scalars(select(Staff).where(Staff.username == username)).first()
    if account is not None:
        _audit(session, account, "sign_in_failed", now, None, address=address)
        return True
    sites = session.scalars(select(Site.id).limit(2)).all()
    if len(sites) != 1:
        return False
    record_audit(session, sites[0], "sign_in_failed", now, actor_id=None,
                 subject={"username": username}, address=address)
    return True


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
