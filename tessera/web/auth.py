"""Staff sign-in pages and the session and bearer-token loaders behind `current_user`."""

from contextlib import suppress
from functools import wraps
from urllib.parse import urlsplit

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from tessera.errors import NotFound, TesseraError
from tessera.models import Counter, CounterStatus, Staff
from tessera.staff.accounts import set_page_language
from tessera.staff.auth import authenticate, load_staff, staff_for_token
from tessera.staff.permissions import can_manage, can_use_counter
from tessera.stores import stores
from tessera.web.extensions import limiter, login_manager
from tessera.web.i18n import translated_languages

blueprint = Blueprint("auth", __name__)

def staff_required(view):
    """Like login_required, for API views: 401 in the contract's JSON shape."""

    @wraps(view)
    def wrapper(*arguments, **keywords):
        if not current_user.is_authenticated:
            abort(401, _("Sign in, or send a valid bearer token."))
        return view(*arguments, **keywords)

    return wrapper


def counter_for_staff(session: Session, counter_id: int) -> Counter:
    """The counter, if the signed-in member of staff may work there (else 404/403)."""
    counter = session.scalars(select(Counter).where(Counter.id == counter_id).options(
        selectinload(Counter.services), selectinload(Counter.site))).first()
    if counter is None or not counter.active:
        raise NotFound(_("There is no counter %(counter)s.", counter=counter_id))
    if not can_use_counter(current_user, counter):
        abort(403, _("You may not work at this desk."))
    return counter


def require_manager(site_id: str) -> None:
    """403 unless the signed-in member of staff manages `site_id`."""
    if not can_manage(current_user, site_id):
        abort(403, _("Only managers of this site may see this."))


class SignInForm(FlaskForm):
    """Username and password."""

    username = StringField(lazy_gettext("Username"), validators=[DataRequired(),
                                                                 Length(max=80)])
    password = PasswordField(lazy_gettext("Password"), validators=[DataRequired(),
                                                                   Length(max=200)])


def local_target(target: str) -> str:
    """`target` if it is a path on this site, else the desk choice: never an open redirect
    ("//host", "/\\host", "https://host")."""
    parts = urlsplit(target)
    if (not target.startswith("/") or parts.scheme or parts.netloc
            or target.startswith("//") or "\\" in target):
        return url_for("counter.choose_desk")
    return target


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
            return redirect(local_target(request.args.get("next", "")))
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


@blueprint.post("/staff/language")
@login_required
def page_language():
    """Keep the language of the signed-in member of staff's pages; back to the page they were on."""
    with stores().database.session() as session:
        set_page_language(session, current_user.id, request.form.get("language", ""),
                          sorted(translated_languages()))
    return redirect(local_target(request.form.get("next", "")))


def init_auth(app: Flask) -> None:
    """Sessions for pages, bearer tokens for scripts; both give `current_user`."""
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = lazy_gettext("Please sign in.")

    @login_manager.user_loader
    def load_user(staff_id: str) -> Staff | None:
        with stores().database.session() as session:
            return load_staff(session, Staff.id == int(staff_id))

    @login_manager.request_loader
    def load_from_token(incoming) -> Staff | None:
        header = incoming.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return None
        with stores().database.session() as session:
            return staff_for_token(session, header.removeprefix("Bearer ").strip())
