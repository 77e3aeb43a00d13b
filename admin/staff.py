"""Administration: staff accounts (being built)."""

from flask_login import login_required

from admin import blueprint, render_admin, require
from tessera.staff.permissions import Action


@blueprint.get("/staff")
@login_required
def staff_list():
    """The list of staff accounts."""
    require(Action.VIEW_ADMIN)
    return render_admin("admin/index.html")
