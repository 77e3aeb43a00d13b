"""The manager's view: live waits and service levels per service, and who is on duty."""

from flask import Blueprint, current_app, render_template
from flask_login import current_user, login_required

from tessera.models import HALL_MESSAGE_MAX
from tessera.sites.catalogue import get_site
from tessera.status.appointments import check_in_window
from tessera.status.figures import live_stats
from tessera.stores import stores
from tessera.web.auth import require_manager
from tessera.web.i18n import use_staff_language

blueprint = Blueprint("manager", __name__, template_folder="templates", static_folder="static",
                      static_url_path="/manager-static")


@blueprint.get("/manager")
@login_required
def dashboard():
    """The live dashboard of the manager's own site."""
    site_id = current_user.site_id
    require_manager(site_id)
    figures = live_stats(stores().engine, site_id, check_in_window(current_app.config))
    with stores().database.session() as session:
        site = get_site(session, site_id)
        use_staff_language(site.language)
    return render_template("manager/dashboard.html", figures=figures, site_id=site_id,
                           site_languages=site.languages, hall_message=site.hall_message,
                           hall_message_max=HALL_MESSAGE_MAX)


# The reports and planning pages register their routes on this blueprint.
from manager import planning, reports  # noqa: E402, F401
