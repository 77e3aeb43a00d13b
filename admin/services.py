"""Administration: services and the kiosk's categories.

A service's page has its settings and, side by side, its texts in every site language
(each input marked with its language and direction, so Arabic and Farsi are typed right
to left), each with its "checked by a native speaker" mark; then its appointment slots.
Retiring a service stops issuing it at once and lets its waiting visitors be served
(tessera.sites.retirement). An organisation manager sees and edits their organisations'
services only; categories are the admin's. tessera.sites.editing validates each change,
records its audit entry, and refuses a bad value with a message for its field.
"""

from collections.abc import Callable

from flask import abort, current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import BooleanField, SelectField, StringField, TextAreaField

from admin import blueprint, now, render_admin, require, viewer
from admin.staff import CheckboxesField
from tessera.errors import InvalidInput, TesseraError
from tessera.languages import direction, language_name
from tessera.models import Category, Organisation, Service, Step
from tessera.sites.catalogue import get_site, translated
from tessera.sites.editing import (
    CATEGORY_ICONS,
    begin_retiring,
    category_form_values,
    parts_of,
    save_category,
    save_service,
    service_desks,
    service_form_values,
)
from tessera.sites.retirement import OPEN_STEP_STATES, open_steps, pending_appointments
from tessera.staff.permissions import Action, may
from tessera.status.appointments import check_in_window
from tessera.stores import stores
from tessera.web.i18n import use_staff_language


def in_staff_language(action: Action, organisations=()) -> str:
    """403 unless the viewer may take `action`; the messages in their language. The site
    language is returned (the one every name must have)."""
    require(action, organisations)
    with stores().database.session() as session:
        site = get_site(session, current_user.site_id)
        use_staff_language(site.language)
        return site.language


def add_language_fields(form_class: type, languages: list[str], texts: bool,
                        checked: bool = True) -> type:
    """Give a form class the fields of each language: a name (and, for a service, its
    description and what to bring), and the "checked by a native speaker" mark."""
    for code in languages:
        marks = {"lang": code, "dir": direction(code)}
        setattr(form_class, f"name_{code}", StringField(lazy_gettext("Name"), render_kw=marks))
        if texts:
            setattr(form_class, f"description_{code}", TextAreaField(
                lazy_gettext("Plain-language description"), render_kw={**marks, "rows": 3}))
            setattr(form_class, f"bring_{code}", TextAreaField(
                lazy_gettext("What to bring"), render_kw={**marks, "rows": 2}))
        if checked:
            setattr(form_class, f"checked_{code}", BooleanField(
                lazy_gettext("Checked by a native speaker")))
    return form_class


def languages_shown(site) -> list[dict]:
    """The site languages for a form's columns: code, own name, direction, and whether it
    is the site language (whose name is required)."""
    return [{"code": code, "name": language_name(code), "direction": direction(code),
             "required": code == site.language} for code in site.languages]


def submit(form: FlaskForm, change: Callable) -> bool:
    """On a valid POST, `change(session, values)` in one transaction; whether it saved.

    A refusal puts each field's message on its field (the rest, and any other refusal,
    on the whole form) and nothing is saved.
    """
    if not form.validate_on_submit():
        return False
    try:
        with stores().database.session() as session:
            change(session, form.data)
    except InvalidInput as refusal:
        fields = refusal.details.get("fields") or {}
        for name, message in fields.items():
            field = getattr(form, name, None)
            (field.errors if field is not None else form.form_errors).append(message)
        if not fields:
            form.form_errors.append(refusal.message)
        return False
    except TesseraError as refusal:
        form.form_errors.append(refusal.message)
        return False
    return True


def status_of(form: FlaskForm) -> int:
    """422 for a form sent back with mistakes, else 200."""
    return 422 if request.method == "POST" else 200


# Services -----------------------------------------------------------------------

