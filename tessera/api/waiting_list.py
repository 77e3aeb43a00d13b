"""The waiting list: joining it for a service and a range of days, seeing one's place, leaving."""

from flask import Blueprint, jsonify

from tessera.api.openapi import request_body
from tessera.appointments.waiting_list import entry_view, get_entry, join, leave
from tessera.stores import stores
from tessera.web.addresses import manage_url
from tessera.web.booking_guard import protect_waiting_list
from tessera.web.csrf import public

blueprint = Blueprint("waiting_list", __name__)


def _answer(entry, status: int = 200):
    view = entry_view(entry)
    if view["offer"] is not None:
        # Where the visitor confirms (or declines) the place offered, as the message says.
        view["offer"]["manage_url"] = manage_url(view["offer"]["token"])
    return jsonify(view), status


@blueprint.post("/sites/<site_id>/waiting-list")
@public
def create(site_id):
    """Join the waiting list: {service, language, first_day, last_day, contact}."""
    body = request_body()
    protect_waiting_list()
    with stores().database.session() as session:
        entry = join(session, site_id, body["service"], body["language"], body["first_day"],
                     body["last_day"], body.get("contact"), stores().engine.clock())
        return _answer(entry, 201)


@blueprint.get("/waiting-list/<token>")
def entry(token):
    """A place on the waiting list as its holder sees it, with the place offered, if any."""
    with stores().database.session() as session:
        return _answer(get_entry(session, token, stores().engine.clock()))


@blueprint.post("/waiting-list/<token>/leave")
@public
def leave_list(token):
    """The visitor leaves the waiting list; a place being offered to them goes to the next."""
    with stores().database.session() as session:
        return _answer(leave(session, token, stores().engine.clock()))
