"""/admin/staff: the accounts list, a new account with its one-time set-password link,
editing, deactivation, password resets and ending sessions; who may do each."""

import re

import pytest
from sqlalchemy import func, select

from tessera.errors import Conflict
from tessera.models import Event, Staff, StaffToken
from tessera.staff.accounts import deactivate_staff
from tessera.staff.auth import issue_token

from .helpers import read_pages_in, sign_in

NEW_PASSWORD = "seven orange kites over the harbour"


@pytest.fixture(autouse=True)
def english_pages(redis_client, database, admins):
    """Everyone reads the pages in English (the site's language is Greek); and Redis is
    emptied, so that the sign-in rate limits of earlier tests do not carry over."""
    for username in admins:
        read_pages_in(database, username, "en")


def token(client, path="/admin/"):
    """The session's CSRF token, from a page with a form."""
    page = client.get(path)
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text).group(1)


def post(client, path, data=None, csrf_from="/admin/staff"):
    """A form post with the session's CSRF token."""
    return client.post(path, data={"csrf_token": token(client, csrf_from), **(data or {})})


def fresh(make_client):
    """A new client of the test's one app (building an app per client costs time, and
    each app makes its own SECRET_KEY, which signs the set-password links)."""
    if not hasattr(make_client, "app"):
        make_client.app = make_client().application
    return make_client.app.test_client()


def signed_in(make_client, username):
    """A client signed in as `username`."""
    client = fresh(make_client)
    assert sign_in(client, username).status_code == 302
    return client


def entries(database, kind):
    """The audit entries of `kind`, oldest first, as (actor id, data)."""
    with database.session() as session:
        return [(event.staff_id, event.data) for event in session.scalars(
            select(Event).where(Event.kind == kind).order_by(Event.id))]


def staff_count(database) -> int:
    """How many accounts there are, at every site."""
    with database.session() as session:
        return session.scalar(select(func.count()).select_from(Staff))


def link_path(page) -> str:
    """The set-password link a page shows, as a path."""
    return re.search(r"/set-password/[A-Za-z0-9_.\-]+", page.text).group(0)


def routes(staff):
    """Every staff route of /admin, as (method, path), about `staff`'s maria."""
    maria = staff["maria"].id
    return [("GET", "/admin/staff"), ("GET", "/admin/staff/new"), ("POST", "/admin/staff/new"),
            ("GET", f"/admin/staff/{maria}"), ("POST", f"/admin/staff/{maria}"),
            *[("POST", f"/admin/staff/{maria}/{action}")
              for action in ("deactivate", "reactivate", "end-sessions", "reset-password")]]


def admin_entries(database) -> list:
    """Every audit entry other than sign-ins."""
    with database.session() as session:
        return list(session.scalars(select(Event.kind).where(
            Event.kind.not_in(("signed_in", "sign_in_failed")))))


@pytest.mark.parametrize("username", ["kostas", "maria"])
def test_managers_and_staff_are_refused_every_staff_route(make_client, admins, database,
                                                          username):
    client = signed_in(make_client, username)
    csrf, recorded = token(client, "/counter"), admin_entries(database)
    for method, path in routes(admins):
        answer = client.open(path, method=method, data={
            "csrf_token": csrf, "display_name": "Hacked", "role": "admin",
            "username": "intruder", "languages": ["el"]})
        assert answer.status_code == 403, (method, path)
    assert client.get("/admin/audit").status_code == 403
    assert fresh(make_client).get("/admin/staff").status_code == 302   # nobody signed in
    # Nothing changed.
    with database.session() as session:
        maria = session.get(Staff, admins["maria"].id)
        assert (maria.display_name, maria.role, maria.active) == ("Maria", "staff", True)
    assert admin_entries(database) == recorded


def test_admins_and_organisation_managers_reach_what_they_administer(make_client, admins):
    anna = signed_in(make_client, "anna")
    for method, path in routes(admins):
        if method == "GET":
            assert anna.get(path).status_code == 200, path
    for username in ("leila", "kostas", "omar"):
        assert anna.get(f"/admin/staff/{admins[username].id}").status_code == 200

    omar = signed_in(make_client, "omar")
    assert omar.get(f"/admin/staff/{admins['maria'].id}").status_code == 200
    listed = omar.get("/admin/staff").text
    assert "Maria" in listed and "Leila" not in listed and "Kostas" not in listed
    # Not legal's member of staff, not the site's manager or admin: not even to look.
    for username in ("leila", "kostas", "anna"):
        account = admins[username].id
        assert omar.get(f"/admin/staff/{account}").status_code == 403
        assert post(omar, f"/admin/staff/{account}/deactivate").status_code == 403
    assert omar.get("/admin/audit").status_code == 403   # the admins' alone


