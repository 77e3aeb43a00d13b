"""The audit trail: sign-ins and the command line's changes are recorded, and
/admin/audit lists and filters the entries (admins only, see test_admin_staff)."""

import datetime as dt

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from tessera.audit import record_audit
from tessera.models import Event, Site, Staff
from tessera.staff.accounts import record_sign_in, update_staff

from .helpers import read_pages_in, sign_in

WRONG = "not the password of anyone"


@pytest.fixture(autouse=True)
def fresh_redis(redis_client):
    """No sign-in rate limit left over from earlier tests."""


def events(database, kind):
    """The entries of `kind`, oldest first: (site, actor id, data)."""
    with database.session() as session:
        return [(event.site_id, event.staff_id, event.data) for event in session.scalars(
            select(Event).where(Event.kind == kind).order_by(Event.id))]


def test_sign_ins_are_recorded_with_the_address_and_never_the_password(client, admins,
                                                                       database):
    assert sign_in(client, "anna").status_code == 302
    assert sign_in(client, "maria", WRONG).status_code == 401
    assert sign_in(client, "nobody", WRONG).status_code == 401

    [(site, actor, data)] = events(database, "signed_in")
    assert (site, actor) == ("small", admins["anna"].id)
    assert data == {"subject": {"staff": admins["anna"].id, "username": "anna"},
                    "before": None, "after": None, "address": "127.0.0.1"}
    known, stranger = events(database, "sign_in_failed")
    # Nobody is known to have acted; the username tried says whose account it was.
    assert known[:2] == ("small", None)
    assert known[2]["subject"] == {"staff": admins["maria"].id, "username": "maria"}
    # A username nobody has: at the only site there is.
    assert stranger[:2] == ("small", None)
    assert stranger[2]["subject"] == {"username": "nobody"}
    with database.session() as session:
        recorded = str([event.data for event in session.scalars(select(Event))])
    assert WRONG not in recorded and "correct horse" not in recorded


def test_a_strangers_sign_in_is_not_recorded_when_there_are_several_sites(database, site,
                                                                          clock):
    with database.session() as session:
        session.add(Site(id="other", name={"en": "Other"}, timezone="Europe/Athens",
                         language="en", languages=["en"]))
    with database.session() as session:
        assert record_sign_in(session, "nobody", "10.0.0.1", clock(), None) is False
    assert events(database, "sign_in_failed") == []


def test_the_command_line_records_its_changes_with_no_actor(database, database_url, site,
                                                            redis_url, monkeypatch):
    from tessera import cli

    monkeypatch.setattr(cli.Config, "DATABASE_URL", database_url)
    monkeypatch.setattr(cli.Config, "REDIS_URL", redis_url)
    runner = CliRunner()
    created = runner.invoke(cli.cli, [
        "create-staff", "--site", "small", "--username", "omar", "--name", "Omar",
        "--role", "organisation_manager", "--organisation", "municipality"])
    assert created.exit_code == 0, created.output
    changed = runner.invoke(cli.cli, ["set-password", "omar", "--password-stdin"],
                            input="seven orange kites over the harbour\n")
    assert changed.exit_code == 0, changed.output
    weak = runner.invoke(cli.cli, ["set-password", "omar", "--password-stdin"],
                         input="password1234\n")
    assert weak.exit_code != 0 and "This is a very common password." in weak.output
    assert runner.invoke(cli.cli, ["deactivate-staff", "omar"]).exit_code == 0

    [(_, actor, data)] = events(database, "staff_created")
    assert actor is None and data["after"]["role"] == "organisation_manager"
    [(_, actor, data)] = events(database, "password_reset")
    assert actor is None and data["method"] == "given"
    assert "kites" not in str(data)
    [(_, actor, data)] = events(database, "staff_deactivated")
    assert actor is None and data["after"] == {"active": False}


@pytest.fixture
def anna(client, admins, database, clock):
    """The admin, signed in and reading English, with some history: her sign-in, a failed
    one, her change to Maria's name, and a kiosk paired two days ago."""
    read_pages_in(database, "anna", "en")
    assert sign_in(client, "anna").status_code == 302
    sign_in(client, "maria", WRONG)
    assert sign_in(client, "anna").status_code == 302
    with database.session() as session:
        maria = session.get(Staff, admins["maria"].id)
        update_staff(session, maria, display_name="Maria P.", role="staff",
                     organisations=["municipality"], languages=["el"],
                     actor=admins["anna"], now=clock())
        record_audit(session, "small", "device_paired", clock() - dt.timedelta(days=2),
                     actor_id=admins["anna"].id, subject={"device": 1, "key": "entrance"})
    return client


def test_the_audit_page_filters_by_kind_actor_and_days(anna, admins):
    def shown(**filters):
        page = anna.get("/admin/audit", query_string=filters)
        assert page.status_code == 200, page.text
        return page.text

    everything = shown()
    for label in ("Signed in", "Sign-in failed", "Account changed", "Device paired",
                  "Account created"):
        assert label in everything
    assert "was Maria, now Maria P." in everything

    sign_ins = shown(kind="sign_ins")
    assert "Sign-in failed" in sign_ins and "Account changed" not in sign_ins
    changes = shown(kind="changes")
    assert "Account changed" in changes and "Signed in" not in changes
    devices = shown(kind="devices")
    assert "Device paired" in devices and "entrance" in devices
    assert "Account changed" not in devices
    by_anna = shown(actor=str(admins["anna"].id))
    assert "Account changed" in by_anna and "Sign-in failed" not in by_anna

    # The days are the site's (Athens); the clock's today is 2026-11-23.
    recent = shown(since="2026-11-23")
    assert "Account changed" in recent and "Device paired" not in recent
    older = shown(until="2026-11-21")
    assert "Device paired" in older and "Account changed" not in older
    assert "Device paired" in shown(since="2026-11-21", until="2026-11-21")


def test_bad_filters_say_what_is_wrong(anna):
    for filters, message in [({"since": "yesterday"}, "Not a valid date value."),
                             ({"since": "2026-11-23", "until": "2026-11-22"},
                              "The last day comes before the first."),
                             ({"kind": "everything"}, "Not a valid choice"),
                             ({"actor": "999999"}, "Not a valid choice")]:
        page = anna.get("/admin/audit", query_string=filters)
        assert page.status_code == 422 and message in page.text, filters
        assert "<time>" not in page.text


def test_the_audit_trail_pages_by_fifty(anna, database, clock):
    with database.session() as session:
        for number in range(50):
            record_audit(session, "small", "counter_changed", clock(), actor_id=None,
                         subject={"counter": number}, before={"name": "a"},
                         after={"name": "b"})
        total = session.query(Event).filter(Event.kind.in_(
            ("counter_changed", "signed_in", "sign_in_failed", "staff_created",
             "staff_changed", "device_paired"))).count()
    first = anna.get("/admin/audit").text
    assert first.count("<time>") == 50 and "Older entries" in first
    assert "Newer entries" not in first
    second = anna.get("/admin/audit", query_string={"page": 2}).text
    assert second.count("<time>") == total - 50 and "Newer entries" in second
    assert "Older entries" not in second
