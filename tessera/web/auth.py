"""Staff sign-in pages and the session and bearer-token loaders behind `current_user`."""

import datetime as dt
from contextlib import suppress
from functools import wraps
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext, ngettext
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from tessera.errors import NotFound, TesseraError
from tessera.models import Counter, CounterStatus, Staff
from tessera.staff.accounts import (
    account_for_password_link,
    record_sign_in,
    set_page_language,
    use_password_link,
)
from tessera.staff.auth import authenticate, load_staff, staff_for_token
from tessera.staff.passwords import MAX_PASSWORD_LENGTH
from tessera.staff.permissions import can_manage, can_use_counter
from tessera.staff.sessions import check_session, end_session, start_session
from tessera.staff.throttle import LoginThrottle
from tessera.stores import stores
from tessera.web.extensions import limiter, login_manager
from tessera.web.i18n import translated_languages

blueprint = Blueprint("auth", __name__)
# The cookie's key to the server-side session (tessera.staff.sessions).
SESSION_KEY = "staff_session"


def _now() -> dt.datetime:
    """The app's clock (naive UTC), which tests move."""
    return stores().engine.clock()


def login_throttle() -> LoginThrottle:
    """The per-account delay on failed sign-ins, with the app's settings."""
    config = current_app.config
    return LoginThrottle(stores().redis, config["LOGIN_FAILURES_BEFORE_DELAY"],
                         config["LOGIN_DELAY_MAX_SECONDS"])


def bearer_header(incoming=None) -> bool:
    """Whether the request names a bearer token (which then alone decides who it is)."""
    return (incoming or request).headers.get("Authorization", "").startswith("Bearer ")


def session_valid(staff_id: int, touch: bool = True) -> bool:
    """Whether this request's session cookie holds a server-side session of `staff_id`
    that has not ended; records the activity unless `touch` is false."""
    config = current_app.config
    with stores().database.session() as db:
        return check_session(db, staff_id, session.get(SESSION_KEY), _now(),
                             dt.timedelta(minutes=config["STAFF_IDLE_MINUTES"]),
                             dt.timedelta(hours=config["STAFF_SESSION_HOURS"]), touch)


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
    ("//host", "/\\host", "https://host"), nor a broken header: a control character
    (CR, LF, NUL, ...) would make the Location header invalid, and browsers drop some."""
    parts = urlsplit(target)
    if (not target.startswith("/") or parts.scheme or parts.netloc
            or target.startswith("//") or "\\" in target
            or any(ord(character) < 32 or ord(character) == 127 for character in target)):
        return url_for("counter.choose_desk")
    return target


def signed_in(staff: Staff, key: str, target: str):
    """The end of every way of signing in (password, single sign-on): a fresh cookie for
    the server-side session `key`, then on to `target` by local_target's rules."""
    # A fresh cookie: nothing from before the sign-in carries over into it.
    session.clear()
    session[SESSION_KEY] = key
    login_user(staff)
    return redirect(local_target(target))


@blueprint.route("/login", methods=["GET", "POST"])
@limiter.limit("10/minute", methods=["POST"])
def login():
    """Sign in; then on to where the member of staff was going."""
    form = SignInForm()
    status = 200
    if form.validate_on_submit():
        username, address, now = form.username.data, request.remote_addr or "", _now()
        throttle = login_throttle()
        wait = throttle.wait_seconds(username, address, now)
        if wait:
            # The password is not even checked: guessing from here has to wait.
            flash(ngettext("Too many failed sign-ins to this account. Try again in "
                           "%(num)s second.", "Too many failed sign-ins to this account. "
                           "Try again in %(num)s seconds.", wait), "error")
            return (render_template("auth/login.html", form=form), 429,
                    {"Retry-After": str(wait)})
        with stores().database.session() as db:
            staff = authenticate(db, username, form.password.data)
            key = start_session(db, staff.id, now) if staff is not None else None
            # The audit entry stands or falls with the session it records.
            record_sign_in(db, username, address, now, staff)
        if staff is None:
            throttle.failed(username, address, now)
            flash(_("Wrong username or password."), "error")
            status = 401
        else:
            throttle.succeeded(username)
            return signed_in(staff, key, request.args.get("next", ""))
    if form.errors:
        status = 422
    return render_template("auth/login.html", form=form), status