class ServiceFormBase(FlaskForm):
    """A service's settings; the texts per language are added per site."""

    key = StringField(lazy_gettext("Identifier"))
    organisation = SelectField(lazy_gettext("Organisation"), validate_choice=False)
    category = SelectField(lazy_gettext("Category on the kiosk"), validate_choice=False)
    prefix = StringField(lazy_gettext("Ticket letter"), render_kw={"maxlength": 1,
                                                                   "autocapitalize": "characters"})
    target_wait = StringField(lazy_gettext("Target wait (minutes)"),
                              render_kw={"inputmode": "numeric"})
    handling = StringField(lazy_gettext("Usual handling time (minutes)"),
                           render_kw={"inputmode": "decimal"})
    position = StringField(lazy_gettext("Order on the kiosk"), render_kw={"inputmode": "numeric"})
    walk_in = BooleanField(lazy_gettext("Takes walk-in visitors"))
    by_appointment = BooleanField(lazy_gettext("Takes appointments"))
    slots = BooleanField(lazy_gettext("Visitors book slots online or at a desk"))
    slot_minutes = StringField(lazy_gettext("Slot length (minutes)"),
                               render_kw={"inputmode": "numeric"})
    places = StringField(lazy_gettext("Visitors per slot"), render_kw={"inputmode": "numeric"})
    horizon_days = StringField(lazy_gettext("Book at most this many days ahead"),
                               render_kw={"inputmode": "numeric"})
    notice_minutes = StringField(lazy_gettext("Book at least this many minutes ahead"),
                                 render_kw={"inputmode": "numeric"})
    hold_minutes = StringField(lazy_gettext("Minutes a chosen slot is held"),
                               render_kw={"inputmode": "numeric"})
    hours = TextAreaField(lazy_gettext("Appointment hours"), render_kw={"rows": 4, "dir": "ltr"})
    closed_dates = StringField(lazy_gettext("No appointments on these dates"),
                               render_kw={"dir": "ltr"})
    desks = CheckboxesField(lazy_gettext("Desks kept for appointments"), validate_choice=False)


def _service_form(session, site, service: Service | None) -> FlaskForm:
    form_class = add_language_fields(type("ServiceForm", (ServiceFormBase,), {}),
                                     list(site.languages), texts=True)
    if service is None:
        defaults = {"walk_in": True, "target_wait": "30", "handling": "10", "position": "0",
                    f"checked_{site.language}": True, "slot_minutes": "20",
                    "places": "1", "horizon_days": "30", "notice_minutes": "60",
                    "hold_minutes": "10"}
        form = form_class(data=defaults)
    else:
        form = form_class(data=service_form_values(service))
    language = site.language
    form.organisation.choices = [
        (str(organisation.id), translated(organisation.name, language, site))
        for organisation in parts_of(session, Organisation, site.id)
        if may(current_user, Action.MANAGE_SERVICES, site.id, [organisation.id])]
    form.category.choices = [("", _("None (shown under 'Other')"))] + [
        (str(category.id), translated(category.name, language, site))
        for category in parts_of(session, Category, site.id)]
    form.desks.choices = [(counter.key, translated(counter.name, language, site))
                          for counter in service_desks(session, service)]
    return form


def _own_organisations() -> list[int]:
    return [organisation.id for organisation in current_user.organisations]


