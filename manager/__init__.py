"""The manager's view: live waits and service levels per service, and who is on duty."""

from flask import Blueprint, abort, g, jsonify, render_template
from flask_babel import gettext as _
from flask_login import current_user, login_required

from tessera.auth import can_manage, staff_required
from tessera.catalogue import get_site
from tessera.stats import live_stats
from tessera.stores import stores

blueprint = Blueprint("manager", __name__, template_folder="templates", static_folder="static",
                      static_url_path="/manager-static")


def _require_manager(site_id: str) -> None:
    if not can_manage(current_user, site_id):
        abort(403, _("Only managers of this site may see this."))


@blueprint.get("/api/v1/sites/<site_id>/stats/live")
@staff_required
def stats(site_id):
    """Live figures per service and per counter, for managers."""
    _require_manager(site_id)
    return jsonify(live_stats(stores().engine, site_id))


@blueprint.get("/manager")
@login_required
def dashboard():
    """The live dashboard of the manager's own site."""
    site_id = current_user.site_id
    _require_manager(site_id)
    figures = live_stats(stores().engine, site_id)
    with stores().database.session() as session:
        g.language = get_site(session, site_id).language
    return render_template("manager/dashboard.html", figures=figures, site_id=site_id)
