"""Administration in the browser: staff, services and categories, desks, devices, audit.

Every page is a server-rendered form (CSRF-protected by Flask-WTF) in the member of
staff's language. The routes stay thin: each checks its permission through `require`
(tessera.staff.permissions decides), then calls a domain function that validates,
changes, and records the audit entry in one transaction.
"""

from collections.abc import Collection

from flask import Blueprint, abort, render_template
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from flask_login import current_user, login_required

from tessera.sites.catalogue import get_site
from tessera.staff.permissions import SCOPED_ACTIONS, Action, may
from tessera.stores import stores
from tessera.web.i18n import use_staff_language

blueprint = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates",
                      static_folder="static", static_url_path="/admin-static")


def require(action: Action, organisations: Collection[int] = ()) -> None:
    """403 unless the signed-in member of staff may take `action` at their own site
    (on `organisations`, for an action scoped to organisations)."""
    if not may(current_user, action, current_user.site_id, organisations):
        abort(403, _("You may not do this here."))


def viewer():
    """The signed-in member of staff as an object (the domain functions take no proxy)."""
    return current_user._get_current_object()


def now():
    """The app's clock (naive UTC), which tests move."""
    return stores().engine.clock()


def render_admin(template: str, **context) -> str:
    """An admin page in the member of staff's language, with the site and the sections
    they may open (the navigation shows no section they would be refused)."""
    with stores().database.session() as session:
        site = get_site(session, current_user.site_id)
        use_staff_language(site.language)
        site_languages = list(site.languages)
    own = [organisation.id for organisation in current_user.organisations]
    sections = [(endpoint, label) for endpoint, label, action in SECTIONS
                if may(current_user, action, current_user.site_id,
                       own if action in SCOPED_ACTIONS else ())]
    return render_template(template, site_languages=site_languages,
                           site_id=current_user.site_id, admin_sections=sections, **context)


@blueprint.get("/")
@login_required
def index():
    """The start page: one link per section this member of staff may use."""
    require(Action.VIEW_ADMIN)
    return render_admin("admin/index.html")


# The sections, in the navigation's order: (endpoint, label, the action it needs).
# Staff and services are scoped to organisations: an organisation manager sees those two.
SECTIONS = [
    ("admin.staff_list", lazy_gettext("Staff"), Action.MANAGE_STAFF),
    ("admin.service_list", lazy_gettext("Services"), Action.MANAGE_SERVICES),
    ("admin.category_list", lazy_gettext("Categories"), Action.MANAGE_CATEGORIES),
    ("admin.counter_list", lazy_gettext("Desks"), Action.MANAGE_COUNTERS),
    ("admin.device_list", lazy_gettext("Devices"), Action.MANAGE_DEVICES),
    ("admin.audit_list", lazy_gettext("Audit trail"), Action.VIEW_AUDIT),
]


# Each section registers its routes on this blueprint.
from admin import audit, counters, devices, services, staff  # noqa: E402, F401
