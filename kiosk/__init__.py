"""The kiosk: touch pages where visitors take a ticket, and the issuing API behind them."""

from flask import Blueprint, abort, current_app, g, jsonify, render_template, request
from flask_babel import gettext as _
from redis.exceptions import RedisError
from sqlalchemy import select

from tessera.api import json_object, public
from tessera.catalogue import catalogue, check_language, get_site, load_ticket, ticket_status
from tessera.errors import InvalidInput
from tessera.extensions import limiter
from tessera.hall import service_waits
from tessera.links import mobile_ticket_url
from tessera.models import Device, DeviceKind, Ticket
from tessera.stores import stores
from worker.printing import enqueue_print, print_queue, ticket_print_state

blueprint = Blueprint("kiosk", __name__, template_folder="templates", static_folder="static",
                      static_url_path="/kiosk-static")


def _kiosk_key() -> str:
    """Rate limits count per kiosk (the X-Kiosk header names it)."""
    return "kiosk:" + (request.headers.get("X-Kiosk") or "none")[:64]


def _issue_limit_per_kiosk() -> str:
    return current_app.config["ISSUE_LIMIT_PER_KIOSK"]


def _issue_limit_per_address() -> str:
    return current_app.config["ISSUE_LIMIT_PER_ADDRESS"]


def _kiosk(session, site_id: str, kiosk_key: str) -> Device:
    kiosk = session.scalars(select(Device).where(
        Device.site_id == site_id, Device.key == kiosk_key, Device.kind == DeviceKind.KIOSK,
        Device.active)).first()
    if kiosk is None:
        abort(404, _("There is no kiosk '%(kiosk)s' at this site.", kiosk=kiosk_key))
    return kiosk


# API ------------------------------------------------------------------------

@blueprint.get("/api/v1/sites/<site_id>/services")
def services(site_id):
    """The catalogue of a site's services, by category, in ?language= (default: site's)."""
    with stores().database.session() as session:
        site = get_site(session, site_id)
        return jsonify(catalogue(session, site_id, request.args.get("language", site.language)))


@blueprint.post("/api/v1/sites/<site_id>/tickets")
@public
@limiter.limit(_issue_limit_per_kiosk, key_func=_kiosk_key)
@limiter.limit(_issue_limit_per_address)
def issue(site_id):
    """Issue a ticket: {services: [ids], language, needs: []}; Idempotency-Key makes it once."""
    body = json_object()
    services_asked = body.get("services")
    if not isinstance(services_asked, list) or not all(
            isinstance(s, int) and not isinstance(s, bool) for s in services_asked):
        raise InvalidInput(_("'services' must be a list of service ids."), "invalid_services")
    language = body.get("language")
    if not isinstance(language, str):
        raise InvalidInput(_("'language' must be a language code such as 'ar'."),
                           "invalid_language")
    needs = body.get("needs", [])
    if not isinstance(needs, list) or not all(isinstance(n, str) for n in needs):
        raise InvalidInput(_("'needs' must be a list such as [\"priority\"]."),
                           "invalid_needs")
    key = request.headers.get("Idempotency-Key")
    if key is not None and not 1 <= len(key) <= 128:
        raise InvalidInput(_("An Idempotency-Key has 1 to 128 characters."), "invalid_key")
    kiosk_key = request.headers.get("X-Kiosk")
    if kiosk_key is not None:
        # Checked before issuing: a ticket for a kiosk that does not exist could never print.
        with stores().database.session() as session:
            get_site(session, site_id)
            _kiosk(session, site_id, kiosk_key)
    engine = stores().engine
    ticket = engine.issue_ticket(site_id, services_asked, language, needs, idempotency_key=key,
                                 kiosk=kiosk_key)
    if kiosk_key is not None:
        _print(ticket.id, kiosk_key)
    status = ticket_status(engine, load_ticket(engine, ticket.token))
    status["token"] = ticket.token
    status["mobile_url"] = _mobile_url(ticket.token)
    return jsonify(status), 201


def _mobile_url(token: str) -> str:
    """The mobile ticket's address for the QR code: under PUBLIC_URL, as on the paper."""
    return mobile_ticket_url(current_app.config["PUBLIC_URL"] or request.url_root, token)