@blueprint.get("/services")
@login_required
def service_list():
    """The services the viewer may manage, in the kiosk's order, with their state."""
    language = in_staff_language(Action.MANAGE_SERVICES, _own_organisations())
    with stores().database.session() as session:
        site = get_site(session, current_user.site_id)
        counts = open_steps(session, site.id)
        rows = []
        for service in parts_of(session, Service, site.id, lambda service: may(
                current_user, Action.MANAGE_SERVICES, site.id, [service.organisation_id])):
            unchecked = [(text.language, language_name(text.language))
                         for text in sorted(service.texts, key=lambda text: text.language)
                         if not text.checked]
            rows.append({
                "id": service.id, "key": service.key, "prefix": service.prefix,
                "name": service.text(language).name, "active": service.active,
                "retiring": service.retiring, "open_steps": counts.get(service.id, 0),
                "organisation": translated(service.organisation.name, language, site),
                "category": translated(service.category.name, language, site)
                if service.category else None,
                "walk_in": service.walk_in, "by_appointment": service.by_appointment,
                "target_wait": service.target_wait_minutes, "unchecked": unchecked,
                "desks": len(service_desks(session, service))})
        rows.sort(key=lambda row: not row["active"])  # the retired ones last
        may_create = any(may(current_user, Action.MANAGE_SERVICES, site.id, [organisation.id])
                         for organisation in parts_of(session, Organisation, site.id))
    return render_admin("admin/service_list.html", rows=rows, may_create=may_create)


@blueprint.route("/services/new", methods=["GET", "POST"])
@login_required
def service_new():
    """A new service."""
    in_staff_language(Action.MANAGE_SERVICES, _own_organisations())
    with stores().database.session() as session:
        site = get_site(session, current_user.site_id)
        form = _service_form(session, site, None)
        languages = languages_shown(site)
    saved = []

    def change(session, values):
        saved.append(save_service(session, viewer(), current_user.site_id, None, values,
                                  now()).id)

    if submit(form, change):
        flash(_("The service was created. Add it to a desk so that it can be served."),
              "success")
        return redirect(url_for("admin.service_edit", service_id=saved[0]))
    return render_admin("admin/service_form.html", form=form, service=None,
                        languages=languages), status_of(form)


@blueprint.route("/services/<int:service_id>", methods=["GET", "POST"])
@login_required
def service_edit(service_id):
    """One service's settings, texts and appointment slots."""
    service, site = _managed_service(service_id)
    with stores().database.session() as session:
        service = session.get(Service, service_id)
        form = _service_form(session, site, service)
        summary = {"id": service.id, "name": service.text(site.language).name,
                   "key": service.key, "active": service.active, "retiring": service.retiring}
        languages = languages_shown(site)

    def change(session, values):
        save_service(session, viewer(), current_user.site_id, service_id, values, now())

    if summary["active"] and submit(form, change):
        flash(_("The service was saved."), "success")
        return redirect(url_for("admin.service_edit", service_id=service_id))
    return render_admin("admin/service_form.html", form=form, service=summary,
                        languages=languages), status_of(form)


def _managed_service(service_id: int):
    """The service and its site, 404 if not this site's, 403 if not the viewer's to manage."""
    with stores().database.session() as session:
        site = get_site(session, current_user.site_id)
        service = session.get(Service, service_id)
        if service is None or service.site_id != site.id:
            require(Action.MANAGE_SERVICES, _own_organisations())
            abort(404)
        require(Action.MANAGE_SERVICES, [service.organisation_id])
        use_staff_language(site.language)
        return service, site


class RetireForm(FlaskForm):
    """Just the CSRF token: a retirement is confirmed with a button."""


@blueprint.route("/services/<int:service_id>/retire", methods=["GET", "POST"])
@login_required
def service_retire(service_id):
    """Retire a service: what it would strand (visitors waiting, booked appointments), then
    the button; it stops being issued at once, and is inactive when its last visitor is."""
    _service, site = _managed_service(service_id)
    form = RetireForm()

    def change(session, _values):
        begin_retiring(session, viewer(), service_id, now(),
                       check_in_window(current_app.config).late_minutes)

    if submit(form, change):
        flash(_("The service is no longer issued. It will be marked inactive when its last "
                "waiting visitor has been served."), "success")
        return redirect(url_for("admin.service_list"))
    with stores().database.session() as session:
        service = session.get(Service, service_id)
        waiting = session.scalar(select(func.count()).select_from(Step).where(
            Step.service_id == service_id, Step.state.in_(OPEN_STEP_STATES)))
        appointments = [{"code": appointment.code, "start": appointment.start,
                         "state": appointment.state.value}
                        for appointment in pending_appointments(
                            session, service, now(),
                            check_in_window(current_app.config).late_minutes)]
        summary = {"id": service.id, "name": service.text(site.language).name,
                   "active": service.active, "retiring": service.retiring,
                   "desks": [translated(counter.name, site.language, site)
                             for counter in service_desks(session, service)]}
    return render_admin("admin/service_retire.html", form=form, service=summary,
                        waiting=waiting, appointments=appointments,
                        timezone=site.timezone), status_of(form)


