"""/admin/desks: creating, editing and retiring desks; each bad value refused with its
message and nothing saved; an open desk's duty follows its services; admins only."""

import json

import pytest
from sqlalchemy import func, select

from tessera.models import Counter, CounterStatus, Step, StepState
from tessera.queue.live import counters_key

from .helpers import audit_entries, post_form, signed_in

NEW_DESK = {"key": "desk-9", "name_el": "Γραφείο 9", "name_ar": "المكتب ٩", "zone": "upstairs",
            "languages": ["el", "ar"]}


@pytest.fixture(autouse=True)
def empty_redis(redis_client):
    """An emptied Redis: the sign-in rate limits of earlier tests do not carry over."""


def audit_data(database, kind):
    """The audit entries of `kind`, oldest first, as (actor id, data)."""
    return [(actor, data) for _kind, actor, data in audit_entries(database, kind)]


def desk_count(database) -> int:
    with database.session() as session:
        return session.scalar(select(func.count()).select_from(Counter))


def test_an_admin_creates_a_desk(make_client, database, site, admins):
    anna = signed_in(make_client, "anna")
    page = anna.get("/admin/desks/new").text
    assert 'dir="rtl" id="name_ar" lang="ar"' in page
    services = [str(site.services["registration"]), str(site.services["legal_advice"])]
    answer = post_form(anna, "/admin/desks/new", {**NEW_DESK, "services": services})
    assert answer.status_code == 302
    with database.session() as session:
        desk = session.scalars(select(Counter).where(Counter.key == "desk-9")).one()
        assert desk.name == {"el": "Γραφείο 9", "ar": "المكتب ٩"}
        assert (desk.zone, desk.languages, desk.status) == ("upstairs", ["el", "ar"],
                                                            CounterStatus.CLOSED)
        assert sorted(s.key for s in desk.services) == ["legal_advice", "registration"]
    ((actor, data),) = audit_data(database, "counter_created")
    assert actor == admins["anna"].id and data["after"]["zone"] == "upstairs"
    assert "Γραφείο 9" in anna.get("/admin/desks").text


def test_each_bad_desk_value_is_refused_with_its_message_and_nothing_saved(
        make_client, database, site, admins):
    anna = signed_in(make_client, "anna")
    good = {**NEW_DESK, "services": [str(site.services["registration"])]}
    before = desk_count(database)
    for change, field, message in [
            ({"key": "desk-1"}, "key", "taken"), ({"key": "Desk 9"}, "key", "lower-case"),
            ({"name_el": ""}, "name_el", "site language"),
            ({"zone": "Up stairs"}, "zone", "Lower-case"),
            ({"services": []}, "services", "one or more"),
            ({"services": ["99999"]}, "services", "one or more"),
            ({"languages": ["xx"]}, "languages", "site's languages")]:
        answer = post_form(anna, "/admin/desks/new", {**good, **change})
        assert answer.status_code == 422, change
        errors = answer.text.split(f'id="{field}-errors"', 1)[1].split("</ul>")[0]
        assert message in errors.replace("&#39;", "'"), (change, errors)
    assert desk_count(database) == before
    assert audit_data(database, "counter_created") == []


def test_an_open_desks_duty_follows_its_services(make_client, database, site, admins, engine,
                                                 redis_client):
    anna = signed_in(make_client, "anna")
    desk_1 = site.counters["desk-1"]
    engine.open_counter(desk_1, admins["maria"].id)
    form = {"name_el": "Γραφείο 1", "name_en": "Desk 1", "languages": ["el", "en"],
            "services": [str(site.services["registration"])]}
    assert post_form(anna, f"/admin/desks/{desk_1}", form).status_code == 302
    duty = json.loads(redis_client.hget(counters_key(site.id), str(desk_1)))
    assert duty["services"] == [str(site.services["registration"])]
    ((_actor, changed),) = audit_data(database, "counter_changed")
    assert changed["before"] == {"services": ["certificates", "registration"]}
    assert changed["after"] == {"services": ["registration"]}
    # The last desk serving a service where a visitor waits keeps it.
    engine.issue_ticket(site.id, [site.services["legal_advice"]], "el")
    desk_3 = site.counters["desk-3"]
    form = {"name_el": "Γραφείο 3", "zone": "upstairs",
            "services": [str(site.services["registration"])]}
    answer = post_form(anna, f"/admin/desks/{desk_3}", form)
    assert answer.status_code == 422 and "No other desk serves" in answer.text
    with database.session() as session:
        assert [s.key for s in session.get(Counter, desk_3).services] == ["legal_advice"]


def test_retiring_a_desk_from_its_page(make_client, database, site, admins, engine):
    anna = signed_in(make_client, "anna")
    desk_1, desk_3 = site.counters["desk-1"], site.counters["desk-3"]
    ticket = engine.issue_ticket(site.id, [site.services["legal_advice"]], "el")
    page = anna.get(f"/admin/desks/{desk_3}/retire").text
    assert "only desk serving" in page
    refused = post_form(anna, f"/admin/desks/{desk_3}/retire")
    assert refused.status_code == 422 and "No other desk serves" in refused.text
    called = engine.issue_ticket(site.id, [site.services["registration"]], "el")
    engine.open_counter(desk_1, admins["maria"].id)
    engine.call_next(desk_1)
    assert f"ticket {called.number}" in anna.get(f"/admin/desks/{desk_1}/retire").text
    assert post_form(anna, f"/admin/desks/{desk_1}/retire").status_code == 302
    with database.session() as session:
        assert not session.get(Counter, desk_1).active
        assert session.scalars(select(Step.state).where(
            Step.ticket_id == called.id)).one() == StepState.WAITING
        assert session.get(Counter, desk_3).active and ticket.number
    assert [data["subject"]["key"] for _a, data in audit_data(database, "counter_retired")] \
        == ["desk-1"]


def test_only_admins_manage_desks(make_client, site, admins):
    desk = site.counters["desk-1"]
    for username in ("omar", "kostas", "maria"):
        client = signed_in(make_client, username)
        for path in ("/admin/desks", "/admin/desks/new", f"/admin/desks/{desk}",
                     f"/admin/desks/{desk}/retire"):
            assert client.get(path).status_code == 403, (username, path)
