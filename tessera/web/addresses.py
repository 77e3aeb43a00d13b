"""Addresses the web process hands out, as the outside world reaches them."""

from flask import current_app, request

from tessera.links import mobile_ticket_url


def mobile_url(token: str) -> str:
    """The mobile ticket's address for the QR code: under PUBLIC_URL, as on the paper."""
    return mobile_ticket_url(_public_root(), token)


MANAGE_APPOINTMENT_PATH = "/a/{token}"  # the booking blueprint's manage-your-appointment page


def manage_url(token: str) -> str:
    """Where the visitor sees, moves or cancels an appointment: under PUBLIC_URL as well."""
    return _public_root().rstrip("/") + MANAGE_APPOINTMENT_PATH.format(token=token)


def _public_root() -> str:
    return current_app.config["PUBLIC_URL"] or request.url_root
