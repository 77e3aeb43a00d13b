"""Who may do what: the one place every permission is decided.

Staff act only at their own site; a member of staff only at counters that serve
one of their organisations' services; managers and admins anywhere at their site.

Administration (the /admin pages and what they call) is decided by `may`: an admin may
do everything at their site; an organisation manager may administer the staff and the
services of their own organisations only; managers and staff administer nothing.
"""

import enum
from collections.abc import Collection

from tessera.models import Counter, Role, Staff


class Action(enum.StrEnum):
    """An administrative action, as `may` decides it."""

    VIEW_ADMIN = "view_admin"
    # Scoped: the organisations of the account (before and after the change).
    MANAGE_STAFF = "manage_staff"
    # Scoped: the organisation of the service.
    MANAGE_SERVICES = "manage_services"
    # The rest concern the whole site: shared by every organisation at it.
    MANAGE_CATEGORIES = "manage_categories"
    MANAGE_COUNTERS = "manage_counters"
    MANAGE_DEVICES = "manage_devices"
    VIEW_AUDIT = "view_audit"


# Actions about a part of the site that belongs to one or more organisations.
SCOPED_ACTIONS = frozenset({Action.MANAGE_STAFF, Action.MANAGE_SERVICES})


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


def may(staff: Staff | None, action: Action, site_id: str,
        organisations: Collection[int] = ()) -> bool:
    """Whether `staff` may take the administrative `action` at `site_id`.

    `organisations` are the ids of the organisations the action touches (for a scoped
    action): an organisation manager may act only when every one of them is theirs, and
    never on something that belongs to no organisation.
    """
    if staff is None or not staff.active or staff.site_id != site_id:
        return False
    if staff.role == Role.ADMIN:
        return True
    if staff.role != Role.ORGANISATION_MANAGER:
        return False
    if action == Action.VIEW_ADMIN:
        return True
    if action not in SCOPED_ACTIONS:
        return False
    own = {organisation.id for organisation in staff.organisations}
    touched = set(organisations)
    return bool(touched) and touched <= own


def assignable_roles(staff: Staff) -> list[Role]:
    """The roles `staff` may give an account: an organisation manager cannot make anyone
    more than an organisation manager, so nobody can raise themselves to the whole site."""
    if staff.role == Role.ADMIN:
        return list(Role)
    if staff.role == Role.ORGANISATION_MANAGER:
        return [Role.STAFF, Role.ORGANISATION_MANAGER]
    return []


def may_administer_account(staff: Staff, account: Staff) -> bool:
    """Whether `staff` may change `account` at all: every organisation of the account must
    be theirs to manage, and its role one they could give (an admin: anyone at the site)."""
    if account.role not in assignable_roles(staff):
        return False
    return may(staff, Action.MANAGE_STAFF, account.site_id,
               [organisation.id for organisation in account.organisations])


def may_give(staff: Staff, site_id: str, role: Role, organisations: Collection[int]) -> bool:
    """Whether `staff` may make an account at `site_id` have `role` and these organisations
    (ids): the role one they may give, every organisation theirs to manage."""
    return role in assignable_roles(staff) and may(staff, Action.MANAGE_STAFF, site_id,
                                                   organisations)


def is_lockout(staff: Staff | None, account: Staff, role: Role, active: bool,
               active_admins: int) -> bool:
    """Whether giving `account` this role and state would lock someone out: nobody changes
    their own role or deactivates themselves (someone else must), and the last active
    admin of a site (`active_admins` counts them) stays an active admin. `staff` is None
    on the command line, where only the second rule holds."""
    if staff is not None and staff.id == account.id and (role != account.role or not active):
        return True
    losing_an_admin = (account.active and account.role == Role.ADMIN
                       and (role != Role.ADMIN or not active))
    return losing_an_admin and active_admins <= 1
