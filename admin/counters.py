"""Administration: desks (counters).

A desk has a name in each site language, an optional zone (the hall display it is
announced on), the services it serves and the languages usually spoken there. Retiring
a desk goes through the queue engine's close path: a ticket called there goes back to
waiting at its place, and the desk becomes inactive; it is refused while a visitor is
served there or while it is the last desk of a service whose visitors wait
(tessera.sites.retirement). Admins only.
"""

from flask import abort, flash, redirect, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import StringField

from admin import blueprint, now, render_admin, viewer
from admin.services import (
    RetireForm,
    add_language_fields,
    in_staff_language,
    languages_shown,
    status_of,
    submit,
)
from admin.staff import CheckboxesField
from tessera.errors import TesseraError
from tessera.languages import language_name
from tessera.models import Counter, Service, Step, StepState
from tessera.sites.catalogue import get_site, translated
from tessera.sites.editing import counter_form_values, parts_of, save_counter
from tessera.sites.retirement import retire_counter, stranded
from tessera.staff.permissions import Action
from tessera.stores import stores


class CounterFormBase(FlaskForm):
    """A desk's settings; its names per language are added per site."""

    key = StringField(lazy_gettext("Identifier"))
    zone = StringField(lazy_gettext("Zone"))
    services = CheckboxesField(lazy_gettext("Services served here"), validate_choice=False)
    languages = CheckboxesField(lazy_gettext("Languages usually spoken here"),
                                validate_choice=False)


def _counter_form(session, site, counter: Counter | None) -> FlaskForm:
    form_class = add_language_fields(type("CounterForm", (CounterFormBase,), {}),
                                     list(site.languages), texts=False, checked=False)
    form = form_class(data=counter_form_values(counter) if counter else {})
    current = {service.id for service in counter.services} if counter else set()
    form.services.choices = [
        (str(service.id), service.text(site.language).name)
        for service in parts_of(session, Service, site.id,
                                lambda service: service.offered or service.id in current)]
    form.languages.choices = [(code, language_name(code)) for code in site.languages]
    return form


@blueprint.get("/desks")
@login_required
def counter_list():
    """The site's desks, with their services, languages and whether they are on duty."""
    language = in_staff_language(Action.MANAGE_COUNTERS)
    with stores().database.session() as session:
        site = get_site(session, current_user.site_id)
        rows = [{"id": counter.id, "key": counter.key, "active": counter.active,
                 "name": translated(counter.name, language, site), "zone": counter.zone,
                 "status": counter.status.value,
                 "services": [service.text(language).name for service in counter.services
                              if service.active],
                 "languages": [language_name(code) for code in counter.languages]}
                for counter in parts_of(session, Counter, site.id)]
    rows.sort(key=lambda row: not row["active"])  # the retired ones last
    return render_admin("admin/counter_list.html", rows=rows)


@blueprint.route("/desks/new", methods=["GET", "POST"])
@login_required
def counter_new():
    """A new desk (closed until staff open it)."""
    return _counter_page(None)


@blueprint.route("/desks/<int:counter_id>", methods=["GET", "POST"])
@login_required
def counter_edit(counter_id):
    """One desk's names, zone, services and languages."""
    return _counter_page(counter_id)


def _counter(session, site, counter_id: int) -> Counter:
    counter = session.get(Counter, counter_id)
    if counter is None or counter.site_id != site.id:
        abort(404)
    return counter


def _counter_page(counter_id: int | None):
    in_staff_language(Action.MANAGE_COUNTERS)
    with stores().database.session() as session:
        site = get_site(session, current_user.site_id)
        counter = _counter(session, site, counter_id) if counter_id else None
        form = _counter_form(session, site, counter)
        summary = {"id": counter.id, "key": counter.key, "active": counter.active,
                   "name": translated(counter.name, site.language, site),
                   "status": counter.status.value} if counter else None
        languages = languages_shown(site)
    saved = []

    def change(session, values):
        saved.append(save_counter(session, viewer(), current_user.site_id, counter_id, values,
                                  now()).id)

    if (summary is None or summary["active"]) and submit(form, change):
        # An open desk's duty changes at once in the live state, not at its next call.
        stores().engine.refresh_duty(saved[0])
        flash(_("The desk was saved."), "success")
        return redirect(url_for("admin.counter_list"))
    return render_admin("admin/counter_form.html", form=form, counter=summary,
                        languages=languages), status_of(form)


@blueprint.route("/desks/<int:counter_id>/retire", methods=["GET", "POST"])
@login_required
def counter_retire(counter_id):
    """Retire a desk: what it holds now and what would be left without a desk, then the
    button (refused while it would strand waiting visitors)."""
    in_staff_language(Action.MANAGE_COUNTERS)
    form = RetireForm()
    if form.validate_on_submit():
        try:
            retire_counter(stores().engine, viewer(), counter_id)
        except TesseraError as refusal:
            form.form_errors.append(refusal.message)
        else:
            flash(_("The desk was retired."), "success")
            return redirect(url_for("admin.counter_list"))
    with stores().database.session() as session:
        site = get_site(session, current_user.site_id)
        counter = _counter(session, site, counter_id)
        held = session.scalars(select(Step).where(
            Step.counter_id == counter.id,
            Step.state.in_((StepState.CALLED, StepState.SERVING)))).first()
        summary = {"id": counter.id, "name": translated(counter.name, site.language, site),
                   "active": counter.active, "status": counter.status.value,
                   "held": {"number": held.ticket.number, "state": held.state.value}
                   if held else None,
                   "stranded": [(service.text(site.language).name, count) for service, count
                                in stranded(session, site.id, {counter.id: ()})],
                   "alone": _services_left_without_desk(session, counter)}
    return render_admin("admin/counter_retire.html", form=form, counter=summary), \
        status_of(form)


def _services_left_without_desk(session, counter: Counter) -> list[str]:
    """The offered services that no other active desk serves (a warning: visitors could
    still take tickets for them that nobody calls)."""
    others = {service.id for other in session.scalars(select(Counter).where(
        Counter.site_id == counter.site_id, Counter.active, Counter.id != counter.id))
        for service in other.services}
    return [service.text(counter.site.language).name for service in counter.services
            if service.offered and service.id not in others]