def test_the_list_searches_and_filters(make_client, admins):
    anna = signed_in(make_client, "anna")

    def names(**filters):
        page = anna.get("/admin/staff", query_string=filters).text
        return set(re.findall(r'/admin/staff/\d+">([^<]+)</a>', page))

    assert names() == {"Maria", "Leila", "Kostas", "Anna", "Omar"}
    assert names(q="MARI") == {"Maria"}
    assert names(q="ost") == {"Kostas"}            # the username or the name
    assert names(role="manager") == {"Kostas"}
    assert names(organisation="municipality") == {"Maria", "Omar"}
    assert names(state="inactive") == set()
    post(anna, f"/admin/staff/{admins['leila'].id}/deactivate")
    assert names(state="inactive") == {"Leila"}
    assert names(state="active", organisation="legal") == set()
    refused = anna.get("/admin/staff", query_string={"role": "boss"})
    assert refused.status_code == 422 and "Not a valid choice" in refused.text


def test_a_new_account_gets_a_link_that_sets_its_password_once(make_client, admins,
                                                               database, clock):
    anna = signed_in(make_client, "anna")
    created = post(anna, "/admin/staff/new", {
        "username": "nikos", "display_name": "Nikos", "role": "staff",
        "organisations": ["municipality"], "languages": ["el", "ar"]})
    assert created.status_code == 200 and "It works once, for 48 hours" in created.text
    with database.session() as session:
        nikos = session.scalars(select(Staff).where(Staff.username == "nikos")).one()
        assert (nikos.role, nikos.languages) == ("staff", ["el", "ar"])
        assert [organisation.key for organisation in nikos.organisations] == ["municipality"]
    [(actor, data)] = [entry for entry in entries(database, "staff_created")
                       if entry[1]["subject"]["username"] == "nikos"]
    assert actor == admins["anna"].id
    assert data["after"] == {"username": "nikos", "display_name": "Nikos", "role": "staff",
                             "organisations": ["municipality"], "languages": ["el", "ar"],
                             "active": True}

    visitor, path = fresh(make_client), link_path(created)
    form = visitor.get(path)
    assert form.status_code == 200 and "nikos" in form.text
    assert '<meta name="referrer" content="no-referrer">' in form.text
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form.text).group(1)
    for password, confirm, message in [
            ("nikos nikos nikos", "nikos nikos nikos", "too easy to guess"),
            ("short", "short", "at least 12 characters"),
            (NEW_PASSWORD, NEW_PASSWORD + "!", "The two passwords differ.")]:
        refused = visitor.post(path, data={"csrf_token": csrf, "password": password,
                                           "confirm": confirm})
        assert refused.status_code == 422 and message in refused.text
    assert entries(database, "password_set") == []
    # Without its CSRF token the form is refused too.
    assert visitor.post(path, data={"password": NEW_PASSWORD,
                                    "confirm": NEW_PASSWORD}).status_code == 422
    done = visitor.post(path, data={"csrf_token": csrf, "password": NEW_PASSWORD,
                                    "confirm": NEW_PASSWORD})
    assert done.status_code == 200 and "Your password is set" in done.text
    assert sign_in(fresh(make_client), "nikos", NEW_PASSWORD).status_code == 302
    used = visitor.get(path)
    assert used.status_code == 404 and "has expired or has been used" in used.text
    [(actor, data)] = entries(database, "password_set")
    assert actor == nikos.id and data["method"] == "link"
    with database.session() as session:
        recorded = str([event.data for event in session.scalars(select(Event))])
    assert NEW_PASSWORD not in recorded and "$argon2" not in recorded


def test_bad_inputs_for_a_new_account_save_nothing(make_client, admins, database):
    anna, omar = signed_in(make_client, "anna"), signed_in(make_client, "omar")
    good = {"username": "nikos", "display_name": "Nikos", "role": "staff",
            "organisations": ["municipality"], "languages": ["el"]}
    before = staff_count(database)
    for client, changes, status, message in [
            (anna, {"username": "maria"}, 409, "The username &#39;maria&#39; is taken."),
            (anna, {"username": "ni kos"}, 422, "without spaces"),
            (anna, {"display_name": ""}, 422, "This field is required."),
            (anna, {"role": "boss"}, 422, "Not a valid choice"),
            (anna, {"languages": ["fr"]}, 422, "not a valid choice"),
            (anna, {"organisations": ["nowhere"]}, 422, "not a valid choice"),
            # An organisation manager gives only their roles, their organisations.
            (omar, {"role": "admin"}, 422, "Not a valid choice"),
            (omar, {"organisations": ["legal"]}, 422, "not a valid choice"),
            (omar, {"organisations": []}, 403, "You may not give this role")]:
        refused = post(client, "/admin/staff/new", {**good, **changes})
        assert refused.status_code == status, changes
        assert message in refused.text, changes
    assert staff_count(database) == before
    assert len(entries(database, "staff_created")) == before
    # The organisation manager's own good request goes through.
    assert post(omar, "/admin/staff/new", good).status_code == 200


