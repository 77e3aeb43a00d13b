"""Who may do what in the administration: every role against every action, and the
rules about accounts (tessera.staff.permissions, the one place they are decided).

Plain objects, no database: the rules read only the role, site, organisations and state.
"""

import pytest

from tessera.models import Organisation, Role, Staff
from tessera.staff.permissions import (
    SCOPED_ACTIONS,
    Action,
    assignable_roles,
    is_lockout,
    may,
    may_administer_account,
    may_give,
)

MUNICIPALITY, LEGAL = 1, 2
ORGANISATIONS = {MUNICIPALITY: Organisation(id=MUNICIPALITY, site_id="small", key="municipality"),
                 LEGAL: Organisation(id=LEGAL, site_id="small", key="legal")}


def person(role: Role, organisations=(MUNICIPALITY,), *, id=1, site_id="small",
           active=True) -> Staff:
    """A member of staff with `role` in these organisations (ids)."""
    return Staff(id=id, site_id=site_id, username=f"user{id}", display_name=f"User {id}",
                 role=role, active=active,
                 organisations=[ORGANISATIONS[key] for key in organisations])


# What each role may do at its own site, on its own organisations. Written out rather
# than derived: this is the specification the code is held to.
ALLOWED = {
    Role.ADMIN: set(Action),
    Role.ORGANISATION_MANAGER: {Action.VIEW_ADMIN, Action.MANAGE_STAFF,
                                Action.MANAGE_SERVICES},
    Role.MANAGER: set(),
    Role.STAFF: set(),
}


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("role", list(Role))
def test_every_role_against_every_action(role, action):
    staff = person(role)
    scope = [MUNICIPALITY] if action in SCOPED_ACTIONS else []
    assert may(staff, action, "small", scope) is (action in ALLOWED[role])
    # Never at another site, never when deactivated, never when nobody is signed in.
    assert may(staff, action, "other", scope) is False
    assert may(person(role, active=False), action, "small", scope) is False
    assert may(None, action, "small", scope) is False


@pytest.mark.parametrize("action", sorted(SCOPED_ACTIONS))
@pytest.mark.parametrize(("touched", "admin", "organisation_manager"), [
    ([MUNICIPALITY], True, True),
    ([LEGAL], True, False),
    ([MUNICIPALITY, LEGAL], True, False),  # every organisation touched must be theirs
    ([], True, False),                     # nor what belongs to no organisation
])
def test_scoped_actions_reach_only_the_organisation_managers_organisations(
        action, touched, admin, organisation_manager):
    assert may(person(Role.ADMIN, []), action, "small", touched) is admin
    assert may(person(Role.ORGANISATION_MANAGER), action, "small",
               touched) is organisation_manager


def test_the_roles_each_role_may_give():
    assert set(assignable_roles(person(Role.ADMIN))) == set(Role)
    assert set(assignable_roles(person(Role.ORGANISATION_MANAGER))) == {
        Role.STAFF, Role.ORGANISATION_MANAGER}
    assert assignable_roles(person(Role.MANAGER)) == []
    assert assignable_roles(person(Role.STAFF)) == []


@pytest.mark.parametrize(("role", "organisations", "admin", "organisation_manager"), [
    (Role.STAFF, [MUNICIPALITY], True, True),
    (Role.ORGANISATION_MANAGER, [MUNICIPALITY], True, True),
    (Role.STAFF, [LEGAL], True, False),
    (Role.STAFF, [MUNICIPALITY, LEGAL], True, False),
    (Role.STAFF, [], True, False),
    (Role.MANAGER, [], True, False),
    (Role.MANAGER, [MUNICIPALITY], True, False),   # a role they could not give
    (Role.ADMIN, [MUNICIPALITY], True, False),
])
def test_which_accounts_each_role_administers(role, organisations, admin,
                                              organisation_manager):
    account = person(role, organisations, id=9)
    assert may_administer_account(person(Role.ADMIN, []), account) is admin
    assert may_administer_account(person(Role.ORGANISATION_MANAGER), account) \
        is organisation_manager
    assert may_administer_account(person(Role.MANAGER), account) is False
    assert may_administer_account(person(Role.STAFF), account) is False
    # Nobody administers an account of another site.
    assert may_administer_account(person(Role.ADMIN, [], site_id="other"), account) is False


@pytest.mark.parametrize(("giver", "role", "organisations", "expected"), [
    (Role.ADMIN, Role.ADMIN, [], True),
    (Role.ADMIN, Role.MANAGER, [LEGAL], True),
    (Role.ORGANISATION_MANAGER, Role.STAFF, [MUNICIPALITY], True),
    (Role.ORGANISATION_MANAGER, Role.ORGANISATION_MANAGER, [MUNICIPALITY], True),
    (Role.ORGANISATION_MANAGER, Role.MANAGER, [MUNICIPALITY], False),
    (Role.ORGANISATION_MANAGER, Role.ADMIN, [MUNICIPALITY], False),
    (Role.ORGANISATION_MANAGER, Role.STAFF, [LEGAL], False),
    (Role.ORGANISATION_MANAGER, Role.STAFF, [], False),
    (Role.MANAGER, Role.STAFF, [MUNICIPALITY], False),
    (Role.STAFF, Role.STAFF, [MUNICIPALITY], False),
])
def test_what_each_role_may_give_an_account(giver, role, organisations, expected):
    assert may_give(person(giver), "small", role, organisations) is expected


ADMIN = person(Role.ADMIN, [], id=1)
OTHER_ADMIN = person(Role.ADMIN, [], id=2)
CLERK = person(Role.STAFF, id=3)


@pytest.mark.parametrize(("actor", "account", "role", "active", "admins", "expected"), [
    (ADMIN, ADMIN, Role.ADMIN, True, 1, False),         # editing one's own name is fine
    (ADMIN, ADMIN, Role.ADMIN, False, 2, True),         # nobody deactivates themselves
    (ADMIN, ADMIN, Role.MANAGER, True, 2, True),        # nor changes their own role
    (CLERK, CLERK, Role.STAFF, False, 1, True),
    (OTHER_ADMIN, ADMIN, Role.MANAGER, True, 1, True),  # the last admin stays an admin
    (OTHER_ADMIN, ADMIN, Role.ADMIN, False, 1, True),   # and stays active
    (OTHER_ADMIN, ADMIN, Role.MANAGER, True, 2, False),
    (OTHER_ADMIN, ADMIN, Role.ADMIN, False, 2, False),
    (None, ADMIN, Role.ADMIN, False, 1, True),          # the command line too
    (None, ADMIN, Role.ADMIN, False, 2, False),
    (ADMIN, CLERK, Role.STAFF, False, 1, False),
    (ADMIN, CLERK, Role.ADMIN, True, 1, False),
    (ADMIN, person(Role.ADMIN, [], id=4, active=False), Role.STAFF, False, 1, False),
])
def test_nobody_locks_themselves_or_the_site_out(actor, account, role, active, admins,
                                                 expected):
    assert is_lockout(actor, account, role, active, admins) is expected
