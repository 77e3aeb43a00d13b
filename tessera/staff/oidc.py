"""Single sign-on through OpenID Connect: which local account a provider's sign-in is.

The provider vouches for a person; Tessera decides who that is here. One claim of the
validated ID token (OIDC_USERNAME_CLAIM: preferred_username, or email) must equal the
username of an existing, active account. A sign-in never creates an account, so only
people an administrator added get in, with the role and organisations given here, and
deactivating a leaver here locks them out whatever the provider says.
"""

import datetime as dt

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from tessera.audit import record_audit
from tessera.errors import Forbidden
from tessera.models import Staff
from tessera.staff.sessions import start_session


def claimed_username(claims: dict, username_claim: str) -> str:
    """The username the ID token's claims name, or Forbidden if they name none.

    An email address counts only if the provider has not said it is unverified: anyone
    may type any address into an account at some providers.
    """
    value = claims.get(username_claim)
    if username_claim == "email" and claims.get("email_verified") is False:
        value = None
    if not isinstance(value, str) or not value.strip():
        raise Forbidden(_("The single sign-on did not say which account you use here. "
                          "Ask an administrator."), "oidc_no_username")
    return value.strip()


def _account_named(session: Session, username: str) -> Staff | None:
    return session.scalars(select(Staff).options(selectinload(Staff.organisations))
                           .where(Staff.username == username)).first()


def account_for_claims(session: Session, claims: dict, username_claim: str) -> Staff:
    """The active local account the claims name; Forbidden with a message for the person
    if there is none (an account is never created here) or it is deactivated."""
    username = claimed_username(claims, username_claim)
    staff = _account_named(session, username)
    if staff is None:
        raise Forbidden(_("There is no account “%(username)s” here. An administrator "
                          "has to create it before you can sign in.", username=username),
                        "oidc_unknown_account")
    if not staff.active:
        raise Forbidden(_("The account “%(username)s” is deactivated.", username=username),
                        "oidc_account_inactive")
    return staff


def _audit(session: Session, staff: Staff, kind: str, now: dt.datetime, claims: dict,
           **fields) -> None:
    # The subject as the password sign-in's entries name it (tessera.staff.accounts),
    # with the provider and who it says signed in.
    record_audit(session, staff.site_id, kind, now,
                 actor_id=staff.id if kind == "signed_in_oidc" else None,
                 subject={"staff": staff.id, "username": staff.username},
                 oidc_subject=claims.get("sub"), **fields)


def sign_in_with_oidc(session: Session, claims: dict, *, username_claim: str,
                      issuer: str, address: str, now: dt.datetime) -> tuple[Staff, str]:
    """Sign in the account the validated ID token's claims name: a new server-side
    session (the same as a password sign-in's) and its audit entry, in the caller's
    transaction; returns the account and the session key for the cookie.

    Raises Forbidden (nothing written) when no active account matches.
    """
    staff = account_for_claims(session, claims, username_claim)
    key = start_session(session, staff.id, now)
    _audit(session, staff, "signed_in_oidc", now, claims, issuer=issuer, address=address)
    return staff, key


def record_refused_sign_in(session: Session, claims: dict, *, username_claim: str,
                           issuer: str, reason: str, address: str,
                           now: dt.datetime) -> None:
    """Put a refused single sign-on to an existing account (deactivated, say) in its
    site's audit trail; a name with no account here belongs to no site, so it is only
    refused."""
    try:
        staff = _account_named(session, claimed_username(claims, username_claim))
    except Forbidden:
        return
    if staff is not None:
        _audit(session, staff, "sign_in_failed", now, claims, issuer=issuer,
               address=address, reason=reason)
