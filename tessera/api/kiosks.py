"""GET /sites/<site>/kiosks/<kiosk>/printer: did the kiosk's printer print this ticket?"""

from flask import Blueprint, jsonify, request
from flask_babel import gettext as _
from sqlalchemy import select

from tessera.errors import NotFound
from tessera.models import Ticket
from tessera.printing.jobs import ticket_print_state
from tessera.sites.catalogue import get_kiosk, get_site
from tessera.stores import stores

blueprint = Blueprint("kiosks", __name__)


@blueprint.get("/sites/<site_id>/kiosks/<kiosk_key>/printer")
def printer(site_id, kiosk_key):
    """The kiosk printer's last status and, with ?ticket=<token>, whether that ticket printed.

    The screen asks about its own ticket: the printer's status may still be the
    previous ticket's while this one waits for a slow or absent printer.
    """
    token = request.args.get("ticket")
    with stores().database.session() as session:
        get_site(session, site_id)
        get_kiosk(session, site_id, kiosk_key)
        if token is not None:
            ticket = session.scalars(select(Ticket).where(
                Ticket.token == token, Ticket.site_id == site_id)).first()
            if ticket is None:
                raise NotFound(_("There is no such ticket."))
            state = ticket_print_state(session, ticket.id)
    status = stores().live.printer_statuses(site_id).get(kiosk_key)
    answer = status or {"status": "unknown", "message": None, "at": None}
    if token is not None:
        answer = {**answer, "ticket": state}
    return jsonify(answer)
