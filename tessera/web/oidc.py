"""Single sign-on through OpenID Connect (Authlib's Flask client), beside the password form.

Configured by OIDC_ISSUER, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, OIDC_USERNAME_CLAIM and
OIDC_PROVIDER_NAME (tessera/config.py). With OIDC_ISSUER empty both routes answer 404
and the sign-in page shows no button; local accounts sign in with their password either
way. The flow is the authorization code flow: /login/oidc sends the browser to the
provider with a state and a nonce kept in the session cookie; /login/oidc/callback takes
the code back, fetches the tokens from the provider, and Authlib checks the state and
the ID token (signature against the provider's published keys, issuer, audience,
expiry, nonce). Which local account that is, is tessera.staff.oidc's decision.
"""

import logging
from urllib.parse import urlsplit

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.flask_client import OAuth
from flask import Blueprint, Flask, abort, current_app, flash, redirect, request, session, url_for
from flask_babel import gettext as _
from joserfc.errors import JoseError

from tessera.errors import Forbidden
from tessera.staff.oidc import record_refused_sign_in, sign_in_with_oidc
from tessera.stores import stores
from tessera.web.auth import signed_in

blueprint = Blueprint("oidc", __name__)
logger = logging.getLogger(__name__)
# Authlib's name for the provider; it also reads <NAME>_CLIENT_ID and the like from the
# app's configuration, so the name is one no Tessera setting starts with.
CLIENT_NAME = "single_sign_on"
# Where the sign-in was going (the password form's `next`), kept in the session cookie
# across the trip to the provider.
NEXT_KEY = "oidc_next"
DISCOVERY_PATH = "/.well-known/openid-configuration"
# The ID token tells who signed in (sub), their username and email: profile and email.
SCOPE = "openid email profile"


def _issuer(config=None) -> str:
    """OIDC_ISSUER as the base of the discovery address (tolerating the whole address)."""
    issuer = (config or current_app.config).get("OIDC_ISSUER") or ""
    return issuer.strip().removesuffix(DISCOVERY_PATH).rstrip("/")


def provider_name() -> str | None:
    """The provider's name for the sign-in button (OIDC_PROVIDER_NAME, else its host);
    None when single sign-on is off."""
    issuer = _issuer()
    if not issuer:
        return None
    return current_app.config.get("OIDC_PROVIDER_NAME") or urlsplit(issuer).hostname or issuer


def _client():
    if not _issuer():
        abort(404)
    return current_app.extensions["authlib.integrations.flask_client"].create_client(
        CLIENT_NAME)


def _redirect_uri() -> str:
    """The callback's address as the browser reaches it (PUBLIC_URL behind a proxy):
    the one redirect URI the provider must allow."""
    root = current_app.config["PUBLIC_URL"] or request.url_root
    return root.rstrip("/") + url_for("oidc.callback")


def _refused(message: str, target: str):
    """Back to the sign-in page with the reason, keeping where the sign-in was going."""
    flash(message, "error")
    return redirect(url_for("auth.login", **({"next": target} if target else {})))


@blueprint.get("/login/oidc")
def login():
    """Off to the provider's sign-in."""
    client = _client()
    session[NEXT_KEY] = request.args.get("next", "")
    try:
        # Authlib adds a fresh state and nonce and keeps them in the session cookie.
        return client.authorize_redirect(_redirect_uri())
    except (AuthlibBaseError, requests.RequestException) as error:
        logger.warning("The OpenID Connect provider %s is unreachable: %s", _issuer(), error)
        return _refused(_("The sign-in with %(provider)s is not available at the moment. "
                          "Sign in with your password, or try again later.",
                          provider=provider_name()), session.pop(NEXT_KEY, ""))


@blueprint.get("/login/oidc/callback")
def callback():
    """The provider sends the browser back here: check it all, then sign in as the
    matching local account, exactly as a password sign-in does."""
    client = _client()
    config = current_app.config
    target = session.pop(NEXT_KEY, "")
    try:
        # A wrong or missing state, an error from the provider (the person said no),
        # a failed token request or an ID token that does not check out (signature,
        # issuer, audience, expiry, nonce) all end here.
        token = client.authorize_access_token()
    except (AuthlibBaseError, JoseError, requests.RequestException) as error:
        logger.warning("A sign-in through %s was refused: %r", _issuer(), error)
        token = {}
    claims = dict(token.get("userinfo") or {})
    if not claims:
        return _refused(_("The sign-in with %(provider)s did not work. Please try again.",
                          provider=provider_name()), target)
    issuer, now = claims.get("iss", _issuer()), stores().engine.clock()
    database, address = stores().database, request.remote_addr or ""
    try:
        with database.session() as db:
            staff, key = sign_in_with_oidc(db, claims, issuer=issuer, address=address,
                                           now=now,
                                           username_claim=config["OIDC_USERNAME_CLAIM"])
    except Forbidden as refusal:
        with database.session() as db:
            record_refused_sign_in(db, claims, issuer=issuer, address=address, now=now,
                                   reason=refusal.code,
                                   username_claim=config["OIDC_USERNAME_CLAIM"])
        return _refused(refusal.message, target)
    return signed_in(staff, key, target)


def init_oidc(app: Flask) -> None:
    """The single sign-on routes, the button's name for the sign-in page, and (when
    OIDC_ISSUER is set) the provider's client."""
    app.register_blueprint(blueprint)
    app.jinja_env.globals["oidc_provider_name"] = provider_name
    config = app.config
    issuer = _issuer(config)
    if not issuer:
        return
    if not config.get("OIDC_CLIENT_ID"):
        raise RuntimeError("OIDC_ISSUER is set but OIDC_CLIENT_ID is not: register Tessera "
                           "as a client at the provider and set both.")
    # The provider's endpoints and keys come from its discovery document, on first use.
    OAuth(app).register(CLIENT_NAME, client_id=config["OIDC_CLIENT_ID"],
                        client_secret=config.get("OIDC_CLIENT_SECRET") or None,
                        server_metadata_url=issuer + DISCOVERY_PATH,
                        client_kwargs={"scope": SCOPE})
