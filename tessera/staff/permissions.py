"""Who may do what: the one place every permission is decided.

Staff act only at their own site; a member of staff only at counters that serve
one of their organisations' services; managers and admins anywhere at their site.
"""

from tessera.models import Counter, Role, Staff


def can_use_counter(staff: Staff, counter: Counter) -> bool:
    """Whether `staff` may call and serve at `counter`."""
    if staff.site_id != counter.site_id:
        return False
    if staff.role in (Role.MANAGER, Role.ADMIN):
        return True
    organisations = {organisation.id for organisation in staff.organisations}
    return any(service.organisation_id in organisations for service in counter.services)


def can_manage(staff: Staff, site_id: str) -> bool:
    """Whether `staff` may see a site's manager view."""
    return staff.site_id == site_id and staff.role in (Role.MANAGER, Role.ADMIN)
