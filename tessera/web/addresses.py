"""Addresses the web process hands out, as the outside world reaches them."""

from flask import current_app, request

from tessera.links import mobile_ticket_url


def mobile_url(token: str) -> str:
    """The mobile ticket's address for the QR code: under PUBLIC_URL, as on the paper."""
    return mobile_ticket_url(current_app.config["PUBLIC_URL"] or request.url_root, token)
