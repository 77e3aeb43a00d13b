"""The counter: staff sign in at a desk, call the next ticket, serve, refer; and its API."""

from flask import Blueprint, abort, g, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from tessera.api import is_id, json_object
from tessera.auth import can_use_counter, staff_required
from tessera.catalogue import translated
from tessera.desk import counter_view, desk_step
from tessera.errors import InvalidInput, NotFound
from tessera.models import Counter, Service, Site
from tessera.stores import stores

blueprint = Blueprint("counter", __name__, template_folder="templates", static_folder="static",
                      static_url_path="/counter-static")


def _counter_for_staff(session, counter_id: int) -> Counter:
    """The counter, if the signed-in member of staff may work there (else 404/403)."""
    counter = session.scalars(select(Counter).where(Counter.id == counter_id).options(
        selectinload(Counter.services), selectinload(Counter.site))).first()
    if counter is None or not counter.active:
        raise NotFound(_("There is no counter %(counter)s.", counter=counter_id))
    if not can_use_counter(current_user, counter):
        abort(403, _("You may not work at this desk."))
    return counter


# Pages ----------------------------------------------------------------------

@blueprint.get("/counter")
@login_required
def choose_desk():
    """Pick a desk and what you serve there today."""
    engine = stores().engine
    with engine.database.session() as session:
        site = session.get(Site, current_user.site_id)
        g.language = site.language
        counters = session.scalars(
            select(Counter).where(Counter.site_id == site.id, Counter.active)
            .options(selectinload(Counter.services).selectinload(Service.texts))
            .order_by(Counter.id)).all()
        desks = [{"id": c.id, "name": translated(c.name, site.language, site),
                  "status": c.status.value, "languages": c.languages,
                  "services": [{"id": s.id, "name": s.text(site.language).name}
                               for s in c.services if s.active]}
                 for c in counters if can_use_counter(current_user, c)]
    return render_template("counter/choose.html", desks=desks, site_languages=site.languages,
                           staff_languages=current_user.languages)


@blueprint.post("/counter/open")
@login_required
def open_desk():
    """Open the chosen desk for the chosen services and languages."""
    counter_id = request.form.get("counter", type=int)
    if counter_id is None:
        raise InvalidInput(_("Choose a desk."), "no_counter")
    with stores().database.session() as session:
        _counter_for_staff(session, counter_id)
    services = request.form.getlist("services")
    if not all(service.isdigit() for service in services):
        raise InvalidInput(_("'services' must be a list of service ids."), "invalid_services")
    stores().engine.open_counter(
        counter_id, current_user.id, service_ids=[int(s) for s in services] or None,
        languages=request.form.getlist("languages") or None)
    return redirect(url_for("counter.workstation", counter_id=counter_id))


@blueprint.get("/counter/<int:counter_id>")
@login_required
def workstation(counter_id):
    """The desk's screen: Call next, the ticket at the desk, the queue behind it."""
    with stores().database.session() as session:
        counter = _counter_for_staff(session, counter_id)
        g.language = counter.site.language
        services = session.scalars(select(Service).where(
            Service.site_id == counter.site_id, Service.active)
            .options(selectinload(Service.texts)).order_by(Service.position)).all()
        referral_targets = [{"id": s.id, "name": s.text(counter.site.language).name}
                            for s in services]
    view = counter_view(stores().engine, counter_id, counter.site.language)
    return render_template("counter/workstation.html", view=view,
                           referral_targets=referral_targets, site_id=counter.site_id)


# API ------------------------------------------------------------------------

def _act(counter_id: int, method: str, *arguments):
    """Run one engine action at a counter the member of staff may use; answer its new state."""
    engine = stores().engine
    with engine.database.session() as session:
        language = _counter_for_staff(session, counter_id).site.language
    getattr(engine, method)(counter_id, *arguments)
    return jsonify(counter_view(engine, counter_id, language))


@blueprint.get("/api/v1/counters/<int:counter_id>")
@staff_required
def counter_state(counter_id):
    """The counter's duty, the ticket at the desk and the waiting list."""
    with stores().database.session() as session:
        counter = _counter_for_staff(session, counter_id)
    return jsonify(counter_view(stores().engine, counter_id, counter.site.language))


@blueprint.post("/api/v1/counters/<int:counter_id>/call-next")
@staff_required
def call_next(counter_id):
    """200 with the called ticket and step, or 204 when nobody waits for this desk."""
    engine = stores().engine
    with engine.database.session() as session:
        counter = _counter_for_staff(session, counter_id)
    outcome = engine.call_next(counter_id, current_user.id)
    if outcome.step is None:
        headers = {"X-Held": str(outcome.held)}
        if outcome.retry_after is not None:
            headers["Retry-After"] = str(max(1, round(outcome.retry_after)))
        return "", 204, headers
    return jsonify(desk_step(engine, outcome.step.id, counter.site.language))


def _step_action(name: str, method: str):
    """A view for one of the counter's actions on its current step."""

    @staff_required
    def view(counter_id):
        return _act(counter_id, method)

    view.__name__ = name.replace("-", "_")
    view.__doc__ = f"The counter's '{name}' action; answers with the counter's new state."
    return view


for _action, _method in {"recall": "recall", "start": "start", "no-show": "no_show",
                         "finish": "finish", "pause": "pause_counter",
                         "resume": "resume_counter", "close": "close_counter"}.items():
    blueprint.add_url_rule(f"/api/v1/counters/<int:counter_id>/{_action}",
                           view_func=_step_action(_action, _method), methods=["POST"])


@blueprint.post("/api/v1/counters/<int:counter_id>/refer")
@staff_required
def refer(counter_id):
    """Send the visitor on to another service: {service, note}; they keep their place."""
    body = json_object()
    service_id = body.get("service")
    note = body.get("note")
    if not is_id(service_id):
        raise InvalidInput(_("'service' must be a service id."), "invalid_service")
    if note is not None and not isinstance(note, str):
        raise InvalidInput(_("'note' must be text."), "invalid_note")
    return _act(counter_id, "refer", service_id, note)


@blueprint.post("/api/v1/counters/<int:counter_id>/open")
@staff_required
def open_counter(counter_id):
    """Open the counter: {services: [ids], languages: [codes]}, both optional."""
    body = json_object()
    services = body.get("services")
    languages = body.get("languages")
    if services is not None and not (isinstance(services, list) and all(map(is_id, services))):
        raise InvalidInput(_("'services' must be a list of service ids."), "invalid_services")
    if languages is not None and not (isinstance(languages, list)
                                      and all(isinstance(code, str) for code in languages)):
        raise InvalidInput(_("'languages' must be a list of language codes."),
                           "invalid_languages")
    return _act(counter_id, "open_counter", current_user.id, services, languages)
