"""How a message leaves: email through SMTP, SMS through Twilio, or both into files (the demo).

Each sender raises SendFailed when the message was not accepted; the caller
keeps the message pending and tries again later. Which senders a process uses
follows the settings (tessera/config.py): SMTP_HOST set means SMTP, else the
email file; SMS_SENDER is "file" or "twilio".
"""

import base64
import datetime as dt
import fcntl
import json
import smtplib
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Protocol

from tessera.config import INSTANCE_DIRECTORY, Config

# The settings the senders and the sending read, by their names in Config.
SETTING_NAMES = ("MESSAGE_CLAIM_SECONDS", "SMTP_HOST", "SMTP_PORT", "SMTP_USERNAME",
                 "SMTP_PASSWORD", "SMTP_STARTTLS", "SMTP_TIMEOUT", "MAIL_FROM", "SMS_SENDER",
                 "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM", "TWILIO_API_URL")
TWILIO_TIMEOUT_SECONDS = 30


class SendFailed(RuntimeError):
    """The message was not accepted (a server down, refused, an error answer)."""


@dataclass(frozen=True)
class Email:
    """One email: who to, the text, and the Message-ID that names it wherever it is resent."""

    to: str
    subject: str
    body: str
    language: str
    message_id: str


class EmailSender(Protocol):
    """Sends one email or raises SendFailed."""

    def send(self, email: Email) -> None:
        """Hand the email on (to a server, to a file)."""


class SmsSender(Protocol):
    """Sends one SMS or raises SendFailed."""

    def send(self, phone: str, text: str) -> None:
        """Hand the SMS on (to a provider, to a file)."""


def config_settings() -> dict:
    """The messages' settings as this process's Config has them (from the environment)."""
    return {name: getattr(Config, name) for name in SETTING_NAMES}


def build_email(email: Email, sender: str) -> EmailMessage:
    """The email as sent: plain text in UTF-8, with its language and its fixed Message-ID."""
    message = EmailMessage()
    # First: setting the content drops any Content-* header set before it.
    message.set_content(email.body)
    message["Content-Language"] = email.language
    message["From"] = sender
    message["To"] = email.to
    message["Subject"] = email.subject
    message["Date"] = format_datetime(dt.datetime.now(dt.UTC))
    message["Message-ID"] = email.message_id
    # Mail programs are not to answer holiday notices to a sender nobody reads.
    message["Auto-Submitted"] = "auto-generated"
    return message


class SmtpSender:
    """Email through an SMTP server (STARTTLS and login when configured)."""

    def __init__(self, settings: Mapping):
        self.settings = settings

    def send(self, email: Email) -> None:
        """Deliver the email to the SMTP server, or raise SendFailed."""
        settings = self.settings
        try:
            with smtplib.SMTP(settings["SMTP_HOST"], settings["SMTP_PORT"],
                              timeout=settings["SMTP_TIMEOUT"]) as server:
                if settings["SMTP_STARTTLS"]:
                    server.starttls()
                if settings["SMTP_USERNAME"]:
                    server.login(settings["SMTP_USERNAME"], settings["SMTP_PASSWORD"] or "")
                server.send_message(build_email(email, settings["MAIL_FROM"]))
        except (OSError, smtplib.SMTPException) as error:
            raise SendFailed(f"SMTP: {_one_line(error)}") from error


class FileEmailSender:
    """Email appended to a file, one message after another (mbox-like), for the demo."""

    def __init__(self, path: Path, sender: str):
        self.path, self.sender = path, sender

    def send(self, email: Email) -> None:
        """Append the email to the file."""
        _append(self.path, "From tessera\n" + build_email(email, self.sender).as_string()
                + "\n")


class FileSmsSender:
    """SMS appended to a file, one JSON object a line, for the demo."""

    def __init__(self, path: Path):
        self.path = path

    def send(self, phone: str, text: str) -> None:
        """Append the SMS to the file."""
        _append(self.path, json.dumps({"to": phone, "text": text}, ensure_ascii=False) + "\n")


class TwilioSmsSender:
    """SMS through Twilio's Messages API (POST /2010-04-01/Accounts/{sid}/Messages.json)."""

    def __init__(self, settings: Mapping):
        missing = [name for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM")
                   if not settings[name]]
        if missing:
            raise ValueError(f"SMS_SENDER=twilio needs {', '.join(missing)}")
        self.settings = settings

    def send(self, phone: str, text: str) -> None:
        """Create the message at Twilio; raise SendFailed with Twilio's reason if refused."""
        settings = self.settings
        account = settings["TWILIO_ACCOUNT_SID"]
        url = (f"{settings['TWILIO_API_URL'].rstrip('/')}/2010-04-01/Accounts/"
               f"{urllib.parse.quote(account)}/Messages.json")
        credentials = base64.b64encode(
            f"{account}:{settings['TWILIO_AUTH_TOKEN']}".encode()).decode()
        request = urllib.request.Request(
            url, method="POST",
            data=urllib.parse.urlencode({"To": _e164(phone), "From": settings["TWILIO_FROM"],
                                         "Body": text}).encode(),
            headers={"Authorization": f"Basic {credentials}",
                     "Content-Type": "application/x-www-form-urlencoded"})
        try:
            with urllib.request.urlopen(request, timeout=TWILIO_TIMEOUT_SECONDS) as response:
                response.read()
        except urllib.error.HTTPError as error:
            raise SendFailed(f"Twilio {error.code}: {_twilio_reason(error)}") from error
        except OSError as error:
            raise SendFailed(f"Twilio: {_one_line(error)}") from error


def email_sender(settings: Mapping, instance: Path = INSTANCE_DIRECTORY) -> EmailSender:
    """SMTP when SMTP_HOST is set, else the file instance/email-outbox.log."""
    if settings["SMTP_HOST"]:
        return SmtpSender(settings)
    return FileEmailSender(instance / "email-outbox.log", settings["MAIL_FROM"])


def sms_sender(settings: Mapping, instance: Path = INSTANCE_DIRECTORY) -> SmsSender:
    """The SMS sender SMS_SENDER names: "file" (instance/sms-outbox.log) or "twilio"."""
    if settings["SMS_SENDER"] == "twilio":
        return TwilioSmsSender(settings)
    if settings["SMS_SENDER"] == "file":
        return FileSmsSender(instance / "sms-outbox.log")
    raise ValueError(f"SMS_SENDER must be file or twilio, not {settings['SMS_SENDER']!r}")


def fixed_message_id(key: str, sender: str) -> str:
    """A Message-ID fixed by `key`, so a resent email is recognisably the same one."""
    domain = sender.rsplit("@", 1)[-1].strip("> ") or "tessera.invalid"
    return f"<tessera.{key}@{domain}>"


def _e164(phone: str) -> str:
    # Twilio wants +<digits>; the booking form allows spaces, dashes and brackets.
    digits = "".join(character for character in phone if character.isdigit())
    return f"+{digits}" if phone.strip().startswith("+") else digits


def _twilio_reason(error: urllib.error.HTTPError) -> str:
    try:
        answer = json.loads(error.read() or b"{}")
    except ValueError:
        answer = {}
    return _one_line(f"{answer.get('code', '')} {answer.get('message') or error.reason}")


def _append(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as file:
        # Two workers appending at once must not interleave their messages.
        fcntl.flock(file, fcntl.LOCK_EX)
        file.write(text)


def _one_line(error) -> str:
    return " ".join(str(error).split())[:250] or type(error).__name__