# Categories ---------------------------------------------------------------------

class CategoryFormBase(FlaskForm):
    """A category's settings; its names per language are added per site."""

    key = StringField(lazy_gettext("Identifier"))
    icon = SelectField(lazy_gettext("Icon"), validate_choice=False)
    position = StringField(lazy_gettext("Order on the kiosk"), render_kw={"inputmode": "numeric"})
    parent = SelectField(lazy_gettext("Inside the category"), validate_choice=False)


def _category_form(session, site, category: Category | None) -> FlaskForm:
    form_class = add_language_fields(type("CategoryForm", (CategoryFormBase,), {}),
                                     list(site.languages), texts=False)
    form = form_class(data=category_form_values(category) if category else {
        "position": "0", f"checked_{site.language}": True, "icon": CATEGORY_ICONS[0]})
    icons = list(CATEGORY_ICONS)
    if category is not None and category.icon not in icons:
        icons.append(category.icon)  # one a site file set: kept as it is
    form.icon.choices = [(icon, icon) for icon in icons]
    form.parent.choices = [("", _("None: at the top"))] + [
        (str(other.id), translated(other.name, site.language, site))
        for other in parts_of(session, Category, site.id)
        if category is None or other.id != category.id]
    return form


@blueprint.get("/categories")
@login_required
def category_list():
    """The kiosk's category tree, in its order."""
    language = in_staff_language(Action.MANAGE_CATEGORIES)
    with stores().database.session() as session:
        site = get_site(session, current_user.site_id)
        categories = parts_of(session, Category, site.id)
        names = {category.id: translated(category.name, language, site)
                 for category in categories}
        served = dict(session.execute(select(Service.category_id, func.count()).where(
            Service.site_id == site.id, Service.offered).group_by(Service.category_id)).all())
        rows = [{"id": category.id, "key": category.key, "icon": category.icon,
                 "name": names[category.id], "position": category.position,
                 "parent": names.get(category.parent_id), "services": served.get(category.id, 0),
                 "unchecked": [(code, language_name(code))
                               for code in category.unchecked_languages]}
                for category in categories]
    return render_admin("admin/category_list.html", rows=rows)


@blueprint.route("/categories/new", methods=["GET", "POST"])
@login_required
def category_new():
    """A new category."""
    return _category_page(None)


@blueprint.route("/categories/<int:category_id>", methods=["GET", "POST"])
@login_required
def category_edit(category_id):
    """One category's icon, order, place in the tree and names."""
    return _category_page(category_id)


def _category_page(category_id: int | None):
    in_staff_language(Action.MANAGE_CATEGORIES)
    with stores().database.session() as session:
        site = get_site(session, current_user.site_id)
        category = session.get(Category, category_id) if category_id else None
        if category_id is not None and (category is None or category.site_id != site.id):
            abort(404)
        form = _category_form(session, site, category)
        summary = {"id": category.id, "name": translated(category.name, site.language, site),
                   "key": category.key} if category else None
        languages = languages_shown(site)

    def change(session, values):
        save_category(session, viewer(), current_user.site_id, category_id, values, now())

    if submit(form, change):
        flash(_("The category was saved."), "success")
        return redirect(url_for("admin.category_list"))
    return render_admin("admin/category_form.html", form=form, category=summary,
                        languages=languages), status_of(form)
