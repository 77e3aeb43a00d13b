"""Appointments at a desk: its services' coming appointments, and booking for a visitor.

Staff book from the desk they hold open, for a visitor in front of them, at any
service of the site that takes appointments (another organisation's too). No
bot protection here: the member of staff is signed in, and the event names them.
"""

from flask import Blueprint, abort, current_app, jsonify
from flask_babel import gettext as _
from flask_login import current_user

from tessera.api.appointments import _now, _start
from tessera.api.openapi import request_body
from tessera.appointments.booking import appointment_view, book
from tessera.models import Counter, CounterStatus
from tessera.status.appointments import check_in_window, desk_appointments
from tessera.stores import stores
from tessera.web.addresses import manage_url
from tessera.web.auth import counter_for_staff, staff_required

blueprint = Blueprint("staff_appointments", __name__)


def held_desk(session, counter_id: int) -> Counter:
    """The counter, if the signed-in member of staff holds it open (or paused); else 403."""
    counter = counter_for_staff(session, counter_id)
    if counter.staff_id != current_user.id or counter.status == CounterStatus.CLOSED:
        abort(403, _("Open this desk first: staff book appointments from the desk they hold."))
    return counter


@blueprint.get("/counters/<id:counter_id>/appointments")
@staff_required
def upcoming(counter_id):
    """Today's appointments of the desk's services still to come or to be served; no contact."""
    with stores().database.session() as session:
        counter = counter_for_staff(session, counter_id)
        rows = desk_appointments(session, counter.id, counter.site.language, _now(),
                                 check_in_window(current_app.config))
    return jsonify({"counter": counter_id, "appointments": rows})


@blueprint.post("/counters/<id:counter_id>/appointments")
@staff_required
def book_for_visitor(counter_id):
    """Book a slot for the visitor at the desk: {service, start, language, contact?}."""
    body = request_body()
    with stores().database.session() as session:
        counter = held_desk(session, counter_id)
        appointment = book(session, counter.site_id, body["service"], _start(body),
                           body["language"], body.get("contact"), _now(),
                           booked_by=current_user.id, counter_id=counter.id)
        view = appointment_view(appointment)
        # The id names the appointment in the desk's print view; the token stays the visitor's.
        view.update(id=appointment.id, manage_url=manage_url(appointment.token))
        return jsonify(view), 201
