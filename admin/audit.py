"""Administration: the audit trail (admins only).

Sign-ins, administrative changes and device pairings, newest first, filtered by what
kind of entry, who acted, and the days (in the site's time zone); fifty a page, each
change with its fields before and after.
"""

import datetime as dt
from zoneinfo import ZoneInfo

from flask import request, url_for
from flask_babel import lazy_gettext
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import DateField, SelectChoice, SelectField
from wtforms.validators import Optional, ValidationError

from admin import blueprint, render_admin, require
from tessera.audit import ADMIN_KINDS, AUDIT_KINDS, DEVICE_KINDS, SIGN_IN_KINDS, list_audit
from tessera.clock import local_time
from tessera.models import Staff
from tessera.sites.catalogue import get_site
from tessera.staff.permissions import Action
from tessera.stores import stores
from tessera.web.i18n import use_staff_language

PAGE_SIZE = 50
# The filter's groups of kinds.
GROUPS = {"": AUDIT_KINDS, "sign_ins": SIGN_IN_KINDS, "changes": ADMIN_KINDS,
          "devices": DEVICE_KINDS}
GROUP_LABELS = [SelectChoice("", lazy_gettext("Everything")),
                SelectChoice("sign_ins", lazy_gettext("Sign-ins")),
                SelectChoice("changes", lazy_gettext("Administrative changes")),
                SelectChoice("devices", lazy_gettext("Devices"))]
# What each kind of entry is called; a kind missing here shows as it is.
KIND_LABELS = {
    "signed_in": lazy_gettext("Signed in"),
    "sign_in_failed": lazy_gettext("Sign-in failed"),
    "signed_in_oidc": lazy_gettext("Signed in through single sign-on"),
    "device_registered": lazy_gettext("Device registered"),
    "device_paired": lazy_gettext("Device paired"),
    "device_revoked": lazy_gettext("Device revoked"),
    "staff_created": lazy_gettext("Account created"),
    "staff_changed": lazy_gettext("Account changed"),
    "staff_deactivated": lazy_gettext("Account deactivated"),
    "staff_reactivated": lazy_gettext("Account reactivated"),
    "password_reset": lazy_gettext("Password reset"),
    "password_set": lazy_gettext("Password chosen"),
    "staff_sessions_ended": lazy_gettext("Signed out everywhere"),
    "service_created": lazy_gettext("Service created"),
    "service_changed": lazy_gettext("Service changed"),
    "service_retiring": lazy_gettext("Service retiring"),
    "service_retired": lazy_gettext("Service retired"),
    "category_created": lazy_gettext("Category created"),
    "category_changed": lazy_gettext("Category changed"),
    "counter_created": lazy_gettext("Desk created"),
    "counter_changed": lazy_gettext("Desk changed"),
    "counter_retired": lazy_gettext("Desk retired"),
    "device_changed": lazy_gettext("Device changed"),
}

# The names of the fields an entry shows before and after; a field missing here shows
# by its own name.
FIELD_LABELS = {
    "username": lazy_gettext("Username"),
    "display_name": lazy_gettext("Name"),
    "role": lazy_gettext("Role"),
    "organisations": lazy_gettext("Organisations"),
    "languages": lazy_gettext("Languages they speak"),
    "active": lazy_gettext("Active"),
}


class AuditFilterForm(FlaskForm):
    """The filters, read from the address (a GET form changes nothing: no CSRF token)."""

    class Meta:
        csrf = False

    kind = SelectField(lazy_gettext("What"), choices=GROUP_LABELS, default="")
    actor = SelectField(lazy_gettext("Who"), default="")
    since = DateField(lazy_gettext("From (day)"), validators=[Optional()])
    until = DateField(lazy_gettext("Until (day, included)"), validators=[Optional()])

    def validate_until(self, field):
        """The period must not end before it starts."""
        if field.data and self.since.data and field.data < self.since.data:
            raise ValidationError(lazy_gettext("The last day comes before the first."))


def _utc_midnight(day: dt.date, timezone: str) -> dt.datetime:
    """The site's local midnight starting `day`, as naive UTC."""
    return (dt.datetime.combine(day, dt.time(), tzinfo=ZoneInfo(timezone))
            .astimezone(dt.UTC).replace(tzinfo=None))


def _page_number() -> int:
    try:
        return max(1, int(request.args.get("page", "1")))
    except ValueError:
        return 1


@blueprint.get("/audit")
@login_required
def audit_list():
    """The audit trail, newest first, as the filters narrow it."""
    require(Action.VIEW_AUDIT)
    with stores().database.session() as session:
        site = get_site(session, current_user.site_id)
        timezone = site.timezone
        # Before the form validates: its messages are in the reader's language too.
        use_staff_language(site.language)
        actors = [SelectChoice(str(staff_id), username) for staff_id, username in session.execute(
            select(Staff.id, Staff.username).where(Staff.site_id == site.id)
            .order_by(Staff.username))]
    form = AuditFilterForm(formdata=request.args)
    form.actor.choices = [SelectChoice("", lazy_gettext("Anyone")), *actors]
    page, entries, more = _page_number(), [], False
    valid = form.validate()
    if valid:
        with stores().database.session() as session:
            found = list_audit(
                session, current_user.site_id, kinds=GROUPS[form.kind.data],
                actor_id=int(form.actor.data) if form.actor.data else None,
                since=_utc_midnight(form.since.data, timezone) if form.since.data else None,
                until=(_utc_midnight(form.until.data + dt.timedelta(days=1), timezone)
                       if form.until.data else None),
                limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE)
        more, entries = len(found) > PAGE_SIZE, found[:PAGE_SIZE]
    arguments = {name: value for name, value in request.args.items() if name != "page"}
    return render_admin(
        "admin/audit_list.html", form=form, kind_labels=KIND_LABELS, field_labels=FIELD_LABELS,
        rows=[_row(entry, timezone) for entry in entries],
        newer=url_for("admin.audit_list", **arguments, page=page - 1) if page > 1 else None,
        older=url_for("admin.audit_list", **arguments, page=page + 1) if more else None,
        page=page), 200 if valid else 422


def _row(entry, timezone: str) -> dict:
    """One entry as the page shows it: local time, and each changed field's before/after."""
    before, after = entry.before or {}, entry.after or {}
    return {"at": local_time(entry.at, timezone).strftime("%Y-%m-%d %H:%M:%S"),
            "kind": entry.kind, "actor": entry.actor,
            "subject": _subject(entry.subject),
            # A creation has no "before": its fields are shown as they were made.
            "created": entry.before is None,
            "changes": [(name, before.get(name), after.get(name))
                        for name in dict.fromkeys([*before, *after])],
            "details": sorted(entry.details.items())}


def _subject(subject: dict) -> str:
    """What an entry concerns, by the name people know it by (a username, a key)."""
    for name in ("username", "key", "name"):
        if subject.get(name):
            return str(subject[name])
    return ", ".join(f"{name}: {value}" for name, value in subject.items())
