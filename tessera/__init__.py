"""Tessera: queues and appointments for One-Stop-Shops and Migrant Resource Centres."""

import importlib
import secrets

from flask import Flask

from tessera.config import INSTANCE_DIRECTORY, Config


def limiter_storage(redis_url: str) -> str:
    """The rate limiter's storage URI for our Redis (the limits library spells it its way)."""
    from tessera.redis_client import limiter_storage as storage

    return storage(redis_url)


def create_app(config: dict | None = None) -> Flask:
    """The app factory: configuration from the environment, overridable by `config`."""
    from flask_babel import get_locale

    from tessera import api, languages
    from tessera.messages.sending import send_after_commit
    from tessera.stores import Stores
    from tessera.web import auth, csrf, errors, health, i18n, oidc, realtime
    from tessera.web.announcing import AnnouncingPublisher
    from tessera.web.booking_guard import challenge_on
    from tessera.web.extensions import babel, limiter, socketio
    from tessera.web.extensions import csrf as csrf_protection
    from tessera.web.input_guard import init_input_guard
    from tessera.web.qr import qr_svg
    from tessera.web.security_headers import init_security_headers

    app = Flask(__name__, instance_path=str(INSTANCE_DIRECTORY))
    app.config.from_object(Config)
    if config:
        app.config.update(config)
    if not app.config["SECRET_KEY"]:
        # Sessions then last only as long as this process; production sets SECRET_KEY.
        app.config["SECRET_KEY"] = secrets.token_hex(32)
    redis_url = app.config["REDIS_URL"]
    if not redis_url:
        raise RuntimeError("REDIS_URL is not set; `python -m tessera up` starts an embedded "
                           "Redis and sets it for the processes it runs.")
    app.config.setdefault("RATELIMIT_STORAGE_URI", limiter_storage(redis_url))
    app.config.setdefault("RATELIMIT_KEY_PREFIX", "tessera-limits")
    # CSRF is checked in web.csrf.protect_from_csrf, which knows which requests need it.
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)

    # First: hostile input is refused before the rate limiter, CSRF or any view reads it.
    init_input_guard(app)
    # Security headers and cookie flags (CSP, frames, HTTPS) on every answer.
    init_security_headers(app)
    babel.init_app(app, locale_selector=i18n.select_locale)
    limiter.init_app(app)
    csrf_protection.init_app(app)
    auth.init_auth(app)
    csrf.protect_from_csrf(app)
    socketio.init_app(app, client_manager=realtime.message_queue(
        redis_url, app.config["SOCKETIO_CHANNEL"]))
    realtime.register_handlers(socketio)
    Stores.connect(app.config["DATABASE_URL"], redis_url,
                   app.config["MAX_SERVICES_PER_TICKET"],
                   publisher=realtime.SocketPublisher(socketio)).init_app(app)
    # Every call's announcements are rendered by the worker as soon as it is published.
    app_stores = app.extensions["tessera"]
    app_stores.engine.publish = AnnouncingPublisher(app_stores.engine.publish, app_stores.redis)
    # Messages a request writes go to the worker once it commits, never in its way.
    send_after_commit(app.extensions["tessera"].database, redis_url)

    errors.register_error_handlers(app)
    app.jinja_env.globals.update(get_locale=get_locale, qr_svg=qr_svg,
                                 language_name=languages.language_name,
                                 language_names=languages.language_names,
                                 page_languages=i18n.translated_languages,
                                 text_direction=languages.direction,
                                 booking_challenge_on=challenge_on)
    app.register_blueprint(health.blueprint)
    app.register_blueprint(api.blueprint)
    app.register_blueprint(auth.blueprint)
    # Single sign-on beside the password form, when OIDC_ISSUER is set.
    oidc.init_oidc(app)
    # The page blueprints sit above this package (DESIGN: nothing in tessera/ imports
    # one), so the factory finds them by the names the configuration gives.
    for name in app.config["PAGE_BLUEPRINTS"]:
        app.register_blueprint(importlib.import_module(name).blueprint)
    return app
