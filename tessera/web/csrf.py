"""CSRF: which state-changing requests need a token, and checking it (Flask-WTF)."""

from flask import Flask, g, request
from flask_login import current_user

from tessera.web.extensions import csrf


def public(view):
    """Mark a view that anyone may call without a session: it needs no CSRF token.

    Such views act on no signed-in identity (issuing a ticket, a visitor leaving
    with their unguessable token), so a forged cross-site request gains nothing.
    """
    view.public = True
    return view


def protect_from_csrf(app: Flask) -> None:
    """Check the CSRF token on every state-changing request made with a signed-in session.

    A valid bearer token cannot be sent by a browser tricked into it, and with one the
    session cookie is ignored (tessera.web.auth); a wrong token authenticates nothing;
    public views act on no identity; the sign-in form checks its own token (Flask-WTF).
    """

    @app.before_request
    def check_csrf():
        if request.method in ("GET", "HEAD", "OPTIONS") or request.routing_exception:
            return  # reading changes nothing; a request that matched no route fails anyway
        if not current_user.is_authenticated:
            return  # no identity to abuse (a wrong bearer token gives none); views answer 401
        if g.get("bearer_staff"):
            return  # a valid bearer token, and then the session cookie was not used
        view = app.view_functions.get(request.endpoint)
        if getattr(view, "public", False):
            return
        csrf.protect()
