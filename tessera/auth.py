"""Staff sign-in (Flask-Login sessions, argon2 passwords), bearer tokens, and permissions.

Staff act only at their own site; a member of staff only at counters that serve
one of their organisations' services; managers and admins anywhere at their site.
"""

import datetime as dt
import hashlib
import secrets
from contextlib import suppress
from functools import wraps
from urllib.parse import urlsplit

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from tessera.errors import TesseraError
from tessera.extensions import limiter, login_manager
from tessera.models import Counter, CounterStatus, Role, Staff, StaffToken
from tessera.stores import stores

blueprint = Blueprint("auth", __name__)
password_hasher = PasswordHasher()
# Verifying against this when the username is unknown keeps both answers equally slow.
_UNKNOWN_USER_HASH = password_hasher.hash(secrets.token_hex(16))


def _load_staff(session: Session, *conditions) -> Staff | None:
    return session.scalars(select(Staff).options(selectinload(Staff.organisations))
                           .where(Staff.active, *conditions)).first()


def authenticate(session: Session, username: str, password: str) -> Staff | None:
    """The active member of staff with these credentials, else None."""
    staff = _load_staff(session, Staff.username == username)
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
    return _load_staff(session, Staff.id == row.staff_id) if row else None


def can_use_counter(staff: Staff, counter: Counter) -> bool:
    """Whether `staff` may call and serve at `counter`."""
    if staff.site_id != counter.site_id:
        return False
    if staff.role in (Role.MANAGER, Role.ADMIN):
        return True
    organisations = {organisation.id for organisation in staff.organisations}
    return any(service.organisation_id in organisations for service in counter.services)


def can_manage(staff: Staff, site_id: str) -> bool:
    """Whether `staff` may see a site's manager view."""
    return staff.site_id == site_id and staff.role in (Role.MANAGER, Role.ADMIN)


def staff_required(view):
    """Like login_required, for API views: 401 in the contract's JSON shape."""

    @wraps(view)
    def wrapper(*arguments, **keywords):
        if not current_user.is_authenticated:
            abort(401, _("Sign in, or send a valid bearer token."))
        return view(*arguments, **keywords)

    return wrapper


class SignInForm(FlaskForm):
    """Username and password."""

    username = StringField(lazy_gettext("Username"), validators=[DataRequired(),
                                                                 Length(max=80)])
    password = PasswordField(lazy_gettext("Password"), validators=[DataRequired(),
                                                                   Length(max=200)])


@blueprint.route("/login", methods=["GET", "POST"])
@limiter.limit("10/minute", methods=["POST"])
def login():
    """Sign in; then on to where the member of staff was going."""
    form = SignInForm()
    status = 200
    if form.validate_on_submit():
        with stores().database.session() as session:
            staff = authenticate(session, form.username.data, form.password.data)
        if staff is None:
            flash(_("Wrong username or password."), "error")
            status = 401
        else:
            login_user(staff)
            target = request.args.get("next", "")
            # Only paths on this site: never an open redirect ("//host", "/\\host").
            parts = urlsplit(target)
            if (not target.startswith("/") or parts.scheme or parts.netloc
                    or target.startswith("//") or "\\" in target):
                target = url_for("counter.choose_desk")
            return redirect(target)
    if form.errors:
        status = 422
    return render_template("auth/login.html", form=form), status


@blueprint.post("/logout")
@login_required
def logout():
    """Sign out, closing the desks left open: nobody should be held for an empty desk."""
    engine = stores().engine
    with engine.database.session() as session:
        open_desks = list(session.scalars(select(Counter.id).where(
            Counter.staff_id == current_user.id, Counter.status != CounterStatus.CLOSED)))
    for counter_id in open_desks:
        # A desk with a visitor still being served stays as it is.
        with suppress(TesseraError):
            engine.close_counter(counter_id)
    logout_user()
    return redirect(url_for("auth.login"))


def init_auth(app: Flask) -> None:
    """Sessions for pages, bearer tokens for scripts; both give `current_user`."""
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = lazy_gettext("Please sign in.")

    @login_manager.user_loader
    def load_user(staff_id: str) -> Staff | None:
        with stores().database.session() as session:
            return _load_staff(session, Staff.id == int(staff_id))

    @login_manager.request_loader
    def load_from_token(incoming) -> Staff | None:
        header = incoming.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return None
        with stores().database.session() as session:
            return staff_for_token(session, header.removeprefix("Bearer ").strip())
