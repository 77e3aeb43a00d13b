"""The counter: staff pick a desk, then call, serve and refer (actions go to the API)."""

from flask import Blueprint, current_app, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from tessera.errors import InvalidInput
from tessera.models import MAX_ID, Counter, Service, Site
from tessera.queue.counters import default_languages
from tessera.sites.catalogue import translated
from tessera.sites.hours import OpeningHours
from tessera.staff.permissions import can_use_counter
from tessera.status.appointments import (
    bookable_services,
    check_in_window,
    desk_appointments,
    printable_appointment,
)
from tessera.status.desk import counter_view
from tessera.stores import stores
from tessera.web.addresses import manage_url
from tessera.web.auth import counter_for_staff
from tessera.web.i18n import use_staff_language

blueprint = Blueprint("counter", __name__, template_folder="templates", static_folder="static",
                      static_url_path="/counter-static")


@blueprint.get("/counter")
@login_required
def choose_desk():
    """Pick a desk and what you serve there today."""
    engine = stores().engine
    with engine.database.session() as session:
        site = session.get(Site, current_user.site_id)
        use_staff_language(site.language)
        counters = session.scalars(
            select(Counter).where(Counter.site_id == site.id, Counter.active)
            .options(selectinload(Counter.services).selectinload(Service.texts))
            .order_by(Counter.id)).all()
        desks = [{"id": c.id, "name": translated(c.name, site.language, site),
                  "status": c.status.value, "languages": default_languages(c, current_user),
                  "services": [{"id": s.id, "name": s.text(site.language).name}
                               for s in c.services if s.active]}
                 for c in counters if can_use_counter(current_user, c)]
    return render_template("counter/choose.html", desks=desks, site_languages=site.languages)


@blueprint.post("/counter/open")
@login_required
def open_desk():
    """Open the chosen desk for the chosen services and languages (closing any other of theirs)."""
    counter_id = request.form.get("counter", type=int)
    if counter_id is None or not 1 <= counter_id <= MAX_ID:
        raise InvalidInput(_("Choose a desk."), "no_counter")
    with stores().database.session() as session:
        counter_for_staff(session, counter_id)
    services = request.form.getlist("services")
    # isdecimal, not isdigit: int() refuses "²"; and no id is larger than MAX_ID.
    if not all(service.isdecimal() and int(service) <= MAX_ID for service in services):
        raise InvalidInput(_("'services' must be a list of service ids."), "invalid_services")
    stores().engine.open_counter(
        counter_id, current_user.id, service_ids=[int(s) for s in services] or None,
        languages=request.form.getlist("languages") or None)
    return redirect(url_for("counter.workstation", counter_id=counter_id))


@blueprint.get("/counter/<id:counter_id>")
@login_required
def workstation(counter_id):
    """The desk's screen: Call next, the ticket at the desk, the queue behind it."""
    with stores().database.session() as session:
        counter = counter_for_staff(session, counter_id)
        use_staff_language(counter.site.language)
        services = session.scalars(select(Service).where(
            Service.site_id == counter.site_id, Service.offered)
            .options(selectinload(Service.texts)).order_by(Service.position)).all()
        referral_targets = [{"id": s.id, "name": s.text(counter.site.language).name}
                            for s in services]
        site = counter.site
        now = stores().engine.clock()
        booking = {
            "services": bookable_services(session, site.id, site.language),
            "languages": site.languages, "site_language": site.language,
            "today": OpeningHours.of(site).local_day(now).isoformat(),
            "upcoming": desk_appointments(session, counter_id, site.language, now,
                                          check_in_window(current_app.config))}
    view = counter_view(stores().engine, counter_id, counter.site.language)
    # The visitor at the desk is most likely the one to book for: their language first.
    booking["language"] = view["current"]["ticket"]["language"] if view["current"] \
        else booking["site_language"]
    return render_template("counter/workstation.html", view=view,
                           referral_targets=referral_targets, site_id=counter.site_id,
                           site_languages=counter.site.languages, booking=booking)


@blueprint.get("/counter/<id:counter_id>/appointments/<id:appointment_id>/print")
@login_required
def print_appointment(counter_id, appointment_id):
    """The slip for a visitor booked at this desk, in their language: code, time, QR; printed."""
    with stores().database.session() as session:
        counter = counter_for_staff(session, counter_id)
        slip = printable_appointment(session, counter.site_id, appointment_id,
                                     check_in_window(current_app.config))
    # The slip is the visitor's: their language and direction, not the staff member's.
    g.language = slip["language"]
    return render_template("counter/appointment_print.html", slip=slip,
                           manage_url=manage_url(slip["token"]))