def test_editing_an_account_records_what_changed(make_client, admins, database):
    anna = signed_in(make_client, "anna")
    maria = admins["maria"].id
    saved = post(anna, f"/admin/staff/{maria}", {
        "display_name": "Maria P.", "role": "organisation_manager",
        "organisations": ["municipality", "legal"], "languages": ["el", "en"]})
    assert saved.status_code == 303
    assert "Saved." in anna.get(saved.headers["Location"]).text
    [(actor, data)] = entries(database, "staff_changed")
    assert actor == admins["anna"].id
    assert data["before"] == {"display_name": "Maria", "role": "staff",
                              "organisations": ["municipality"], "languages": ["el"]}
    assert data["after"] == {"display_name": "Maria P.", "role": "organisation_manager",
                             "organisations": ["legal", "municipality"],
                             "languages": ["el", "en"]}
    assert data["subject"] == {"staff": maria, "username": "maria"}

    # A bad value: the form again with its message, and nothing saved.
    for changes, message in [({"display_name": ""}, "This field is required."),
                             ({"languages": ["fr"]}, "not a valid choice")]:
        refused = post(anna, f"/admin/staff/{maria}", {
            "display_name": "Maria", "role": "staff", "organisations": ["municipality"],
            "languages": ["el"], **changes})
        assert refused.status_code == 422 and message in refused.text
    with database.session() as session:
        assert session.get(Staff, maria).display_name == "Maria P."
    assert len(entries(database, "staff_changed")) == 1


def test_nobody_locks_themselves_or_the_site_out(make_client, admins, database, clock):
    anna = signed_in(make_client, "anna")
    own = admins["anna"].id
    demoted = post(anna, f"/admin/staff/{own}", {"display_name": "Anna", "role": "manager",
                                                  "languages": ["el"]})
    assert demoted.status_code == 409 and "your own role" in demoted.text
    left = post(anna, f"/admin/staff/{own}/deactivate")
    assert left.status_code == 409 and "deactivate your own account" in left.text
    # The command line may deactivate anyone but the last active admin.
    with database.session() as session, pytest.raises(Conflict, match="last active admin"):
        deactivate_staff(session, "anna", clock())
    with database.session() as session:
        anna_row = session.get(Staff, own)
        assert (anna_row.role, anna_row.active) == ("admin", True)
    assert entries(database, "staff_changed") == entries(database, "staff_deactivated") == []


def test_deactivating_and_ending_sessions_sign_the_account_out(make_client, admins,
                                                               database, clock):
    anna, maria = signed_in(make_client, "anna"), signed_in(make_client, "maria")
    account = admins["maria"].id
    with database.session() as session:
        issue_token(session, session.get(Staff, account), "script", now=clock())
    assert maria.get("/admin/").status_code == 403      # signed in, not an admin

    ended = post(anna, f"/admin/staff/{account}/end-sessions")
    assert ended.status_code == 303
    assert maria.get("/admin/").status_code == 302      # signed out: to the sign-in page
    with database.session() as session:
        assert session.scalars(select(StaffToken.revoked)).all() == [True]
    [(actor, data)] = entries(database, "staff_sessions_ended")
    assert actor == admins["anna"].id
    assert (data["sessions_ended"], data["tokens_revoked"]) == (1, 1)

    assert post(anna, f"/admin/staff/{account}/deactivate").status_code == 303
    assert sign_in(fresh(make_client), "maria").status_code == 401
    [(_, data)] = entries(database, "staff_deactivated")
    assert (data["before"], data["after"]) == ({"active": True}, {"active": False})
    again = post(anna, f"/admin/staff/{account}/deactivate")
    assert again.status_code == 409 and "already deactivated" in again.text

    assert post(anna, f"/admin/staff/{account}/reactivate").status_code == 303
    assert sign_in(fresh(make_client), "maria").status_code == 302
    [(actor, data)] = entries(database, "staff_reactivated")
    assert (actor, data["before"], data["after"]) == (
        admins["anna"].id, {"active": False}, {"active": True})


def test_a_reset_link_works_once_for_48_hours_and_only_the_latest(make_client, admins,
                                                                   database, clock):
    anna, maria = signed_in(make_client, "anna"), signed_in(make_client, "maria")
    account = admins["maria"].id
    first = link_path(post(anna, f"/admin/staff/{account}/reset-password"))
    # The old password and the open session stop at once.
    assert maria.get("/admin/").status_code == 302
    assert sign_in(fresh(make_client), "maria").status_code == 401
    second = link_path(post(anna, f"/admin/staff/{account}/reset-password"))
    visitor = fresh(make_client)
    assert visitor.get(first).status_code == 404        # replaced by the newer link
    assert visitor.get(second).status_code == 200
    clock.advance(hours=48, seconds=1)
    assert visitor.get(second).status_code == 404       # expired
    [reset, _] = entries(database, "password_reset")
    assert reset[0] == admins["anna"].id and reset[1]["method"] == "link"
    assert "password_hash" not in str(reset[1])
