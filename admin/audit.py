"""Administration: audit trail (being built)."""

from flask_login import login_required

from admin import blueprint, render_admin, require
from tessera.staff.permissions import Action


@blueprint.get("/audit")
@login_required
def audit_list():
    """The list of audit trail."""
    require(Action.VIEW_ADMIN)
    return render_admin("admin/index.html")
