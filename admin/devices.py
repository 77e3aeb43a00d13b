"""Administration: devices (being built)."""

from flask_login import login_required

from admin import blueprint, render_admin, require
from tessera.staff.permissions import Action


@blueprint.get("/devices")
@login_required
def device_list():
    """The list of devices."""
    require(Action.VIEW_ADMIN)
    return render_admin("admin/index.html")