def _print(ticket_id: int, kiosk_key: str) -> None:
    """Hand the committed ticket to the print worker; the visitor has it on screen anyway.

    A replayed issue enqueues again on purpose: the job id is the ticket's and a
    printed ticket never prints twice, so a print job lost with Redis comes back.
    """
    try:
        enqueue_print(print_queue(stores().redis), ticket_id, kiosk_key)
    except RedisError:
        current_app.logger.exception("Could not enqueue the print job of ticket %s", ticket_id)


@blueprint.get("/api/v1/sites/<site_id>/queues")
def queues(site_id):
    """Per service: how many wait, since when, and the estimate for a new ticket."""
    engine = stores().engine
    with engine.database.session() as session:
        site = get_site(session, site_id)
        language = check_language(site, request.args.get("language", site.language))
    oldest = {row["service_id"]: row["oldest_arrival"] for row in engine.queue_overview(site_id)}
    return jsonify({"site": site_id, "services": [
        {**row, "oldest_arrival": oldest[row["service_id"]].isoformat() + "Z"
         if oldest.get(row["service_id"]) else None}
        for row in service_waits(engine, site_id, language)]})


@blueprint.get("/api/v1/sites/<site_id>/kiosks/<kiosk_key>/printer")
def printer(site_id, kiosk_key):
    """The kiosk printer's last status and, with ?ticket=<token>, whether that ticket printed.

    The screen asks about its own ticket: the printer's status may still be the
    previous ticket's while this one waits for a slow or absent printer.
    """
    token = request.args.get("ticket")
    with stores().database.session() as session:
        get_site(session, site_id)
        _kiosk(session, site_id, kiosk_key)
        if token is not None:
            ticket = session.scalars(select(Ticket).where(
                Ticket.token == token, Ticket.site_id == site_id)).first()
            if ticket is None:
                abort(404, _("There is no such ticket."))
            state = ticket_print_state(session, ticket.id)
    status = stores().live.printer_statuses(site_id).get(kiosk_key)
    answer = status or {"status": "unknown", "message": None, "at": None}
    if token is not None:
        answer = {**answer, "ticket": state}
    return jsonify(answer)


# Pages ----------------------------------------------------------------------

def _page(site_id: str, kiosk_key: str, language: str | None = None) -> dict:
    """A kiosk screen's catalogue, in `language` (default: the site's), for a known kiosk."""
    with stores().database.session() as session:
        site = get_site(session, site_id)
        _kiosk(session, site_id, kiosk_key)
        g.language = check_language(site, language or site.language)
        return catalogue(session, site_id, g.language)


@blueprint.get("/kiosk/<site_id>/<kiosk_key>")
def choose_language(site_id, kiosk_key):
    """First screen: the site's languages, each in its own script."""
    return render_template("kiosk/languages.html", page=_page(site_id, kiosk_key),
                           kiosk=kiosk_key)


@blueprint.get("/kiosk/<site_id>/<kiosk_key>/<language>")
def choose_services(site_id, kiosk_key, language):
    """Second screen: services by category, needs, and the take-a-ticket button."""
    return render_template("kiosk/services.html", page=_page(site_id, kiosk_key, language),
                           kiosk=kiosk_key,
                           max_services=current_app.config["MAX_SERVICES_PER_TICKET"])


@blueprint.get("/kiosk/<site_id>/<kiosk_key>/<language>/appointment")
def appointment(site_id, kiosk_key, language):
    """Check in for an appointment by its code (appointments are coming soon)."""
    return render_template("kiosk/appointment.html",
                           page=_page(site_id, kiosk_key, language), kiosk=kiosk_key)


@blueprint.get("/kiosk/<site_id>/<kiosk_key>/<language>/ticket/<token>")
def confirmation(site_id, kiosk_key, language, token):
    """Last screen: the committed ticket, large, with its QR code and what to bring."""
    page = _page(site_id, kiosk_key, language)
    engine = stores().engine
    ticket = load_ticket(engine, token)
    if ticket.site_id != site_id:
        abort(404)
    mobile_url = _mobile_url(token)
    return render_template("kiosk/ticket.html", page=page, kiosk=kiosk_key, token=token,
                           ticket=ticket_status(engine, ticket, language),
                           mobile_url=mobile_url)