@blueprint.post("/logout")
@login_required
def logout():
    """Sign out, closing the desks left open: nobody should be held for an empty desk."""
    engine = stores().engine
    with engine.database.session() as db:
        open_desks = list(db.scalars(select(Counter.id).where(
            Counter.staff_id == current_user.id, Counter.status != CounterStatus.CLOSED)))
    for counter_id in open_desks:
        # A desk with a visitor still being served stays as it is.
        with suppress(TesseraError):
            engine.close_counter(counter_id)
    with stores().database.session() as db:
        end_session(db, session.get(SESSION_KEY), _now())
    logout_user()
    session.pop(SESSION_KEY, None)
    return redirect(url_for("auth.login"))


@blueprint.post("/staff/language")
@login_required
def page_language():
    """Keep the language of the signed-in member of staff's pages; back to the page they were on."""
    with stores().database.session() as session:
        set_page_language(session, current_user.id, request.form.get("language", ""),
                          sorted(translated_languages()))
    return redirect(local_target(request.form.get("next", "")))



class SetPasswordForm(FlaskForm):
    """A new password, twice."""

    password = PasswordField(lazy_gettext("New password"), validators=[
        DataRequired(), Length(max=MAX_PASSWORD_LENGTH)])
    confirm = PasswordField(lazy_gettext("The same password again"), validators=[
        DataRequired(), EqualTo("password", message=lazy_gettext("The two passwords differ."))])


@blueprint.route("/set-password/<token>", methods=["GET", "POST"])
@limiter.limit("10/minute", methods=["POST"])
def set_password_page(token):
    """Choose a password through the one-time link an administrator gave (public: the
    link is the proof; the form checks its own CSRF token)."""
    secret_key = current_app.config["SECRET_KEY"]
    with stores().database.session() as db:
        try:
            username = account_for_password_link(db, token, secret_key, _now()).username
        except NotFound as error:
            return render_template("auth/set_password.html", form=None,
                                   message=error.message), 404
    form = SetPasswordForm()
    if form.validate_on_submit():
        try:
            with stores().database.session() as db:
                use_password_link(db, token, form.password.data, secret_key, _now())
        except TesseraError as error:
            form.password.errors.append(error.message)
        else:
            return render_template("auth/set_password.html", form=None, done=True)
    status = 422 if form.errors else 200
    return render_template("auth/set_password.html", form=form, username=username), status

def init_auth(app: Flask) -> None:
    """Sessions for pages, bearer tokens for scripts; both give `current_user`."""
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = lazy_gettext("Please sign in.")

    @app.before_request
    def load_identity_first() -> None:
        # Before any view opens a session: loading the member of staff lazily, e.g. for
        # the language of an error message raised inside a view's session, opens a
        # second one, which on SQLite waits for the write lock the first holds (30 s,
        # then a 500).
        current_user._get_current_object()

    @login_manager.user_loader
    def load_user(staff_id: str) -> Staff | None:
        if bearer_header():
            return None  # a bearer token replaces the session, even a wrong one
        # Any request made with the session counts as activity, except where a view says
        # otherwise (g.session_activity False: the Socket.IO events of pages that are
        # merely open, see tessera.web.realtime).
        if not session_valid(int(staff_id), touch=g.get("session_activity", True)):
            return None
        with stores().database.session() as db:
            return load_staff(db, Staff.id == int(staff_id))

    @login_manager.request_loader
    def load_from_token(incoming) -> Staff | None:
        header = incoming.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return None
        with stores().database.session() as db:
            staff = staff_for_token(db, header.removeprefix("Bearer ").strip(), _now())
        # Only a valid token stands in for the CSRF token (tessera.web.csrf).
        g.bearer_staff = staff is not None
        return staff
