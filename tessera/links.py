"""The mobile ticket's address, the same in the QR code on the kiosk's screen and on paper."""

import socket

MOBILE_TICKET_PATH = "/t/{token}"  # the display blueprint's mobile ticket page


def mobile_ticket_url(base_url: str, token: str) -> str:
    """The mobile ticket of `token` under `base_url` (PUBLIC_URL, or where the web listens)."""
    return base_url.rstrip("/") + MOBILE_TICKET_PATH.format(token=token)


def listening_url(host: str, port: int | str) -> str:
    """Where the web process listens, as phones can reach it: by name when on every address."""
    if host in ("0.0.0.0", "::"):
        host = socket.getfqdn()
    return f"http://{host}:{port}"


MANAGE_APPOINTMENT_PATH = "/a/{token}"  # the booking blueprint's manage-your-appointment page


def manage_appointment_url(base_url: str, token: str) -> str:
    """Where the visitor sees, moves or cancels the appointment of `token`, under `base_url`."""
    return base_url.rstrip("/") + MANAGE_APPOINTMENT_PATH.format(token=token)
