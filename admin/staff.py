"""Administration: staff accounts.

The list (search and filters), a new account, an account's page (name, role,
organisations, languages) and its actions: deactivate or reactivate, reset the password,
end every session and token. A new account and a reset password get a one-time
set-password link, shown once to whoever made it, to pass on; nobody else ever sees or
chooses the password. tessera.staff.accounts checks each change against the permissions
and records it in the audit trail.
"""

from contextlib import suppress

from flask import abort, current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import SearchField, SelectChoice, SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from admin import blueprint, now, render_admin, require, viewer
from tessera.errors import TesseraError
from tessera.languages import current_language, language_name
from tessera.models import Counter, CounterStatus, Organisation, Role
from tessera.sites.catalogue import get_site, translated
from tessera.staff.accounts import (
    PASSWORD_LINK_HOURS,
    StaffFilter,
    create_staff,
    deactivate_staff,
    end_staff_sessions,
    get_account,
    list_staff,
    password_link_token,
    reactivate_staff,
    reset_password_link,
    update_staff,
)
from tessera.staff.permissions import Action, assignable_roles, may, may_administer_account
from tessera.stores import stores
from tessera.web.i18n import use_staff_language

# How each role is called on the pages.
ROLE_LABELS = {
    Role.STAFF: lazy_gettext("Staff at the desks"),
    Role.ORGANISATION_MANAGER: lazy_gettext("Organisation manager"),
    Role.MANAGER: lazy_gettext("Manager"),
    Role.ADMIN: lazy_gettext("Admin"),
}


class CheckboxesField(SelectMultipleField):
    """Several choices as a list of checkboxes (a fieldset in the template)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class StaffForm(FlaskForm):
    """A new account; the choices are filled in per request (what the viewer may give)."""

    username = StringField(lazy_gettext("Username"), validators=[DataRequired(),
                                                                 Length(max=80)])
    display_name = StringField(lazy_gettext("Name shown to colleagues"),
                               validators=[DataRequired(), Length(max=200)])
    role = SelectField(lazy_gettext("Role"))
    organisations = CheckboxesField(lazy_gettext("Organisations"))
    languages = CheckboxesField(lazy_gettext("Languages they speak"))


class EditStaffForm(StaffForm):
    """An existing account: its username stays."""

    username = None


def _own_organisations() -> list[int]:
    return [organisation.id for organisation in current_user.organisations]


def _require_staff_section() -> None:
    """403 unless the viewer may manage staff at all (an admin, or an organisation manager
    of at least one organisation); and the pages' messages in their language."""
    require(Action.MANAGE_STAFF, _own_organisations())
    with stores().database.session() as session:
        use_staff_language(get_site(session, current_user.site_id).language)


