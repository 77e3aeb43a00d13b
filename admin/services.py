"""Administration: services (being built)."""

from flask_login import login_required

from admin import blueprint, render_admin, require
from tessera.staff.permissions import Action


@blueprint.get("/services")
@login_required
def service_list():
    """The list of services."""
    require(Action.VIEW_ADMIN)
    return render_admin("admin/index.html")


@blueprint.get("/categories")
@login_required
def category_list():
    """The kiosk's category tree."""
    require(Action.MANAGE_CATEGORIES)
    return render_admin("admin/index.html")
