"""Administration: desks (being built)."""

from flask_login import login_required

from admin import blueprint, render_admin, require
from tessera.staff.permissions import Action


@blueprint.get("/desks")
@login_required
def counter_list():
    """The list of desks."""
    require(Action.VIEW_ADMIN)
    return render_admin("admin/index.html")