def _site_choices() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(organisations the viewer may give, the site's languages) as (value, label)."""
    with stores().database.session() as session:
        site = get_site(session, current_user.site_id)
        organisations = [
            (organisation.key, translated(organisation.name, current_language(), site))
            for organisation in session.scalars(select(Organisation).where(
                Organisation.site_id == site.id).order_by(Organisation.key))
            if may(current_user, Action.MANAGE_STAFF, site.id, [organisation.id])]
        languages = [(code, language_name(code)) for code in site.languages]
    return organisations, languages


def _fill_choices(form: StaffForm) -> StaffForm:
    form.role.choices = [SelectChoice(str(role), str(ROLE_LABELS[role]))
                         for role in assignable_roles(current_user)]
    organisations, languages = _site_choices()
    form.organisations.choices = [SelectChoice(*choice) for choice in organisations]
    form.languages.choices = [SelectChoice(*choice) for choice in languages]
    return form


def _set_password_link(token: str) -> str:
    return url_for("auth.set_password_page", token=token, _external=True)


def _link_page(account_name: str, username: str, token: str, created: bool) -> str:
    return render_admin("admin/staff_link.html", display_name=account_name,
                        username=username, link=_set_password_link(token),
                        hours=PASSWORD_LINK_HOURS, created=created)


class StaffFilterForm(FlaskForm):
    """The list's search and filters, read from the address (a GET form changes nothing:
    no CSRF token)."""

    class Meta:
        csrf = False

    q = SearchField(lazy_gettext("Name or username"), validators=[Length(max=200)])
    role = SelectField(lazy_gettext("Role"), default="")
    organisation = SelectField(lazy_gettext("Organisation"), default="")
    state = SelectField(lazy_gettext("State"), default="", choices=[
        SelectChoice("", lazy_gettext("Active and deactivated")),
        SelectChoice("active", lazy_gettext("Active")),
        SelectChoice("inactive", lazy_gettext("Deactivated"))])


@blueprint.get("/staff")
@login_required
def staff_list():
    """The accounts the viewer may administer, searched by name or username and filtered
    by role, organisation and whether they are active."""
    _require_staff_section()
    organisations, languages = _site_choices()
    form = StaffFilterForm(formdata=request.args)
    form.role.choices = [SelectChoice("", _("Every role")),
                         *[SelectChoice(str(role), str(ROLE_LABELS[role])) for role in Role]]
    form.organisation.choices = [SelectChoice("", _("Every organisation")),
                                 *[SelectChoice(*choice) for choice in organisations]]
    rows, valid = [], form.validate()
    if valid:
        criteria = StaffFilter(search=form.q.data or "", role=form.role.data,
                               organisation=form.organisation.data, state=form.state.data)
        with stores().database.session() as session:
            rows = [{"id": account.id, "username": account.username,
                     "display_name": account.display_name,
                     "role": ROLE_LABELS[account.role], "active": account.active,
                     "organisations": sorted(organisation.key
                                             for organisation in account.organisations),
                     "languages": list(account.languages or [])}
                    for account in list_staff(session, current_user.site_id, criteria,
                                              viewer())]
    return render_admin("admin/staff_list.html", form=form, rows=rows,
                        organisation_names=dict(organisations),
                        language_labels=dict(languages)), 200 if valid else 422


@blueprint.route("/staff/new", methods=["GET", "POST"])
@login_required
def staff_create():
    """A new account; on success, its set-password link, shown this once."""
    _require_staff_section()
    form = _fill_choices(StaffForm())
    errors, status = [], 200
    if form.validate_on_submit():
        try:
            with stores().database.session() as session:
                created_at = now()
                account, _password = create_staff(
                    session, current_user.site_id, form.username.data,
                    form.display_name.data, form.role.data, form.languages.data,
                    form.organisations.data, actor=viewer(), now=created_at)
                # The generated password is never shown: its owner chooses their own.
                token = password_link_token(account, current_app.config["SECRET_KEY"],
                                            created_at)
                name, username = account.display_name, account.username
        except TesseraError as error:
            errors, status = [error.message], error.status
        else:
            return _link_page(name, username, token, created=True)
    elif form.errors:
        status = 422
    return render_admin("admin/staff_form.html", form=form, account=None,
                        errors=errors), status


def _administered(session, staff_id: int):
    """The account, if the viewer may administer it (else 404 or 403)."""
    account = get_account(session, current_user.site_id, staff_id)
    if not may_administer_account(current_user, account):
        abort(403, _("You may not change this account."))
    return account


def _edit_page(staff_id: int, form: EditStaffForm | None = None, errors=(),
               status: int = 200):
    with stores().database.session() as session:
        account = _administered(session, staff_id)
        summary = {"id": account.id, "username": account.username,
                   "display_name": account.display_name, "active": account.active,
                   "self": account.id == current_user.id}
        if form is None:
            form = EditStaffForm(data={
                "display_name": account.display_name, "role": str(account.role),
                "organisations": [organisation.key for organisation in account.organisations],
                "languages": list(account.languages or [])})
    _fill_choices(form)
    return render_admin("admin/staff_form.html", form=form, account=summary,
                        errors=list(errors)), status


@blueprint.route("/staff/<int:staff_id>", methods=["GET", "POST"])
@login_required
def staff_edit(staff_id: int):
    """An account's page: change its name, role, organisations and languages."""
    _require_staff_section()
    if request.method == "GET":
        return _edit_page(staff_id)
    form = _fill_choices(EditStaffForm())
    if not form.validate_on_submit():
        return _edit_page(staff_id, form, status=422)
    try:
        with stores().database.session() as session:
            changed = update_staff(
                session, _administered(session, staff_id),
                display_name=form.display_name.data, role=form.role.data,
                organisations=form.organisations.data, languages=form.languages.data,
                actor=viewer(), now=now())
    except TesseraError as error:
        return _edit_page(staff_id, form, [error.message], error.status)
    flash(_("Saved.") if changed else _("Nothing to save: nothing was changed."), "success")
    return redirect(url_for("admin.staff_edit", staff_id=staff_id), 303)


def _close_desks_of(staff_id: int) -> None:
    """Close the desks a deactivated member of staff holds open, as signing out does: a
    desk with a visitor still being served stays as it is."""
    engine = stores().engine
    with engine.database.session() as session:
        open_desks = list(session.scalars(select(Counter.id).where(
            Counter.staff_id == staff_id, Counter.status != CounterStatus.CLOSED)))
    for counter_id in open_desks:
        with suppress(TesseraError):
            engine.close_counter(counter_id)


def _account_action(staff_id: int, change, message, then=None):
    """Apply a domain change, `change(session, account, now, actor=...)`, to an
    administered account (then `then()`, once it is committed); back to its page with
    `message`, or its page with the refusal (nothing changed)."""
    _require_staff_section()
    try:
        with stores().database.session() as session:
            result = change(session, _administered(session, staff_id), now(),
                            actor=viewer())
    except TesseraError as error:
        return _edit_page(staff_id, errors=[error.message], status=error.status)
    if then is not None:
        then()
    flash(message(result) if callable(message) else message, "success")
    return redirect(url_for("admin.staff_edit", staff_id=staff_id), 303)


@blueprint.post("/staff/<int:staff_id>/deactivate")
@login_required
def staff_deactivate(staff_id: int):
    """Deactivate an account: no more sign-ins, sessions and tokens end, desks close."""
    return _account_action(staff_id, deactivate_staff,
                           _("Deactivated: this account can no longer sign in."),
                           then=lambda: _close_desks_of(staff_id))


@blueprint.post("/staff/<int:staff_id>/reactivate")
@login_required
def staff_reactivate(staff_id: int):
    """Let a deactivated account sign in again."""
    return _account_action(staff_id, reactivate_staff,
                           _("Reactivated: this account can sign in again."))


@blueprint.post("/staff/<int:staff_id>/end-sessions")
@login_required
def staff_end_sessions(staff_id: int):
    """Sign an account out everywhere and revoke its bearer tokens."""
    return _account_action(
        staff_id, end_staff_sessions,
        lambda counts: _("Signed out everywhere: %(sessions)s sessions ended, %(tokens)s "
                         "tokens revoked.", sessions=counts[0], tokens=counts[1]))


@blueprint.post("/staff/<int:staff_id>/reset-password")
@login_required
def staff_reset_password(staff_id: int):
    """Reset the password: the old one stops at once; a set-password link, shown once."""
    _require_staff_section()
    try:
        with stores().database.session() as session:
            account = _administered(session, staff_id)
            token = reset_password_link(session, account, now(),
                                        current_app.config["SECRET_KEY"], actor=viewer())
            name, username = account.display_name, account.username
    except TesseraError as error:
        return _edit_page(staff_id, errors=[error.message], status=error.status)
    return _link_page(name, username, token, created=False)
